"""What one call costs a worker: CPU seconds and memory, for sizing containers
(deploy/k8s/deployment.yaml's requests/limits, compose.yaml's limits).

Starts its own worker (`python -m config.server`, SQLite in a temporary VAR_DIR,
local engines warmed), reads its CPU time and resident memory from /proc, runs
bench/latency.py against it (real spoken calls, paced in real time, on loopback),
samples memory while the calls run, and prints:
- resident memory of a warm worker, the peak during the calls, and the increase
  per call in progress;
- CPU seconds the worker spent per call and per spoken answer;
- the machine's load average (figures are noisy on a shared machine).

    .venv/bin/python bench/call_cost.py --calls 8 --concurrency 4 --modes vad
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.liveserver import PYTHON, Worker  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ANSWERS_PER_CALL = 3  # every script in bench/latency.py answers three questions


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def until_warm(worker: Worker, timeout: float = 180) -> None:
    await worker.ready()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while "speech engines ready" not in worker.log():
        if "warm-up failed" in worker.log() or loop.time() > deadline:
            raise RuntimeError("engines did not warm up:\n" + worker.log()[-2000:])
        await asyncio.sleep(0.2)


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="voicebot-call-cost-") as tmp:
        worker = Worker(Path(tmp), SPEECH_WARMUP="1", TTS_PROVIDER="piper", SILENCE_TIMEOUT_S="10")
        try:
            await until_warm(worker)
            pid = worker.process.pid
            warm_rss, cpu_before = rss_mib(pid), cpu_seconds(pid)
            peak = warm_rss
            bench = await asyncio.create_subprocess_exec(
                PYTHON, str(ROOT / "bench" / "latency.py"), "--url", worker.url, "--calls", str(args.calls),
                "--concurrency", str(args.concurrency), "--modes", args.modes,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            waiter = asyncio.ensure_future(bench.communicate())
            while not waiter.done():
                peak = max(peak, rss_mib(pid))
                await asyncio.wait([waiter], timeout=0.2)
            output = waiter.result()[0].decode(errors="replace")
            cpu = cpu_seconds(pid) - cpu_before
        finally:
            worker.kill()
    calls = args.calls * len(args.modes.split(","))
    print(output.rstrip())
    print(f"\n== worker cost ({calls} calls, {args.modes}, up to {args.concurrency} at once; bench exit {bench.returncode})")
    print(f"resident memory: warm {warm_rss:.0f} MiB, peak {peak:.0f} MiB, "
          f"+{(peak - warm_rss) / max(1, args.concurrency):.1f} MiB per call in progress")
    print(f"CPU: {cpu:.1f} s in all, {cpu / calls:.2f} s per call, {cpu / (calls * ANSWERS_PER_CALL):.2f} s per spoken answer")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8, help="calls per mode")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--modes", default="vad", help="push_to_talk and/or vad, comma-separated")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
