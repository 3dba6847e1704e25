"""Recording bench: what recording a call costs, per second of call, on this machine.

Feeds N calls' recorders (`calls.runtime.recorder.CallRecorder`) the audio of a
push-to-talk call as fast as they take it: the caller's espeak-ng answers in 20 ms
frames while they speak, the bot's lines (espeak-ng at 22.05 kHz, as Piper's) in
200 ms chunks 250 ms ahead of playing, on a fake clock. It prints the CPU the
callers' side costs (placing audio on the timeline: the event loop's share) and
the encoder thread's (libopus, Ogg pages, file writes) per second of call, and
the file size per minute.

    .venv/bin/python bench/recording.py --calls 50 --seconds 60

For the whole product under load, recording on against off, pair two load bench
runs: `bench/compare.py --base HEAD --here-server-env RECORD_CALLS=1`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - the recorder never sleeps
        self.t += seconds


def main() -> int:
    from calls.runtime.ogg_writer import Encoder
    from calls.runtime.recorder import CallRecorder
    from devtools.speech import say

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="length of each call")
    args = parser.parse_args()

    bot = say("Welcome to QuickRupee. Is your monthly salary more than twenty five thousand rupees?", rate=22050)
    caller = say("Yes, about fifty thousand a month.", voice="en-us+f2")
    bot_s, caller_s = len(bot) / 44100, len(caller) / 32000
    folder = Path(tempfile.mkdtemp(prefix="recording-bench-"))
    encoder = Encoder(max_blocks=10**6)
    clock = Clock()
    recorders = [CallRecorder(folder / f"{i}.ogg", clock=clock, call_id=str(i), encoder=encoder) for i in range(args.calls)]

    start_cpu, start_main = time.process_time(), time.thread_time()
    start = clock.t
    # Each turn: the bot's line, half a second, the caller's answer, half a second (all calls alike).
    events: list[tuple[float, str, int]] = []
    t = 0.0
    while t < args.seconds:
        events += [(t + i * 0.2, "bot", i) for i in range(int(bot_s / 0.2) + 1)]
        t += bot_s + 0.5
        events += [(t + (i + 1) * 0.02, "caller", i) for i in range(int(caller_s / 0.02))]
        t += caller_s + 0.5
    for at, side, i in sorted(events):
        if at >= args.seconds:
            break
        clock.t = start + (at - 0.25 if side == "bot" else at)
        for rec in recorders:
            if side == "bot":
                rec.bot_audio(bot[i * 8820 : (i + 1) * 8820], 22050, start + at)
            else:
                rec.caller_audio(caller[i * 640 : (i + 1) * 640], 16000, start + at)
    clock.t = start + args.seconds
    for rec in recorders:
        rec.stop()
    main_cpu = time.thread_time() - start_main
    encoder.drain(600)
    total_cpu = time.process_time() - start_cpu
    call_seconds = args.calls * args.seconds
    size = sum(p.stat().st_size for p in folder.glob("*.ogg"))
    loop_ms, enc_ms = main_cpu / call_seconds * 1000, (total_cpu - main_cpu) / call_seconds * 1000
    print(f"{args.calls} calls x {args.seconds:.0f} s, load {os.getloadavg()[0]:.2f}")
    print(f"callers' side (event loop): {loop_ms:.2f} ms CPU per second of call")
    print(f"encoder thread:             {enc_ms:.2f} ms CPU per second of call")
    print(f"one core records about {1000 / (loop_ms + enc_ms):.0f} calls at once")
    print(f"file: {size / args.calls / args.seconds * 60 / 1024:.0f} KiB per minute ({size * 8 / call_seconds / 1000:.1f} kbit/s)")
    for p in folder.glob("*.ogg"):
        p.unlink()
    folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
