"""Metrics overhead benchmark: CPU the Prometheus hooks and scrapes cost, per call and per second.

Runs the hooks of calls/metrics.py exactly as a call fires them (pipeline start,
per turn the four stage latencies and an answer, the stored outcome, pipeline
stop) in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, as under
`make serve`), over realistic label sets (2 bots, 2 modes, 2 channels, 4 providers),
then times `/metrics` rendering (calls.metrics.exposition) over the files of
--workers worker processes. Prints:

- hook CPU per call (microseconds), and per turn;
- scrape CPU (milliseconds per scrape) and its share of one core at --interval;
- with --server-cpu-ms-per-call (the server CPU one call costs, e.g. from
  bench/load: cores busy x seconds / completed calls), the overhead in percent.

    .venv/bin/python bench/metrics_overhead.py --calls 5000 --server-cpu-ms-per-call 180

Process CPU time (time.process_time) is measured, not wall time, so other load on
the machine inflates the figures less; still, report `uptime` next to them.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BOTS = ("quickrupee-loan", "home-renovation")
MODES = ("vad", "push_to_talk")
CHANNELS = ("web", "phone")
PROVIDERS = {"asr": "whisper-local", "nlu": "rules", "tts_first_audio": "piper", "response": "whisper-local"}
QUESTIONS = {"quickrupee-loan": ("salaried", "salary", "metro"), "home-renovation": ("owns_home", "budget", "timeline")}


def one_call(metrics, i: int, turns: int) -> None:
    """The hooks of one call, in the order a call fires them."""
    bot, mode, channel = BOTS[i % 2], MODES[(i // 2) % 2], CHANNELS[(i // 4) % 2]
    metrics.call_started(bot, channel)
    for turn in range(turns):
        metrics.turn_latency(mode, {"asr": 130.0 + turn, "nlu": 0.3, "tts_first_audio": 0.2, "response": 310.0 + i % 400},
                             PROVIDERS)
        question = QUESTIONS[bot][turn % 3]
        metrics.answer_heard(bot, question, understood=bool(i % 7))
    metrics.call_ended(bot, "qualified" if i % 3 else "rejected", "all_answers_qualify" if i % 3 else "not_qualified:salary",
                       40.0 + i % 60)
    metrics.call_left(bot, channel)


WORKER = """
import sys
sys.path.insert(0, {root!r})
from bench.metrics_overhead import one_call
from calls import metrics
for i in range({calls}):
    one_call(metrics, i, 3)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--turns", type=int, default=3, help="answered turns per call")
    parser.add_argument("--workers", type=int, default=4, help="worker processes whose files a scrape reads")
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--interval", type=float, default=15.0, help="scrape interval, seconds")
    parser.add_argument("--server-cpu-ms-per-call", type=float, default=0.0)
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="voicebot-metrics-bench-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory  # before prometheus_client is imported
    sys.path.insert(0, str(ROOT))
    from calls import metrics

    for i in range(50):  # warm: label children created, files mapped
        one_call(metrics, i, args.turns)
    started = time.process_time()
    for i in range(args.calls):
        one_call(metrics, i, args.turns)
    per_call_us = (time.process_time() - started) / args.calls * 1e6

    for _ in range(args.workers - 1):  # the other workers' files
        code = WORKER.format(root=str(ROOT), calls=200)
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    body, _ = metrics.exposition(directory)
    started = time.process_time()
    for _ in range(args.scrapes):
        metrics.exposition(directory)
    per_scrape_ms = (time.process_time() - started) / args.scrapes * 1000
    files = len(list(Path(directory).glob("*.db")))
    lines = body.count(b"\n")

    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
    print(f"hooks: {per_call_us:.1f} us CPU per call ({args.turns} turns; {per_call_us / args.turns:.1f} us per turn), "
          f"multiprocess mode, {args.calls} calls")
    print(f"scrape: {per_scrape_ms:.2f} ms CPU per /metrics render, {len(body)} bytes, "
          f"{lines} lines, {files} files of {args.workers} workers; "
          f"{per_scrape_ms / (args.interval * 1000) * 100:.3f} % of one core at one scrape per {args.interval:g} s")
    if args.server_cpu_ms_per_call:
        share = per_call_us / 1000 / args.server_cpu_ms_per_call * 100
        print(f"overhead: {share:.3f} % of the server CPU per call "
              f"({per_call_us / 1000:.3f} ms of {args.server_cpu_ms_per_call:g} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
