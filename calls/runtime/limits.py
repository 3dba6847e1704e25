"""Per-call abuse limits: a flood of valid messages must not cost the server more
than a real caller would.

- Text and control frames go through a token bucket (MESSAGE_RATE per second,
  bursts of MESSAGE_BURST): beyond it a message is refused.
- Caller audio may not run faster than CALL_AUDIO_SPEED x real time (with
  CALL_AUDIO_SLACK_S of slack for network jitter and a server that stalled):
  beyond it a frame is refused, so ten seconds of audio pushed in one second
  costs no more than a real caller.
- `start` is accepted once; another one is refused (`duplicate_start()`).

Each refused message is a *breach*; refused audio counts one breach per
AUDIO_BREACH_S of audio refused (a frame is 20 ms: counting frames would end a
call for a one-second stall of the server's own event loop). The pipeline sends
a clear non-fatal `error` for each refusal it is told to `report` (every refused
message; the first refused frame of a run of them, then one per breach), and after
MAX_BREACHES the call ends with close 4400. Time comes from an injected clock,
so tests decide how much time has passed.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MESSAGE_RATE = 5.0  # text/control messages per second, sustained
MESSAGE_BURST = 20
AUDIO_SPEED = 1.5  # caller audio may arrive at most this much faster than real time
AUDIO_SLACK_S = 1.0  # ... plus this much (jitter, a client's buffered start)
AUDIO_BREACH_S = 1.0  # seconds of refused audio that count as one breach
QUIET_S = 1.0  # a refusal this long after the last one starts a new run (reported again)
MAX_BREACHES = 20  # breaches in one call before it is ended (4400)

RATE_LIMITED = "rate_limited"
AUDIO_TOO_FAST = "audio_too_fast"
DUPLICATE_START = "duplicate_start"
ABUSE_LIMIT = "abuse_limit"  # the fatal error code and the call's end reason

MESSAGES = {
    RATE_LIMITED: f"Too many messages: at most {MESSAGE_RATE:g} a second (bursts of {MESSAGE_BURST}); this one was dropped.",
    AUDIO_TOO_FAST: "Audio is arriving faster than real time; frames beyond {speed:g}x real time are dropped.",
    DUPLICATE_START: '"start" is accepted once per call; this one was ignored.',
    ABUSE_LIMIT: "Too many refused messages or frames: the call is ended.",
}


@dataclass(frozen=True)
class Refusal:
    """Input that was refused: `code` for the `error` event, `report` whether to send one now."""

    code: str
    report: bool = True


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
    """Refuses audio that arrives faster than `speed` x real time (after `slack_s`).
    `speed` 0 turns the check off."""

    def __init__(self, speed: float, slack_s: float, clock: Callable[[], float]) -> None:
        self.speed, self.slack_s, self.clock = speed, slack_s, clock
        self.first_at: float | None = None
        self.accepted_s = 0.0

    def admit(self, seconds: float) -> bool:
        if self.speed <= 0:
            return True
        now = self.clock()
        if self.first_at is None:
            self.first_at = now
        allowed = (now - self.first_at) * self.speed + self.slack_s
        if self.accepted_s + seconds > allowed:
            return False
        self.accepted_s += seconds
        return True


class CallLimits:
    """The limits of one call. `message()` / `audio(seconds)` return a `Refusal`
    when the input is refused, else None."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        message_rate: float = MESSAGE_RATE,
        message_burst: int = MESSAGE_BURST,
        audio_speed: float = AUDIO_SPEED,
        audio_slack_s: float = AUDIO_SLACK_S,
        audio_breach_s: float = AUDIO_BREACH_S,
        max_breaches: int = MAX_BREACHES,
    ) -> None:
        self.messages = TokenBucket(message_rate, message_burst, clock)
        self.pace = AudioPace(audio_speed, audio_slack_s, clock)
        self.audio_breach_s = audio_breach_s
        self.max_breaches = max_breaches
        self.breaches = 0
        self.refused_audio_s = 0.0
        self.clock = clock
        self._last_refused_at: float | None = None  # when audio was last refused

    @classmethod
    def from_settings(cls, clock: Callable[[], float]) -> CallLimits:
        from django.conf import settings

        return cls(clock=clock, audio_speed=settings.CALL_AUDIO_SPEED, audio_slack_s=settings.CALL_AUDIO_SLACK_S)

    @property
    def exhausted(self) -> bool:
        """Sustained abuse: the call should end (4400)."""
        return self.breaches >= self.max_breaches

    def message(self) -> Refusal | None:
        if self.messages.take():
            return None
        self.breaches += 1
        return Refusal(RATE_LIMITED)

    def duplicate_start(self) -> Refusal:
        """A `start` after one was accepted: refused, and a breach."""
        self.breaches += 1
        return Refusal(DUPLICATE_START)

    def audio(self, seconds: float) -> Refusal | None:
        if self.pace.admit(seconds):
            return None
        now = self.clock()
        # A run of refusals (frames accepted now and then as the allowance grows count
        # as the same run) is reported when it starts, then once per breach.
        first = self._last_refused_at is None or now - self._last_refused_at >= QUIET_S
        self._last_refused_at = now
        before = int(self.refused_audio_s / self.audio_breach_s)
        self.refused_audio_s += seconds
        breached = int(self.refused_audio_s / self.audio_breach_s) > before
        if breached:
            self.breaches += 1
        return Refusal(AUDIO_TOO_FAST, report=first or breached)

    def describe(self, code: str) -> str:
        """The message of the `error` sent for a refusal with `code`."""
        return MESSAGES[code].format(speed=self.pace.speed)
