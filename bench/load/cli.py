"""The load bench's run: its options, the set-up, the callers, and the figures at the end."""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path

import bench.load
from bench.latency import VOICES
from bench.load.caller import ANSWERS, CallResult, caller_process, one_call, probe_one_more
from bench.load.procstats import Scheduling, tree_stats
from bench.load.records import verify
from bench.load.report import Run, report
from bench.load.stack import ROOT, CloudStandIn, Restart, start_server, stop, wait_ready
from devtools.liveserver import free_port
from devtools.servers import Network
from devtools.speech import say


def options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=bench.load.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--mode", choices=["push_to_talk", "vad", "text"], default="push_to_talk")
    parser.add_argument("--workers", type=int, default=2, help="WORKERS for scripts/serve.sh")
    parser.add_argument(
        "--server-cmd", default="",
        help="run this shell command as the server instead of scripts/serve.sh (it gets HOST, PORT and "
             "WORKERS in its environment), e.g. to compare an ASGI server's own multi-worker mode",
    )
    parser.add_argument("--local", action="store_true", help="no cloud stand-in: local speech engines")
    parser.add_argument("--asr-ms", type=float, default=150, help="stand-in transcription time")
    parser.add_argument("--tts-ms", type=float, default=80, help="stand-in time to first speech")
    parser.add_argument("--transcript", default="yes, about fifty thousand")
    parser.add_argument("--ramp", type=float, default=10, help="seconds over which calls start")
    parser.add_argument("--procs", type=int, default=0, help="caller processes (default: 1 per 150 calls)")
    parser.add_argument("--release-ms", type=int, default=150)
    parser.add_argument("--call-timeout", type=float, default=120)
    parser.add_argument("--max-seconds", type=float, default=600, help="the bench stops itself after this")
    parser.add_argument("--probe-busy", action="store_true", help="try one call more once all are running")
    parser.add_argument("--server-env", action="append", default=[], help="extra KEY=VALUE for the server")
    parser.add_argument("--restart-after", type=float, default=None, metavar="S",
                        help="rolling restart (make restart) S seconds after the first call starts")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures here as JSON")
    parser.add_argument("--start-at", type=float, default=None, metavar="EPOCH",
                        help="start the callers at this Unix time, once set up (bench/compare.py runs two benches in step)")
    return parser


def server_env(args: argparse.Namespace, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOST="127.0.0.1", PORT=str(port), WORKERS=str(args.workers), SPEECH_WARMUP="1", LOG_LEVEL="WARNING",
        CALL_RATE_LIMIT="1000000", MAX_CALLS_PER_CLIENT="0",
        DRAIN_S="5" if args.restart_after is None else "120",  # a restart lets calls finish
    )
    for pair in args.server_env:
        key, _, value = pair.partition("=")
        env[key] = value
    return env


def warm_up(base: str) -> None:
    """The prompt cache warm (a caller's first line) and the callers' clips made, before the clock starts."""
    for bot in ANSWERS:
        asyncio.run(one_call(Network(base), bot, "en-us", "text", 0, 120))
    for answers in ANSWERS.values():
        for voice in VOICES:
            for text in answers:
                say(text, voice=voice)


def wait_until(start_at: float | None) -> None:
    if start_at is None:
        return
    late = time.time() - start_at
    if late > 0:
        print(f"set-up ended {late:.0f} s after --start-at: starting now", flush=True)
    else:
        time.sleep(-late)


def main() -> int:
    parser = options()
    args = parser.parse_args()
    if args.restart_after is not None and args.workers < 2:
        parser.error("--restart-after needs --workers 2 or more (a rolling restart moves callers between workers)")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(args, port)
    cloud = None
    if args.local:
        for key in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY"):
            env.pop(key, None)
    else:
        cloud = CloudStandIn(args.transcript, args.asr_ms, args.tts_ms)
        env.update(cloud.env)
    log_path = Path(env.get("VAR_DIR") or ROOT / "var") / "bench-server.log"
    command = ["sh", "-c", args.server_cmd] if args.server_cmd else [str(ROOT / "scripts/serve.sh")]
    print(f"server: {args.server_cmd or 'scripts/serve.sh'}, WORKERS={args.workers}, on {base} (log: {log_path})", flush=True)
    server = start_server(command, env, log_path)
    started = time.time()
    requests: dict[str, int] = {}
    try:
        wait_ready(base, server, 180)
        warm_up(base)
        wait_until(args.start_at)
        load_before = os.getloadavg()
        cpu0, _ = tree_stats(server.pid)
        scheduling = Scheduling(server.pid)
        cloud0 = tree_stats(cloud.process.pid)[0] if cloud is not None else 0.0
        wall0 = time.time()
        procs = args.procs or max(1, -(-args.calls // 150))
        queue: mp.Queue = mp.Queue()
        cpu_queue: mp.Queue = mp.Queue()
        t0 = time.time() + 1.0
        opts = {k: getattr(args, k) for k in ("calls", "mode", "ramp", "release_ms", "call_timeout")}
        callers = [
            mp.Process(target=caller_process, args=(base, list(range(p, args.calls, procs)), opts, queue, cpu_queue, t0), daemon=True)
            for p in range(procs)
        ]
        for caller in callers:
            caller.start()
        restart = None
        if args.restart_after is not None:
            restart = Restart(env, t0 + args.restart_after)
            restarter = threading.Thread(target=restart.run, daemon=True)
            restarter.start()
        results: list[CallResult] = []
        peak_rss = 0
        probe = ""
        if args.probe_busy:  # one caller more, once all the others are in their calls
            time.sleep(max(0.0, t0 + args.ramp + 3 - time.time()))
            probe = asyncio.run(probe_one_more(base))
        deadline = started + args.max_seconds
        while len(results) < args.calls and time.time() < deadline:
            try:
                while True:
                    results.append(CallResult(**queue.get(timeout=1)))
            except Exception:
                pass
            peak_rss = max(peak_rss, tree_stats(server.pid)[1])
        if restart is not None:
            restarter.join(max(0.0, deadline - time.time()))
        cpu1, _ = tree_stats(server.pid)
        cloud1 = tree_stats(cloud.process.pid)[0] if cloud is not None else 0.0
        callers_cpu = 0.0
        for _ in callers:
            try:
                callers_cpu += cpu_queue.get(timeout=5)
            except Exception:  # a caller process that did not finish: its CPU is not counted
                pass
        wall = time.time() - wall0
        sched = scheduling.report()
        load_after = os.getloadavg()
        for caller in callers:
            caller.terminate()
        lost = asyncio.run(verify(base, results))
    finally:
        stop(server)
        if cloud is not None:
            requests = cloud.stop()

    engines = "local engines" if args.local else f"cloud stand-in (ASR {args.asr_ms:.0f} ms, first speech {args.tts_ms:.0f} ms)"
    run = Run(
        calls=args.calls, mode=args.mode, workers=args.workers, engines=engines, ramp=args.ramp, results=results,
        lost=lost, wall=wall, server_cpu=cpu1 - cpu0, peak_rss=peak_rss, callers_cpu=callers_cpu,
        stand_in_cpu=cloud1 - cloud0, scheduling=sched, load_before=load_before, load_after=load_after,
        cloud_requests=requests, probe=probe, restart=restart.figures(results) if restart is not None else None,
        replaced_workers=restart is not None,
    )
    return report(run, args.json)


if __name__ == "__main__":
    sys.exit(main())
