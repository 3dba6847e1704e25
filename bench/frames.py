"""What a caller's audio frame costs a worker's event loop: the listener alone.

N calls speak at once: every 20 ms each call's listener (`calls.runtime.listener.Listener`,
hands-free or push-to-talk) is fed one 20 ms frame of real speech (espeak-ng), in real
time, through the shipped Silero VAD and its cross-call batching. The same loop is
run once more without the listener, and its CPU is taken off, so the figure is the
listener's: resampling, buffering, the VAD task, the batch and the model, endpointing.
No socket, database or server: this is the per-frame floor a worker pays before the
WebSocket server's own cost (bench/load/ measures the whole).

    .venv/bin/python bench/frames.py --calls 150 --seconds 4 --mode vad
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-frames-" + "x" * 40)  # settings only; nothing is signed

FRAMES_PER_S = 50  # 20 ms frames, as browsers and the load bench send them


class Heard:
    """ListenerEvents that only count."""

    def __init__(self) -> None:
        self.utterances = 0

    async def speech_started(self) -> None:
        pass

    async def utterance_ended(self, utterance: object) -> None:
        self.utterances += 1

    async def nothing_said(self) -> None:
        pass

    async def error(self, code: str, message: str) -> None:
        raise RuntimeError(f"{code}: {message}")


async def run(calls: int, seconds: float, mode: str, *, listen: bool) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, utterances heard) for `calls` callers speaking `seconds`."""
    from calls.providers.registry import get_vad
    from calls.runtime.listener import ENGINE_RATE, Listener
    from devtools.speech import say, silence

    speech = say("yes I am salaried and I earn about forty thousand rupees a month", voice="en-us") + silence(700)
    step = ENGINE_RATE * 2 // FRAMES_PER_S
    heard = [Heard() for _ in range(calls)]
    listeners = [Listener(h, vad=get_vad(), asr=[], mode=mode) for h in heard] if listen else []
    frames = int(seconds * FRAMES_PER_S)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t in range(frames):
        for k in range(calls):
            offset = ((t + 13 * k) * step) % (len(speech) - step)  # callers at different points of the clip
            frame = speech[offset : offset + step]
            if listen:
                await listeners[k].feed(frame, time.perf_counter())
        await asyncio.sleep(max(0.0, (t + 1) / FRAMES_PER_S - (time.perf_counter() - wall0)))  # real time
    for listener in listeners:
        await listener.settle()
        listener.close()
    return time.process_time() - cpu0, time.perf_counter() - wall0, sum(h.utterances for h in heard)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=150, help="callers speaking at once (one worker's share)")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds of speech each")
    parser.add_argument("--mode", choices=["vad", "push_to_talk"], default="vad")
    args = parser.parse_args()
    import django

    django.setup()
    from calls.providers.registry import get_vad

    get_vad()  # the model loads once, before the clock
    base_cpu, _, _ = asyncio.run(run(args.calls, args.seconds, args.mode, listen=False))
    cpu, wall, utterances = asyncio.run(run(args.calls, args.seconds, args.mode, listen=True))
    frames = args.calls * int(args.seconds * FRAMES_PER_S)
    per_frame = (cpu - base_cpu) / frames
    print(f"{args.calls} {args.mode} callers speaking for {args.seconds:.0f} s ({frames} frames, {utterances} utterances heard)")
    print(f"listener CPU per 20 ms frame: {per_frame * 1e6:.1f} µs; {per_frame * args.calls * FRAMES_PER_S:.2f} cores "
          f"for {args.calls} callers speaking (wall {wall:.1f} s; loop without the listener: {base_cpu:.2f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
