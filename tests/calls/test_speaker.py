"""Paced bot audio (calls/runtime/speaker.py), timed against a fake clock, never the wall clock.

The audio is real: espeak-ng speaks the line once into the prompt cache, then
the speaker replays it (as it does for every scripted line), so what is under
test is only when each chunk leaves and what the caller has heard.
"""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from calls.providers.espeak_tts import EspeakTTS
from calls.runtime.prompt_cache import PromptCache
from calls.runtime.speaker import Speaker
from calls.runtime.voices import CachedTTS, FallbackTTS
from tests.clock import FakeClock

pytestmark = pytest.mark.speech  # espeak-ng makes the line

RATE = 16000
LINE = "Thanks for calling. Are you a salaried employee?"
LEAD = 0.25


class Recorder:
    """An Output that notes the clock time of everything sent."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.audio: list[tuple[float, int]] = []  # (sent at, bytes)
        self.events: list[tuple[float, dict[str, Any]]] = []

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append((self.clock.now(), event))

    async def send_audio(self, pcm: bytes) -> None:
        self.audio.append((self.clock.now(), len(pcm)))

    async def close(self, code: int) -> None:
        pass

    def types(self) -> list[str]:
        return [e["type"] for _, e in self.events]


@pytest.fixture
async def speaker_parts(tmp_path):
    clock = FakeClock()
    out = Recorder(clock)
    engine = EspeakTTS(sample_rate=RATE)
    cache = PromptCache(tmp_path)
    await cache.prefetch(engine, [LINE])
    tts = FallbackTTS([CachedTTS(engine, cache, scripted=[LINE])], RATE)
    return clock, out, Speaker(out, tts, clock=clock, lead_ms=int(LEAD * 1000))


def offsets(out: Recorder) -> list[float]:
    """Where each chunk starts in the line, in seconds of audio."""
    starts, total = [], 0
    for _, size in out.audio:
        starts.append(total / 2 / RATE)
        total += size
    return starts


async def test_audio_leaves_in_real_time_with_a_small_lead(speaker_parts):
    clock, out, speaker = speaker_parts
    t0 = clock.now()
    line = speaker.say(1, LINE)
    await clock.settle()
    # At once: the first chunk and whatever starts within the lead (200 ms chunks: two).
    assert len(out.audio) == 2 and out.audio[0][0] == t0
    while not line.sent_all:
        await clock.advance(0.01)
        assert line.sent_seconds <= clock.now() - t0 + LEAD + 0.2 + 1e-9  # never more than the lead ahead
    starts = offsets(out)
    assert starts[-1] > 1.5  # a real line of speech
    for (sent_at, _), offset in zip(out.audio, starts):
        assert sent_at - t0 == pytest.approx(max(0.0, offset - LEAD), abs=0.0101)
    assert out.types() == ["bot.speech.started", "bot.speech.ended"]
    ended_at = out.events[-1][0]
    assert ended_at - t0 == pytest.approx(line.sent_seconds - LEAD, abs=0.21)
    # Sent, not yet played: the caller still has about the lead to hear.
    assert speaker.audible() and 0 < speaker.remaining() <= LEAD + 0.2
    await clock.advance(speaker.remaining())
    assert speaker.remaining() == 0


async def test_barge_in_knows_what_the_caller_heard(speaker_parts):
    clock, out, speaker = speaker_parts
    line = speaker.say(2, LINE)
    await clock.advance(1.0)
    sent = line.sent_seconds
    assert 1.0 + LEAD - 0.2 <= sent <= 1.0 + LEAD + 0.2
    cleared = await speaker.clear()
    assert cleared is line and line.heard(clock.now()) == pytest.approx(1.0)
    assert out.types() == ["bot.speech.started", "playback.clear", "bot.speech.ended"]
    assert line.task is not None and line.task.cancelled()
    chunks = len(out.audio)
    await clock.advance(2.0)
    assert len(out.audio) == chunks  # nothing more after the clear
    assert not speaker.audible() and await speaker.clear() is None


async def test_a_reported_playout_ends_the_line(speaker_parts):
    clock, out, speaker = speaker_parts
    line = speaker.say(3, LINE)
    while not line.sent_all:
        await clock.advance(0.05)
    speaker.played(3)  # e.g. Twilio echoed the line's mark
    assert not speaker.audible() and speaker.remaining() == 0


async def test_slow_audio_moves_playback_not_the_lead(tmp_path):
    """When audio arrives later than it should play (slow synthesis), the caller's
    buffer ran dry: what was heard is counted from when audio came again."""
    clock = FakeClock()
    out = Recorder(clock)
    engine = EspeakTTS(sample_rate=RATE)
    pcm = b"".join([chunk async for chunk in engine.synthesize(LINE)])
    SPLIT = int(0.4 * RATE) * 2

    class Slow(type(engine)):
        async def synthesize(self, text: str, *, voice: str = ""):
            yield pcm[:SPLIT]  # 0.4 s, then a stall of 2 s
            await clock.sleep(2.0)
            yield pcm[SPLIT:]

    speaker = Speaker(out, FallbackTTS([Slow(sample_rate=RATE)], RATE), clock=clock, lead_ms=250)
    line = speaker.say(4, LINE)
    await clock.advance(1.0)
    assert line.heard(clock.now()) == pytest.approx(0.4)  # all it had, then silence
    await clock.advance(1.1)  # audio again at t0+2.0; playback resumes from there
    assert line.heard(clock.now()) == pytest.approx(0.4 + 0.1, abs=1e-6)
    task = line.task
    speaker.stop()
    await asyncio.gather(task, return_exceptions=True)
