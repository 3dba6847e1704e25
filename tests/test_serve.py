"""`make serve` (scripts/serve.sh) will not run several workers on per-process state."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SERVE = Path(__file__).resolve().parent.parent / "scripts" / "serve.sh"


def serve(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "WORKERS")}
    return subprocess.run([str(SERVE)], env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_several_workers_without_redis_are_refused():
    result = serve(WORKERS="2", DATABASE_URL="postgres://postgres@127.0.0.1:5432/nowhere")
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and "DATABASE_URL is not" not in result.stderr


def test_several_workers_on_sqlite_are_refused():
    result = serve(WORKERS="3", REDIS_URL="redis://127.0.0.1:6379/15")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "REDIS_URL is not" not in result.stderr


@pytest.mark.parametrize("workers", ["0", "two", "-1"])
def test_a_bad_worker_count_is_refused(workers):
    result = serve(WORKERS=workers)
    assert result.returncode == 2 and "WORKERS" in result.stderr


def test_restart_without_a_running_serve_says_so(tmp_path):
    """`make restart` (scripts/restart.sh) needs a `make serve` with several workers to restart."""
    restart = Path(__file__).resolve().parent.parent / "scripts" / "restart.sh"
    result = subprocess.run([str(restart)], env={**os.environ, "VAR_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "make serve" in result.stderr
