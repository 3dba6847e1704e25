"""Per-call abuse limits on an injected clock."""
from __future__ import annotations

from calls.runtime.limits import CallLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_sustained_rate():
    clock = Clock()
    limits = CallLimits(clock=clock, message_rate=5, message_burst=20, max_breaches=1000)
    results = [limits.message() for _ in range(1000)]
    assert results[:20] == [None] * 20 and {r.code for r in results[20:]} == {"rate_limited"}
    assert all(r.report for r in results[20:]) and limits.breaches == 980
    clock.now += 1.0
    assert [limits.message() is None for _ in range(6)] == [True] * 5 + [False]


def test_audio_faster_than_one_and_a_half_real_time_is_refused():
    clock = Clock()
    limits = CallLimits(clock=clock, audio_speed=1.5, audio_slack_s=1.0, audio_breach_s=1.0, max_breaches=1000)
    # 10x real time: 0.2 s frames every 20 ms.
    verdicts = []
    for _ in range(100):
        verdicts.append(limits.audio(0.2))
        clock.now += 0.02
    accepted = verdicts.count(None) * 0.2
    assert accepted <= 1.5 * 2.0 + 1.0 + 0.2  # at most 1.5x the 2 s that passed, plus slack
    refused = [v for v in verdicts if v is not None]
    assert refused and {v.code for v in refused} == {"audio_too_fast"}
    assert limits.breaches == int(len(refused) * 0.2 + 1e-9)  # one per second of refused audio


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


# ---------------------------------------------------------------------------- refused audio
def test_a_buffered_start_costs_a_second_of_audio_not_the_call():
    """A client that buffered its microphone while the socket opened sends 2 s at once:
    what is beyond the slack is refused and reported once; breaches count seconds of
    refused audio, not 20 ms frames, and real-time audio after it is taken."""
    clock = Clock()
    limits = CallLimits(clock=clock, audio_speed=1.5, audio_slack_s=1.0, audio_breach_s=1.0, max_breaches=20)
    verdicts = [limits.audio(0.02) for _ in range(100)]
    refused = [v for v in verdicts if v is not None]
    assert 49 <= len(refused) <= 51 and [v.report for v in refused].count(True) == 1 + limits.breaches
    assert limits.breaches <= 1 and not limits.exhausted
    for _ in range(500):
        clock.now += 0.02
        assert limits.audio(0.02) is None


def test_a_run_of_refused_audio_is_reported_once_per_breach():
    clock = Clock()
    limits = CallLimits(clock=clock, audio_speed=1.5, audio_slack_s=0.0, audio_breach_s=1.0, max_breaches=1000)
    limits.audio(0.02)
    verdicts = [limits.audio(0.1) for _ in range(50)]  # 5 s of audio at once, all refused
    assert all(v is not None and v.code == "audio_too_fast" for v in verdicts)
    assert limits.breaches == 5 and [v.report for v in verdicts].count(True) == 1 + 4  # the first, then each breach
