"""Per-call abuse limits: a flood of valid messages must not cost the server more
than a real caller would.

- Text and control frames go through a token bucket (MESSAGE_RATE per second,
  bursts of MESSAGE_BURST): beyond it a message is refused.
- Caller audio may not run faster than AUDIO_SPEED x real time (with a little
  slack for network jitter): beyond it a frame is refused, so ten seconds of
  audio pushed in one second costs no more than a real caller.

Each refusal is a *breach*; the pipeline sends a clear non-fatal `error` for it,
and after MAX_BREACHES the call ends with close 4400. Time comes from an
injected clock, so tests decide how much time has passed.
"""
from __future__ import annotations

import time
from collections.abc import Callable

MESSAGE_RATE = 5.0  # text/control messages per second, sustained
MESSAGE_BURST = 20
AUDIO_SPEED = 1.5  # caller audio may arrive at most this much faster than real time
AUDIO_SLACK_S = 1.0  # ... plus this much (jitter, a client's buffered start)
MAX_BREACHES = 20  # refusals in one call before it is ended (4400)


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens = float(burst)
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class AudioPace:
    """Refuses audio that arrives faster than `speed` x real time (after `slack_s`)."""

    def __init__(self, speed: float, slack_s: float, clock: Callable[[], float]) -> None:
        self.speed, self.slack_s, self.clock = speed, slack_s, clock
        self.first_at: float | None = None
        self.accepted_s = 0.0

    def admit(self, seconds: float) -> bool:
        now = self.clock()
        if self.first_at is None:
            self.first_at = now
        allowed = (now - self.first_at) * self.speed + self.slack_s
        if self.accepted_s + seconds > allowed:
            return False
        self.accepted_s += seconds
        return True


class CallLimits:
    """The limits of one call. `message()` / `audio(seconds)` return an error code
    ("rate_limited", "audio_too_fast") when the input is refused, else None."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        message_rate: float = MESSAGE_RATE,
        message_burst: int = MESSAGE_BURST,
        audio_speed: float = AUDIO_SPEED,
        audio_slack_s: float = AUDIO_SLACK_S,
        max_breaches: int = MAX_BREACHES,
    ) -> None:
        self.messages = TokenBucket(message_rate, message_burst, clock)
        self.pace = AudioPace(audio_speed, audio_slack_s, clock)
        self.max_breaches = max_breaches
        self.breaches = 0

    @property
    def exhausted(self) -> bool:
        """Sustained abuse: the call should end (4400)."""
        return self.breaches >= self.max_breaches

    def message(self) -> str | None:
        if self.messages.take():
            return None
        self.breaches += 1
        return "rate_limited"

    def audio(self, seconds: float) -> str | None:
        if self.pace.admit(seconds):
            return None
        self.breaches += 1
        return "audio_too_fast"

    def breach(self) -> None:
        """Another refusal counted against the call (e.g. a second `start`)."""
        self.breaches += 1
