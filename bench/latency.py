"""Response-latency benchmark: drives a running server over real WebSockets.

Generates caller speech with espeak-ng in several voices, plays it into calls
paced in real time (hands-free mode, as a microphone would) or followed by
end_of_speech (push-to-talk), and prints p50/p95/p99 of:
- client-side response: end of the caller's words (hands-free: the frame holding
  the last spoken sample, espeak's quiet tail trimmed; the microphone then keeps
  streaming silence) or end_of_speech (push-to-talk, sent --release-ms after the
  words end) -> first bot audio frame;
- the server's per-stage figures from the `latency` events.

Usage (server running, e.g. `make run`):
    .venv/bin/python bench/latency.py --url http://127.0.0.1:8000 --calls 6
A call that does not finish within --call-timeout is reported as failed and the
script exits 1. --concurrency N keeps N calls going at once (load on the 2 cores).
All calls come from one client, so runs of more than CALL_RATE_LIMIT (30) calls a
minute need the server started with a higher CALL_RATE_LIMIT, or they get 429.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402

from tests.speech import say, silence  # noqa: E402

VOICES = ["en-us", "en-gb-x-rp", "en-us+m3", "en-us+f3", "en-gb", "en-us+f2"]
SCRIPTS = {
    "quickrupee-loan": [
        ["yes I am", "yeah, about forty thousand a month", "yes I live in Mumbai"],
        ["yes", "more than that", "yes"],
        ["yes, I am salaried", "fifty thousand rupees", "yes I do"],
    ],
    "home-renovation": [
        ["yes I own it", "around fifty thousand dollars", "yes, next month"],
        ["yes we do", "yes, more than that", "yes"],
    ],
}
FRAME_MS = 20


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Result:
    def __init__(self) -> None:
        self.client_ms: list[float] = []
        self.stages: dict[str, list[float]] = {}
        self.outcomes: list[str] = []
        self.answers_right = 0
        self.answers_total = 0
        self.failures: list[str] = []


def words(pcm: bytes, level: int = 300) -> bytes:
    """The clip without espeak's leading and trailing silence (about 350 ms at the end),
    so "end of the caller's audio" is the end of the words, not of a quiet tail."""
    samples = memoryview(pcm).cast("h")
    loud = [i for i in range(len(samples)) if abs(samples[i]) > level]
    return pcm[loud[0] * 2 : (loud[-1] + 1) * 2] if loud else pcm


async def run_call(
    base: str, bot: str, answers: list[str], voice: str, mode: str, result: Result, release_ms: int = 150
) -> None:
    """One call; its figures go into `result` only if it completes."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/api/calls/", json={"bot": bot, "mode": mode})
        response.raise_for_status()
        created = response.json()
    ws_base = base.replace("http://", "ws://").replace("https://", "wss://")
    async with websockets.connect(ws_base + created["ws_url"], max_size=None) as ws:
        speech_ended = asyncio.Event()
        replied = asyncio.Event()  # bot audio arrived after the current answer began
        first_audio: list[float] = []
        done = asyncio.Event()
        answer_events: list[dict] = []
        stages: dict[str, list[float]] = {}
        outcome: list[str] = []

        async def reader() -> None:
            async for message in ws:
                if isinstance(message, bytes):
                    if not replied.is_set() and listening:
                        first_audio.append(time.perf_counter())
                        replied.set()
                    continue
                event = json.loads(message)
                kind = event["type"]
                if kind == "bot.speech.ended":
                    speech_ended.set()
                elif kind == "latency":
                    for key, value in event.items():
                        if key.endswith("_ms") and value is not None:
                            stages.setdefault(key[:-3], []).append(value)
                elif kind == "answer":
                    answer_events.append(event)
                elif kind == "call.ended":
                    outcome.append(event["outcome"])
                    done.set()

        listening = False
        words_end: list[float] = []
        task = asyncio.create_task(reader())
        try:
            await ws.send(json.dumps({"type": "start", "sample_rate": 16000}))
            step = 16000 * 2 * FRAME_MS // 1000
            for text in answers:
                await asyncio.wait_for(speech_ended.wait(), 60)
                speech_ended.clear()
                await asyncio.sleep(0.3)  # the caller waits for the bot to finish playing
                spoken = words(say(text, voice=voice))
                pcm = silence(200) + spoken
                if mode == "push_to_talk":  # the caller lets go of the button a moment after speaking
                    pcm += silence(release_ms)
                replied.clear()
                listening = True
                start = time.perf_counter()
                for n, i in enumerate(range(0, len(pcm), step)):
                    await ws.send(pcm[i : i + step])
                    if i < len(silence(200)) + len(spoken) <= i + step:  # the frame holding the last word
                        words_end.append(time.perf_counter())
                    delay = start + (n + 1) * FRAME_MS / 1000 - time.perf_counter()  # real time, like a microphone
                    if delay > 0:
                        await asyncio.sleep(delay)
                if mode == "push_to_talk":
                    words_end[-1] = time.perf_counter()  # the clock starts at end_of_speech
                    await ws.send(json.dumps({"type": "end_of_speech"}))
                # A microphone keeps sending: silence in real time until the bot answers.
                tail = silence(FRAME_MS)
                while not replied.is_set() and not done.is_set():
                    await ws.send(tail)
                    await asyncio.sleep(FRAME_MS / 1000)
                listening = False
            await asyncio.wait_for(done.wait(), 60)
        except websockets.ConnectionClosed:
            if not done.is_set():
                raise
        finally:
            task.cancel()
        for end, first in zip(words_end, first_audio):
            result.client_ms.append((first - end) * 1000)
        for name, values in stages.items():
            result.stages.setdefault(name, []).extend(values)
        result.outcomes += outcome
        result.answers_total += len(answers)
        result.answers_right += sum(1 for a in answer_events if a["understood"])


def report(mode: str, result: Result) -> None:
    print(f"\n== {mode}: {len(result.outcomes)} calls, outcomes {dict((o, result.outcomes.count(o)) for o in set(result.outcomes))}")
    print(f"answers understood: {result.answers_right}/{result.answers_total}")
    for failure in result.failures:
        print(f"FAILED: {failure}")
    start = "end_of_speech" if mode == "push_to_talk" else "end of words"
    rows = [(f"client response ({start} -> first audio)", result.client_ms)]
    rows += [(f"server {name}", values) for name, values in sorted(result.stages.items())]
    print(f"{'measure':44} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}")
    for name, values in rows:
        if values:
            print(
                f"{name:44} {len(values):>4} {percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                f"{percentile(values, 99):>8.1f} {statistics.fmean(values):>8.1f}"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--calls", type=int, default=6, help="calls per mode")
    parser.add_argument("--modes", default="push_to_talk,vad")
    parser.add_argument(
        "--release-ms", type=int, default=150,
        help="push-to-talk: silence the caller holds the button after speaking, before end_of_speech",
    )
    parser.add_argument("--call-timeout", type=float, default=90, help="seconds before a call counts as failed")
    parser.add_argument("--concurrency", type=int, default=1, help="calls in progress at once")
    args = parser.parse_args()
    failed = False
    plans = [(bot, answers) for bot, scripts in SCRIPTS.items() for answers in scripts]
    for mode in args.modes.split(","):
        result = Result()
        slots = asyncio.Semaphore(max(1, args.concurrency))

        async def one(i: int) -> None:
            bot, answers = plans[i % len(plans)]
            voice = VOICES[i % len(VOICES)]
            async with slots:
                try:
                    await asyncio.wait_for(
                        run_call(args.url, bot, answers, voice, mode, result, args.release_ms), args.call_timeout
                    )
                except (asyncio.TimeoutError, OSError, websockets.WebSocketException, httpx.HTTPError) as exc:
                    result.failures.append(f"call {i + 1} ({bot}, {voice}): {type(exc).__name__} {exc}".strip())

        await asyncio.gather(*(one(i) for i in range(args.calls)))
        if args.concurrency > 1:
            print(f"\n(up to {args.concurrency} calls at once)")
        report(mode, result)
        failed |= bool(result.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
