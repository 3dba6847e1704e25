"""Latency of turns that took a second listen (issue 27), through a real worker.

Starts its own worker (`python -m config.server`, SQLite in a temporary VAR_DIR, the
local engines warmed: Whisper, Piper, Silero; second listen on), then plays held-out
answers (bench/heldout.py's voices, which the recogniser often mishears, so many turns
take a second listen) into calls, one call at a time, paced in real time:

- the call is brought to the answer's question by typed answers;
- push-to-talk: the clip, then `end_of_speech` `--release-ms` after the words (a caller
  lets go of the button a moment after speaking); hands-free: the clip, then silence
  until the bot answers;
- the server's own figure for the turn is read from its database once it has stopped:
  the `response` latency sample (end of speech as the server received it, to the first
  audio of the bot's reply), whose provider says whether the turn took a second listen
  (`whisper-local+again`).

Prints p50 / p95 / max of that time for turns with a second listen and for the others,
per mode. Run it under the bench lock; `--clips` bounds it (each clip is one call of a
few seconds in real time):

    .venv/bin/python bench/second_listen.py --clips 40
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calls.percentile import percentile  # noqa: E402
from devtools.callclient import CallClient  # noqa: E402
from devtools.liveserver import Worker  # noqa: E402
from devtools.servers import Network  # noqa: E402
from devtools.speech import silence  # noqa: E402

HELDOUT = ROOT / "bench" / "heldout"
# Typed answers that bring a call to each question (each qualifies, so the call goes on).
BEFORE = {
    "quickrupee-loan": [("salaried", "yes"), ("monthly_salary", "forty thousand"), ("metro_city", "")],
    "home-renovation": [("owns_home", "yes"), ("budget", "twenty thousand dollars"), ("start_soon", "")],
}


def clips(count: int, voices: list[str]) -> list[tuple[dict, str, bytes]]:
    """`count` held-out answers of set 2 (every k-th, so every class is in), each with a
    voice in turn and its audio (bench/heldout.py synthesises and caches it)."""
    from bench import heldout

    items = heldout.load_items(HELDOUT / "answers2.jsonl")
    step = max(1, len(items) // count)
    chosen = items[::step][:count]
    return [(item, voices[k % len(voices)], heldout.speak(item["text"], voices[k % len(voices)]))
            for k, item in enumerate(chosen)]


async def one_call(network: Network, item: dict, pcm: bytes, mode: str, release_ms: int) -> None:
    bot, key = item["q"].split("/")
    client = await CallClient.start(bot, mode=mode, server=network, keep_audio=False)
    try:
        await client.until("bot.speech.ended", timeout=60)
        for before, answer in BEFORE[bot]:
            if before == key:
                break
            await client.send(type="text", text=answer)
            await client.until("bot.speech.ended", timeout=60)
        seen = len(client.of("bot.speech.started"))
        replied = asyncio.Event()

        async def read() -> None:  # events as they come (bot audio taken in on the way)
            while await client.next_event(timeout=60) is not None:
                if len(client.of("bot.speech.started")) > seen or client.of("call.ended"):
                    replied.set()
            replied.set()

        reader = asyncio.create_task(read())
        await client.send_audio(silence(200) + pcm + silence(release_ms if mode == "push_to_talk" else 0), pace=1.0)
        if mode == "push_to_talk":
            await client.send(type="end_of_speech")
        deadline = time.perf_counter() + 30
        while not replied.is_set() and time.perf_counter() < deadline:
            if mode == "vad":  # a microphone keeps sending
                await client.send_audio(silence(20), pace=1.0)
            else:
                await asyncio.wait([reader], timeout=0.2)
        if not client.of("call.ended"):
            await client.send(type="hangup")
        await asyncio.wait([reader], timeout=30)
        reader.cancel()
    finally:
        await client.close()


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: none"
    return (f"{label}: {len(values)} turns, p50 {percentile(values, 50):.0f} ms, p95 {percentile(values, 95):.0f} ms, "
            f"max {max(values):.0f} ms")


async def measure(args: argparse.Namespace) -> None:
    answers = clips(args.clips, args.voices.split(","))
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="voicebot-second-listen-") as tmp:
        worker = Worker(Path(tmp), SPEECH_WARMUP="1", TTS_PROVIDER="piper", SILENCE_TIMEOUT_S="0",
                        ASR_SECOND_LISTEN="1", CALL_RATE_LIMIT="100000", **dict(kv.split("=", 1) for kv in args.env))
        try:
            await worker.ready()
            deadline = time.perf_counter() + 240
            while "speech engines ready" not in worker.log() and time.perf_counter() < deadline:
                await asyncio.sleep(0.2)
            network = Network(worker.url)
            for mode in args.modes.split(","):
                for item, voice, pcm in answers:
                    try:
                        await one_call(network, item, pcm, mode, args.release_ms)
                    except Exception as exc:  # one call's socket trouble must not lose the run
                        failed.append(f"{mode} {item['text']!r}: {exc!r}")
        finally:
            worker.terminate()
            await worker.exited()
        rows = worker.query(
            "SELECT c.mode, s.ms, s.provider FROM calls_latencysample s JOIN calls_call c ON c.id = s.call_id "
            "WHERE s.stage = 'response' AND s.provider LIKE 'whisper%'")
    print(f"held-out set 2 answers: {len(answers)} per mode, voices {args.voices}; release {args.release_ms} ms; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for line in failed:
        print(f"FAILED call: {line}")
    for mode in sorted({r[0] for r in rows}):
        again = [r[1] for r in rows if r[0] == mode and "+again" in r[2]]
        once = [r[1] for r in rows if r[0] == mode and "+again" not in r[2]]
        print(f"{mode}: end of speech -> first audio (server), " + summary("with a second listen", again) + "; "
              + summary("without", once))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=40, help="held-out answers per mode (one call each)")
    parser.add_argument("--voices", default="ked,klatt", help="held-out voices, in turn")
    parser.add_argument("--modes", default="push_to_talk,vad")
    parser.add_argument("--release-ms", type=int, default=300, help="push-to-talk: button released this long after the words")
    parser.add_argument("--env", nargs="*", default=[], help="more server settings, NAME=value")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
