"""The layers of `calls` hold: each imports only the ones below it (.importlinter).

import-linter checks the contracts on the real import graph; django.db is an
external package's subpackage, which it cannot forbid, so the runtime's sources
are read for it here.
"""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_runtime_never_imports_the_database():
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if m == "django.db" or m.startswith("django.db."))
        for path in (ROOT / "calls" / "runtime").rglob("*.py")
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_every_calls_package_says_what_it_may_import():
    for init in (ROOT / "calls").glob("*/__init__.py"):
        if init.parent.name in {"migrations", "management"}:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)} has no docstring saying what it may import"


def test_benches_import_nothing_from_the_tests():
    """What benches and tests share lives in devtools/ (issue 26): a bench never imports tests."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if m == "tests" or m.startswith("tests."))
        for path in (ROOT / "bench").rglob("*.py")
    }
    assert {f: m for f, m in offenders.items() if m} == {}
