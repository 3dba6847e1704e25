"""The load bench's figures: printed for a reader, and as JSON for bench/compare.py.

Percentiles are the project's one rule (`calls.percentile`: linear interpolation, as
numpy's default), so a p95 here means what it means on the dashboard.
"""
from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.load.caller import CallResult
from calls.percentile import percentile

TIMELINE_S = 5  # seconds per step of the latency timeline
STAGES = ("asr", "nlu", "tts_first_audio")
CLOCK_STARTS = {"push_to_talk": "end_of_speech", "vad": "end of words", "text": "text sent"}


@dataclass
class Run:
    """What one run measured."""

    calls: int
    mode: str
    workers: int
    engines: str
    ramp: float
    results: list[CallResult]
    lost: list[str]
    wall: float  # seconds from the callers' start to the end
    server_cpu: float  # CPU seconds of the server's process tree
    peak_rss: int
    callers_cpu: float
    stand_in_cpu: float
    scheduling: dict[str, float]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    cloud_requests: dict[str, int] = field(default_factory=dict)
    probe: str = ""
    restart: dict | None = None
    replaced_workers: bool = False  # a rolling restart replaced them: their CPU is not counted


def latency_timeline(ok: list[CallResult]) -> list[tuple[float, int, float]]:
    """(seconds from the first call's start, answers, client p95) per TIMELINE_S of the run,
    by when the caller finished speaking."""
    if not ok:
        return []
    t0 = min(r.started_at for r in ok)
    steps: dict[int, list[float]] = {}
    for r in ok:
        for at, ms in zip(r.answered_at, r.client_ms):
            steps.setdefault(int((at - t0) // TIMELINE_S), []).append(ms)
    return [(k * TIMELINE_S, len(v), percentile(v, 95)) for k, v in sorted(steps.items())]


def summary(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), 1) for q in (50, 95, 99)}}


def backend() -> str:
    name = "PostgreSQL" if "postgres" in os.environ.get("DATABASE_URL", "") else "SQLite"
    return name + (" + Redis" if os.environ.get("REDIS_URL") else "")


def report(run: Run, json_path: Path | None) -> int:
    """Print the figures (and write them to `json_path`); the exit code: 1 if any call
    failed, any record was lost, or the rolling restart failed."""
    ok = [r for r in run.results if r.ok]
    reasons = Counter(r.reason for r in run.results if not r.ok)
    missing = run.calls - len(run.results)
    if missing:
        reasons["no result before --max-seconds"] += missing
    client = [v for r in ok for v in r.client_ms]
    server_ms = [v for r in ok for v in r.server_ms]
    stage_ms = {stage: [v for r in ok for v in r.stages.get(stage, [])] for stage in STAGES}
    failed = run.calls - len(ok)
    print(f"\n== {run.calls} {run.mode} calls at once (ramp {run.ramp:.0f} s), WORKERS={run.workers}, {backend()}, {run.engines}")
    print(f"completed: {len(ok)}   failed: {failed}" + (f"  {dict(reasons)}" if reasons else ""))
    print(f"{'measure':44} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}")
    rows = [(f"client: {CLOCK_STARTS[run.mode]} -> first bot audio", client), ("server: response_ms", server_ms)]
    rows += [(f"  server stage: {stage}_ms", values) for stage, values in stage_ms.items()]
    for name, values in rows:
        if values:
            print(
                f"{name:44} {len(values):>5} {percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                f"{percentile(values, 99):>8.1f} {statistics.fmean(values):>8.1f}"
            )
    by_answer = [[r.client_ms[k] for r in ok if len(r.client_ms) > k] for k in range(max((len(r.client_ms) for r in ok), default=0))]
    if len(by_answer) > 1:  # the first answers come while later callers are still connecting (the ramp)
        print("client p95 by answer: " + ", ".join(f"#{k + 1} {percentile(v, 95):.0f} ms" for k, v in enumerate(by_answer) if v))
    timeline = latency_timeline(ok)
    if timeline:  # where in the run the slow answers came: the ramp, the peak, the calls ending
        print("client p95 over time (s from the first call: answers, p95 ms): "
              + ", ".join(f"{t:.0f}-{t + TIMELINE_S:.0f}: {n}, {p95:.0f}" for t, n, p95 in timeline))
    wall, sched = run.wall, run.scheduling
    print(f"server CPU: {run.server_cpu / wall:.2f} cores busy on average over {wall:.0f} s; peak RSS {run.peak_rss / 2**20:.0f} MiB"
          + (" (workers replaced by the restart: their CPU is not counted)" if run.replaced_workers else ""))
    print(f"load generator CPU: callers {run.callers_cpu / wall:.2f} cores, cloud stand-in {run.stand_in_cpu / wall:.2f} cores")
    print(f"workers' event loops: on a CPU {sched['loop_on_cpu']:.0%} of the time, waiting in the run queue for one "
          f"{sched['loop_waiting_for_cpu']:.0%}; machine: user {sched['machine_user']:.2f}, kernel "
          f"{sched['machine_system']:.2f}, idle {sched['machine_idle']:.2f}, steal {sched['machine_steal']:.2f} cores")
    turns = sum(len(r.server_ms) for r in run.results)
    requests = run.cloud_requests
    if requests and turns:  # early recognition at a caller's pause costs a request even when the caller goes on
        print(f"cloud requests: {requests['openai']} transcriptions ({requests['openai'] / turns:.2f} per answered turn), "
              f"{requests['elevenlabs']} speech")
    before, after = run.load_before, run.load_after
    print(f"machine load (1/5/15 min): before {before[0]:.1f}/{before[1]:.1f}/{before[2]:.1f}, "
          f"after {after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f}  ({os.cpu_count()} cores, shared)")
    if run.probe:
        print(f"one call more while they ran: {run.probe}")
    print(f"records lost: {len(run.lost)} of {len([r for r in run.results if r.seen])} calls ended on the socket")
    for line in run.lost[:10]:
        print(f"  LOST {line}")
    restarted = run.restart
    if restarted is not None:
        print(
            f"rolling restart (scripts/restart.sh): exit {restarted['exit_code']} after {restarted['seconds']} s; calls in "
            f"progress when it began {restarted['calls_in_progress_at_start']}, started during it "
            f"{restarted['calls_started_during']}, in progress when it ended {restarted['calls_in_progress_at_end']}"
        )
        for line in restarted["log"]:
            print(f"  {line}")
    print(f"calls dropped (failed, or records lost): {failed + len(run.lost)}")
    if json_path is not None:
        figures = {
            "calls": run.calls, "mode": run.mode, "workers": run.workers, "backend": backend(), "engines": run.engines,
            "completed": len(ok), "failed": failed, "reasons": dict(reasons), "records_lost": len(run.lost),
            "dropped": failed + len(run.lost),
            "client_ms": summary(client), "server_ms": summary(server_ms),
            "client_p95_timeline": [{"from_s": t, "answers": n, "p95": round(p95, 1)} for t, n, p95 in timeline],
            "stages_ms": {stage: summary(values) for stage, values in stage_ms.items()},
            "cpu_cores_busy": round(run.server_cpu / wall, 2),
            "cpu_s_per_call": round(run.server_cpu / max(len(run.results), 1), 3),
            "scheduling": {k: round(v, 3) for k, v in sched.items()},
            "callers_cpu_cores": round(run.callers_cpu / wall, 2), "stand_in_cpu_cores": round(run.stand_in_cpu / wall, 2),
            "peak_rss_mib": round(run.peak_rss / 2**20), "restart": restarted, "cloud_requests": requests,
        }
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
    restart_ok = restarted is None or restarted["exit_code"] == 0
    return 0 if not reasons and not run.lost and restart_ok else 1
