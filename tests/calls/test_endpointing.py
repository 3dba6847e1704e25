"""Endpointing from speech probabilities, without audio engines."""
from calls.endpointing import Endpointer


def feed(ep: Endpointer, probs: list[float]) -> list[tuple[int, str, int]]:
    out = []
    for i, p in enumerate(probs):
        out += [(i, e.kind, e.sample) for e in ep.push(p)]
    return out


def test_speech_then_silence_gives_start_tentative_end():
    ep = Endpointer(window_samples=512, start_ms=64, tentative_ms=96, hangover_ms=200)
    events = feed(ep, [0.0] * 5 + [0.9] * 20 + [0.05] * 10)
    kinds = [k for _, k, _ in events]
    assert kinds == ["start", "tentative_end", "end"]
    start, tentative, end = events
    assert start[2] == 5 * 512  # first speech window
    assert tentative[2] == end[2] == 25 * 512  # just after the last speech window
    assert end[0] - 24 >= round(200 / 32)  # hangover respected
    assert not ep.in_speech


def test_a_short_pause_resumes_instead_of_ending():
    ep = Endpointer(window_samples=512, tentative_ms=96, hangover_ms=200)
    kinds = [k for _, k, _ in feed(ep, [0.9] * 10 + [0.1] * 4 + [0.9] * 10 + [0.1] * 8)]
    assert kinds == ["start", "tentative_end", "resume", "tentative_end", "end"]


def test_a_click_is_not_speech():
    ep = Endpointer(window_samples=512, start_ms=64)
    assert feed(ep, [0.0, 0.95, 0.0, 0.0, 0.95, 0.1]) == []


def test_force_end_only_when_speaking():
    ep = Endpointer(window_samples=512)
    assert ep.force_end() is None
    feed(ep, [0.9] * 5)
    event = ep.force_end()
    assert event.kind == "end" and event.sample == 5 * 512 and not ep.in_speech
