"""Bot audio reaches the carrier in real time: what waits in the carrier's playout
buffer stays within the playback lead, so a `clear` on barge-in throws away little
and the server knows what the caller has heard (issue 12; calls/runtime/speaker.py).

The phone stream's pipeline runs on a fake clock (the consumer's `clock`); the test
moves time in 20 ms steps and models the carrier's buffer on that same clock: each
media message adds its audio, which plays out in real time from when it arrived.
Unpaced, a whole greeting (seconds of audio) would sit in that buffer at once.
"""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from calls.runtime.speaker import CHUNK_MS
from calls.transport.phone.streams import PhoneStreamConsumer
from devtools.phoneline import PhoneLine, twilio_inbound
from tests.clock import FakeClock

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

LEAD_MS = 250
STEP_S = 0.02
# The pacer sends a chunk (at most CHUNK_MS) once less than the lead is queued. The
# test sees an arrival only at the end of its 20 ms step, and the 8 kHz resampler and
# whole carrier frames shift audio by a few ms more: SLACK_S covers those.
SLACK_S = 0.1
MOST_QUEUED_S = (LEAD_MS + CHUNK_MS) / 1000 + SLACK_S


@pytest.fixture
async def clock(monkeypatch, settings, brief_bots, twilio_settings):
    settings.PLAYBACK_LEAD_MS = LEAD_MS  # the product's default pacing, not the suite's unpaced audio
    settings.PUBLIC_BASE_URL = "https://bot.example.com"
    settings.SILENCE_TIMEOUT_S = 0
    fake = FakeClock()
    monkeypatch.setattr(PhoneStreamConsumer, "clock", fake)
    yield fake
    await database_sync_to_async(connections.close_all)()


class CarrierBuffer:
    """The carrier's playout buffer on the fake clock: audio plays in real time in arrival order."""

    def __init__(self, line: PhoneLine, clock: FakeClock) -> None:
        self.line, self.clock = line, clock
        self.counted = 0  # bytes of bot audio taken into the buffer so far
        self.busy_until = clock.now()
        self.most_queued = 0.0

    def take(self) -> float:
        """Add what arrived since the last call (it arrived now); returns seconds queued."""
        now = self.clock.now()
        new = len(self.line.audio) - self.counted
        if new:
            self.counted += new
            self.busy_until = max(now, self.busy_until) + new / 8000  # µ-law 8 kHz: a byte a sample
        queued = max(0.0, self.busy_until - now)
        self.most_queued = max(self.most_queued, queued)
        return queued


async def test_audio_queued_at_the_carrier_stays_within_the_playback_lead(clock):
    line = await twilio_inbound("home-renovation")
    await line.line_started()  # the greeting's first audio is out (synthesis is real, not on the clock)
    buffer = CarrierBuffer(line, clock)
    buffer.take()
    assert buffer.most_queued <= MOST_QUEUED_S  # not the whole greeting at once

    steps = 0
    while not line.marks_sent() and steps < 60 / STEP_S:  # until the greeting's mark (at most 60 s of clock)
        await clock.advance(STEP_S)
        buffer.take()
        steps += 1

    assert line.marks_sent(), "the greeting never finished"
    heard = buffer.counted / 8000
    assert heard > 2.0  # a real line of several seconds went through the buffer ...
    assert buffer.most_queued <= MOST_QUEUED_S  # ... never more than the lead (+ one chunk) ahead
    assert buffer.most_queued >= LEAD_MS / 1000 * 0.5  # and the lead is used: the buffer is not starved
    assert steps * STEP_S >= heard - MOST_QUEUED_S  # sent in real time, not faster
    assert not line.violations, line.violations
    await line.close()
