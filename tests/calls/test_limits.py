"""Per-call abuse limits on an injected clock."""
from __future__ import annotations

from calls.limits import CallLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_sustained_rate():
    clock = Clock()
    limits = CallLimits(clock=clock, message_rate=5, message_burst=20, max_breaches=1000)
    results = [limits.message() for _ in range(1000)]
    assert results[:20] == [None] * 20 and set(results[20:]) == {"rate_limited"}
    clock.now += 1.0
    assert [limits.message() for _ in range(6)] == [None] * 5 + ["rate_limited"]


def test_audio_faster_than_one_and_a_half_real_time_is_refused():
    clock = Clock()
    limits = CallLimits(clock=clock, audio_speed=1.5, audio_slack_s=1.0, max_breaches=1000)
    # 10x real time: 0.2 s frames every 20 ms.
    verdicts = []
    for _ in range(100):
        verdicts.append(limits.audio(0.2))
        clock.now += 0.02
    accepted = verdicts.count(None) * 0.2
    assert accepted <= 1.5 * 2.0 + 1.0 + 0.2  # at most 1.5x the 2 s that passed, plus slack
    assert "audio_too_fast" in verdicts


def test_real_time_audio_is_never_refused():
    clock = Clock()
    limits = CallLimits(clock=clock)
    for _ in range(3000):  # a minute of 20 ms frames
        assert limits.audio(0.02) is None
        clock.now += 0.02
    assert limits.breaches == 0


def test_sustained_breaches_exhaust_the_call():
    limits = CallLimits(clock=Clock(), message_burst=1, max_breaches=3)
    limits.message()
    for _ in range(3):
        assert not limits.exhausted
        limits.message()
    assert limits.exhausted
