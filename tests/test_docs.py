"""The documentation stays true to the tree: links resolve, named files and modules exist,
every setting is documented, and nothing points outside the repository.

The README and docs/ name paths (`calls/runtime/pipeline.py`), modules
(`calls.worker.drain.drain()`) and settings; a file moved or a setting added without
its documentation fails here instead of leaving a reader at a dead end.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "bench" / "RESULTS.md", *(ROOT / "docs").glob("*.md")])
README_MAX_LINES = 300

# Built from parts so this file does not contain what it looks for.
OUTSIDE_REFERENCES = ["../" + "shared/", "/work/" + "wt", "/work/" + "shared"]

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^(```|~~~)")
TOP_DIRS = ("calls", "bots", "config", "dashboard", "devtools", "tests", "bench", "scripts", "deploy", "templates", "static", "docs")
TOP_FILES = {"Makefile", "Dockerfile", "compose.yaml", ".env.example", ".importlinter", "LICENSE", "manage.py",
             "requirements.txt", "requirements-dev.txt", "pytest.ini", ".ci/run"}
REPO_PATH = re.compile(rf"^(?:{'|'.join(TOP_DIRS)})/[\w./-]*$")
MODULE = re.compile(r"^(?:calls|bots|config|dashboard)(?:\.\w+)+(?::\w+)?(?:\(\))?$")
SETTING = re.compile(r"`([A-Z][A-Z0-9_]+)`")
ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=", re.M)


def _prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(path):
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if not match:
            continue
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(anchors)


def _doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_relative_links_resolve(doc: Path):
    broken = []
    for line in _prose(doc):
        for target in LINK.findall(line):
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (doc.parent / file_part).resolve() if file_part else doc
            if not dest.exists() or ROOT not in [dest, *dest.parents]:
                broken.append(f"{target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{_doc_id(doc)}: " + "; ".join(broken)


def _module_exists(name: str) -> bool:
    """`calls.worker.drain`, `calls.worker.drain.drain()`, `config.asgi:application`: the
    longest prefix that is a module, and the rest defined in it."""
    parts = name.removesuffix("()").replace(":", ".").split(".")
    for i in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:i])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if not source.is_file():
            continue
        rest = parts[i:]
        if not rest:
            return True
        if len(rest) > 2:
            return False
        text = source.read_text()
        return bool(re.search(rf"^\s*(?:async def|def|class)\s+{rest[0]}\b|^{rest[0]}\s*[:=]", text, re.M))
    return False


@pytest.mark.parametrize("doc", DOCS, ids=_doc_id)
def test_named_files_and_modules_exist(doc: Path):
    missing = []
    for line in _prose(doc):
        for span in CODE_SPAN.findall(line):
            for word in span.split():
                word = word.rstrip(",;")
                if REPO_PATH.match(word) or word in TOP_FILES:
                    if not (ROOT / word).exists():
                        missing.append(word)
                elif MODULE.match(word) and not _module_exists(word):
                    missing.append(word)
    assert not missing, f"{_doc_id(doc)} names what the tree does not have: {sorted(set(missing))}"


def test_every_setting_is_documented():
    """docs/settings.md's tables and .env.example name the same settings."""
    in_example = set(ENV_LINE.findall((ROOT / ".env.example").read_text()))
    documented = set()
    for line in _prose(ROOT / "docs" / "settings.md"):
        if line.startswith("|") and not line.startswith("|---"):
            documented.update(SETTING.findall(line.split("|")[1]))
    assert in_example - documented == set(), "in .env.example, missing from docs/settings.md"
    assert documented - in_example == set(), "in docs/settings.md, missing from .env.example"


def test_readme_is_the_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; details belong in docs/"
    text = "\n".join(lines)
    assert "make run " in text and "make test " in text
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _repository_files() -> list[Path]:
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        listed = subprocess.run(
            [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")
        return [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    skip = {".git", ".venv", "var", "node_modules", "test-artifacts", "__pycache__"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_nothing_points_outside_the_repository():
    found = []
    for path in _repository_files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary files
        found += [f"{path.relative_to(ROOT)}: {ref}" for ref in OUTSIDE_REFERENCES if ref in text]
    assert not found, "the repository's own docs/protocol.md is the reference: " + "; ".join(found)
