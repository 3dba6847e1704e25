"""Paired load bench: this working tree against another commit, under the same load at the same time.

Why: on a shared 2-core machine the same code gave 300 push-to-talk calls a p95 of
286 ms in one load bench run (`python -m bench.load`) and 2030 ms a few minutes later (the host's
steal and frequency drift), so runs made one after the other cannot tell a change
of a few tens of milliseconds from the weather. Here both versions run at once,
each with its own load bench (its own server, cloud stand-in and callers),
their callers starting at the same moment (`--start-at`): whatever the machine
does, it does to both.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voicebot REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/compare.py --base HEAD~1 --calls 150 -- --mode push_to_talk

- The other commit is checked out in a temporary git worktree under var/compare/
  (sharing this tree's .venv) and removed afterwards.
- Both sides run this tree's load bench, bench/load/ (the same callers), each against its own
  server: the base side's `scripts/serve.sh` from the worktree.
- Each side gets `--calls` calls and `--workers` workers (default 1): the machine
  carries both, so 150 + 150 is the load of a 300-call run.
- The base side uses the database `<name>_compare` beside DATABASE_URL's (created if
  missing) and the next Redis database number, so the two never share rows or
  admission counts. Without DATABASE_URL both use SQLite files of their own.
- Both sides start from the same bot audio: each gets its own copy of this tree's
  prompt cache (PROMPT_CACHE_DIR, else var/prompt-cache; an empty one each if there
  is none). The base side's fresh worktree would otherwise synthesize lines this tree
  has cached (41 speech requests against 0 in a 150-call run), and a side that
  synthesizes answers later.
- `--base-delay S` starts the base side's callers S seconds after this tree's: where this
  tree's calls have a turn more before the timed ones (a recorded call's consent line,
  about 10 s), the timed answers of both sides then fall at the same moments, and
  neither side's answers meet only the other's ramp (300 calls being set up at once).
- Arguments after `--` go to both load bench runs.
- `--here-server-env KEY=VALUE` (repeatable) sets a server setting on this tree's side
  only: with `--base HEAD` it pairs one setting against its default on the same code,
  e.g. `--base HEAD --here-server-env RECORD_CALLS=1` (call recordings on against off).
Loopback only, like the load bench; prints both sides' figures and the differences.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SETUP_S = 150  # each bench's set-up (migrations, warm-up, clips) ends well within this


def side_database(url: str) -> str:
    """DATABASE_URL of the base side: the same server, database `<name>_compare` (created if missing)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_compare"
    import psycopg

    admin = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def side_redis(url: str) -> str:
    """REDIS_URL of the base side: the next database number on the same server."""
    parts = urlsplit(url)
    db = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{db + 1}"))


def figures(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare this working tree against")
    parser.add_argument("--calls", type=int, default=150, help="calls on each side")
    parser.add_argument("--workers", type=int, default=1, help="workers on each side")
    parser.add_argument("--here-server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="a server setting for this tree's side only (e.g. RECORD_CALLS=1 with --base HEAD)")
    parser.add_argument("--base-delay", type=float, default=0.0, metavar="S",
                        help="start the base side's callers S seconds later (e.g. 10 for RECORD_CALLS=1's consent turn)")
    parser.add_argument("load_args", nargs="*", help="after --: more load bench arguments for both sides (python -m bench.load --help)")
    args = parser.parse_args()

    sha = subprocess.run(["git", "rev-parse", args.base], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    tree = ROOT / "var" / "compare" / sha[:12]
    tree.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "worktree", "add", "--detach", "--force", str(tree), sha], cwd=ROOT, check=True, capture_output=True)
    (tree / ".venv").symlink_to(ROOT / ".venv")
    out = Path(tempfile.mkdtemp(prefix="compare-"))
    env_here = dict(os.environ)
    env_base = dict(os.environ)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        env_base["DATABASE_URL"] = side_database(os.environ["DATABASE_URL"])
    if os.environ.get("REDIS_URL"):
        env_base["REDIS_URL"] = side_redis(os.environ["REDIS_URL"])
    cached = Path(os.environ.get("PROMPT_CACHE_DIR") or ROOT / "var" / "prompt-cache")
    start_at = time.time() + SETUP_S
    runs = []
    try:
        for name, root, env in (("base", tree, env_base), ("here", ROOT, env_here)):
            # This tree's bench (the same callers on both sides) against each side's server.
            prompts = out / f"{name}-prompt-cache"
            if cached.is_dir():
                shutil.copytree(cached, prompts)
            env = {**env, "VAR_DIR": str(root / "var"), "PROMPT_CACHE_DIR": str(prompts)}
            command = [
                sys.executable, "-m", "bench.load", "--calls", str(args.calls), "--workers", str(args.workers),
                "--server-cmd", f"exec {root / 'scripts/serve.sh'}",
                "--start-at", str(start_at + (args.base_delay if name == "base" else 0.0)), "--json", str(out / f"{name}.json"), *args.load_args,
            ]
            if name == "here":
                command += [arg for setting in args.here_server_env for arg in ("--server-env", setting)]
            log = open(out / f"{name}.log", "w")
            runs.append((name, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))
        print(f"base {args.base} ({sha[:12]}) and this tree, {args.calls} calls each, callers start in {SETUP_S} s; logs in {out}", flush=True)
        codes = {name: proc.wait() for name, proc in runs}
    finally:
        for _, proc in runs:
            if proc.poll() is None:
                proc.terminate()
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    base, here = figures(out / "base.json"), figures(out / "here.json")
    print(f"{'':38}{'base':>12}{'this tree':>12}{'change':>10}")
    rows = [("client response p50 ms", "client_ms", "p50"), ("client response p95 ms", "client_ms", "p95"),
            ("client response p99 ms", "client_ms", "p99"), ("server response_ms p95", "server_ms", "p95")]
    for label, key, stat in rows:
        a, b = (base.get(key) or {}).get(stat), (here.get(key) or {}).get(stat)
        change = f"{b - a:+.0f}" if a is not None and b is not None else ""
        print(f"{label:38}{a if a is not None else '-':>12}{b if b is not None else '-':>12}{change:>10}")
    for label, key in (("server CPU (cores busy)", "cpu_cores_busy"), ("server CPU-s per call", "cpu_s_per_call"),
                       ("completed", "completed"), ("failed", "failed"),
                       ("records lost", "records_lost")):
        print(f"{label:38}{base.get(key, '-'):>12}{here.get(key, '-'):>12}")
    print(f"exit codes: base {codes.get('base')}, this tree {codes.get('here')} (the load bench: 1 if a call failed or a record was lost)")
    return max(codes.values()) if codes else 1


if __name__ == "__main__":
    sys.exit(main())
