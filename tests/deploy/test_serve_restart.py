"""`make restart` replaces the workers of `make serve` one at a time and drops no call.

Issue 14's test: a rolling restart under `make serve` with the load bench (`python -m bench.load`) running
at 50 calls drops 0 calls. The bench starts the production setup itself
(scripts/serve.sh: two workers behind haproxy, on a PostgreSQL database of the
test's own and Redis, cloud speech on its loopback stand-in), runs 50 typed
callers started over 80 s (longer than the restart takes here, so both workers
have calls when they are replaced), each listening to every bot line for as long
as it plays, and 10 s in runs scripts/restart.sh, what `make restart` runs, as an operator
would, with everything started as under nohup (SIGHUP ignored). The bench exits 0
only if every call qualified, every stored record matches
what its socket said, and the restart reported success. The workers' own log shows
that the replaced workers had calls in progress and let all of them finish.

Loopback only; bounded by the bench's --max-seconds and the subprocess timeout.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest

from devtools.liveserver import PYTHON, ROOT

# `speech`: the bot speaks every line through the cloud stand-in, which synthesizes it with espeak-ng;
# the quick check (-m "not speech and not browser") leaves out this two-minute run.
pytestmark = pytest.mark.speech

# A logical database no other test uses (the bench's workers share it); flushed.
REDIS_URL = os.environ.get("TEST_SERVE_REDIS_URL", "redis://127.0.0.1:6379/11")
CALLS = 50


@pytest.fixture
def redis_url():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # this index only
    yield REDIS_URL
    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.mark.timeout(900)
def test_make_restart_with_bench_load_at_50_typed_calls_drops_none(tmp_path, pg_url, redis_url):
    figures_path = tmp_path / "figures.json"
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "VAR_DIR")}
    # VAR_DIR relative to the checkout, as `make serve` uses its default `var`.
    env.update(DATABASE_URL=pg_url, REDIS_URL=redis_url, VAR_DIR=os.path.relpath(tmp_path, ROOT))
    bench = subprocess.run(
        [
            PYTHON, "-m", "bench.load", "--calls", str(CALLS), "--mode", "text", "--workers", "2",
            "--ramp", "80", "--restart-after", "10", "--max-seconds", "600",
            "--json", str(figures_path), "--server-env", "LOG_LEVEL=INFO",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840,
        # As an operator who started it under nohup: SIGHUP ignored, which bash cannot
        # trap (a restart signalled with it was lost and the bench waited for ever).
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    report = bench.stdout[-4000:] + bench.stderr[-2000:]
    assert figures_path.exists(), report
    figures = json.loads(figures_path.read_text())
    assert (figures["completed"], figures["failed"], figures["records_lost"]) == (CALLS, 0, 0), report
    restart = figures["restart"]
    assert restart["exit_code"] == 0, report
    # The restart happened under load: calls were running when it began, more started during it.
    assert restart["calls_in_progress_at_start"] > 0 and restart["calls_started_during"] > 0, report
    assert bench.returncode == 0, report

    # Each replaced worker drained: the calls it was running finished, none was cut at DRAIN_S.
    # (Any after the first two are the new workers stopping with the bench, with no calls.)
    log = (tmp_path / "bench-server.log").read_text(errors="replace")
    drains = [(int(finished), int(ended)) for finished, ended in
              re.findall(r"drained: (\d+) call\(s\) finished, (\d+) ended on shutdown", log)]
    assert len(drains) >= 2, drains
    assert all(ended == 0 for _, ended in drains), drains
    assert sum(finished for finished, _ in drains[:2]) > 0, drains
