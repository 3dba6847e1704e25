"""Bot audio at the pace the caller hears it: what has been heard, and when the next chunk may go.

Audio is sent in real time with a small lead (`PLAYBACK_LEAD_MS`, 250 ms), not as
fast as it is made. So the server knows, at any moment, how much of a line the
caller has heard (`Line.heard`), a barge-in drops at most the lead, and a phone
line (Twilio/Exotel) gets the real-time media it expects. `Pacer` decides when
each chunk leaves; `Line` keeps what was sent and heard. Time comes from an
injectable `Clock`, so pacing is tested against a fake clock.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from calls.runtime.ports import Clock

PLAYBACK_MARGIN_S = 0.3  # client-side playout delay we allow for when judging barge-in


@dataclass
class Line:
    """One bot line as the caller hears it. Times are the speaker's clock."""

    turn: int
    text: str
    task: asyncio.Task[None] | None = None
    started_at: float | None = None  # playback start (first audio sent; moved on an underrun)
    sent_seconds: float = 0.0  # audio sent so far
    first_audio_at: float | None = None
    sent_all: bool = False
    played_at: float | None = None  # the caller's side reported the end (a phone mark)
    cleared_at: float | None = None

    def heard(self, now: float) -> float:
        """Seconds of this line the caller has heard by `now`."""
        if self.started_at is None:
            return 0.0
        until = now if self.cleared_at is None else min(now, self.cleared_at)
        return min(self.sent_seconds, max(0.0, until - self.started_at))

    def remaining(self, now: float) -> float:
        """Seconds of sent audio not yet played at `now`."""
        if self.played_at is not None or self.cleared_at is not None:
            return 0.0
        return max(0.0, self.sent_seconds - self.heard(now))

    def audible(self, now: float) -> bool:
        """Still being sent, or plausibly still playing at the caller's side."""
        if self.cleared_at is not None or self.played_at is not None:
            return False
        if self.task is not None and not self.task.done():
            return True
        return self.started_at is not None and now < self.started_at + self.sent_seconds + PLAYBACK_MARGIN_S


class Pacer:
    """When each chunk may go: the chunk starting at offset `s` of the line leaves at
    `start + s - lead`. If audio arrives later than that (slow synthesis), the
    caller's buffer ran dry, so playback restarts when it comes: `start` moves."""

    def __init__(self, line: Line, clock: Clock, lead_s: float) -> None:
        self.line = line
        self.clock = clock
        self.lead_s = lead_s

    async def wait_turn(self) -> float:
        """Wait until the next chunk is due; returns the send time."""
        line = self.line
        now = self.clock.now()
        if line.started_at is None:
            line.started_at = line.first_audio_at = now
            return now
        if now > line.started_at + line.sent_seconds:  # underrun: playback stalled until now
            line.started_at = now - line.sent_seconds
        due = line.started_at + line.sent_seconds - self.lead_s
        if due > now:
            await self.clock.sleep(due - now)
            now = self.clock.now()
        return now


