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
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from websockets.exceptions import ConnectionClosed, WebSocketException  # noqa: E402

from calls.percentile import percentile  # noqa: E402
from devtools.callclient import CallClient, CallRefused, create_call  # noqa: E402
from devtools.servers import Network  # noqa: E402
from devtools.speech import say, silence, trim_quiet  # noqa: E402

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
STEP = 16000 * 2 * FRAME_MS // 1000  # bytes of one frame


class Result:
    def __init__(self) -> None:
        self.client_ms: list[float] = []
        self.stages: dict[str, list[float]] = {}
        self.outcomes: list[str] = []
        self.answers_right = 0
        self.answers_total = 0
        self.failures: list[str] = []


async def run_call(
    base: str, bot: str, answers: list[str], voice: str, mode: str, result: Result, release_ms: int = 150
) -> None:
    """One call; its figures go into `result` only if it completes."""
    server = Network(base)
    created = await create_call(bot, mode, server=server, caller=None)
    client = CallClient(created.ws_url, server=server, created=created, keep_audio=False)
    if not await client.connect(timeout=30):
        raise ConnectionRefusedError(f"socket refused: HTTP {client.socket.refused_status}")
    speech_ended = asyncio.Event()
    replied = asyncio.Event()  # bot audio arrived after the current answer began
    done = asyncio.Event()
    first_audio: list[float] = []
    listening = False

    def heard_audio(chunk: bytes, now: float) -> None:
        if not replied.is_set() and listening:
            first_audio.append(now)
            replied.set()

    def heard_event(event: dict, now: float) -> None:
        if event["type"] == "bot.speech.ended":
            speech_ended.set()
        elif event["type"] == "call.ended":
            done.set()

    client.on_audio, client.on_event = heard_audio, heard_event
    words_end: list[float] = []
    task = asyncio.create_task(client.drain(timeout=3600))
    try:
        await client.send(type="start", sample_rate=16000)
        for text in answers:
            await asyncio.wait_for(speech_ended.wait(), 60)
            speech_ended.clear()
            await asyncio.sleep(0.3)  # the caller waits for the bot to finish playing
            spoken = trim_quiet(say(text, voice=voice))
            pcm = silence(200) + spoken
            if mode == "push_to_talk":  # the caller lets go of the button a moment after speaking
                pcm += silence(release_ms)
            replied.clear()
            listening = True
            sent: list[float] = []
            await client.send_audio(pcm, frame_ms=FRAME_MS, pace=1.0, sent_at=sent)  # real time, like a microphone
            words_end.append(sent[(len(silence(200)) + len(spoken) - 1) // STEP])  # the frame holding the last word
            if mode == "push_to_talk":
                words_end[-1] = time.perf_counter()  # the clock starts at end_of_speech
                await client.send(type="end_of_speech")
            # A microphone keeps sending: silence in real time until the bot answers.
            tail = silence(FRAME_MS)
            while not replied.is_set() and not done.is_set():
                await client.send_audio(tail, frame_ms=FRAME_MS, pace=1.0)
            listening = False
        await asyncio.wait_for(done.wait(), 60)
    except ConnectionClosed:
        if not done.is_set():
            raise
    finally:
        task.cancel()
        await client.close()
    for end, first in zip(words_end, first_audio):
        result.client_ms.append((first - end) * 1000)
    for event in client.of("latency"):
        for key, value in event.items():
            if key.endswith("_ms") and value is not None:
                result.stages.setdefault(key[:-3], []).append(value)
    result.outcomes += [e["outcome"] for e in client.of("call.ended")]
    result.answers_total += len(answers)
    result.answers_right += sum(1 for a in client.of("answer") if a["understood"])


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
                except (asyncio.TimeoutError, OSError, WebSocketException, httpx.HTTPError, CallRefused) as exc:
                    result.failures.append(f"call {i + 1} ({bot}, {voice}): {type(exc).__name__} {exc}".strip())

        await asyncio.gather(*(one(i) for i in range(args.calls)))
        if args.concurrency > 1:
            print(f"\n(up to {args.concurrency} calls at once)")
        report(mode, result)
        failed |= bool(result.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    asyncio.run(main())
