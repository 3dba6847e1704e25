"""Endpointing from speech probabilities, without audio engines."""
from calls.runtime.endpointing import Endpointer, PauseLevel


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


def test_a_pause_is_the_level_staying_well_below_the_voice():
    pause = PauseLevel(drop_db=25, hold_ms=96, window_ms=32)
    pause.observe([40.0, 3000.0])  # the model's windows at the start of the press set the voice's level
    # 3000 → 150 is 26 dB down: a gap of 3 windows (96 ms) is still speech, the 4th is a pause
    assert pause.scores([2500.0, 150.0, 150.0, 150.0, 150.0, 150.0, 2800.0]) == [1, 1, 1, 1, 0, 0, 1]


def test_a_pause_the_model_already_judged_goes_on_when_the_level_takes_over():
    pause = PauseLevel(drop_db=25, hold_ms=96, window_ms=32)
    pause.observe([3000.0, 2800.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # one batch: the words, then 5 windows of pause
    assert pause.scores([0.0, 0.0, 2600.0]) == [0.0, 0.0, 1.0]  # still a pause, until the voice is back


def test_noise_within_the_drop_of_the_voice_is_never_a_pause():
    pause = PauseLevel(drop_db=25, hold_ms=96, window_ms=32)
    assert pause.scores([3000.0] + [200.0] * 20) == [1.0] * 21  # 23.5 dB down: a noisy room, no early start


def test_digital_silence_is_a_pause_even_after_a_quiet_voice_and_a_press_forgets_its_level():
    pause = PauseLevel(drop_db=25, floor_rms=30, hold_ms=0, window_ms=32)
    assert pause.scores([400.0, 20.0]) == [1.0, 0.0]  # under the floor, though within 25 dB of the voice
    pause.reset()
    assert pause.scores([200.0, 100.0]) == [1.0, 1.0]  # the last press's voice no longer counts
