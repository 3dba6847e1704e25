"""Hands-free endpointing: turns per-window speech probabilities into utterance events.

Pure and synchronous so it is tested without audio engines. A *tentative* end
is reported after a short pause so the pipeline can start recognition early
(hiding ASR time); if the caller goes on, a `resume` event discards it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "start" | "tentative_end" | "resume" | "end"
    sample: int  # start: first speech sample; ends: sample just after the last speech window


class Endpointer:
    def __init__(
        self,
        *,
        window_samples: int = 512,
        sample_rate: int = 16000,
        threshold: float = 0.5,
        release: float = 0.35,
        start_ms: int = 64,
        tentative_ms: int = 96,
        hangover_ms: int = 200,
    ) -> None:
        self.window = window_samples
        self.threshold = threshold
        self.release = min(release, threshold)
        ms_per_window = 1000 * window_samples / sample_rate
        self.start_windows = max(1, round(start_ms / ms_per_window))
        self.tentative_windows = max(1, round(tentative_ms / ms_per_window))
        self.hangover_windows = max(self.tentative_windows + 1, round(hangover_ms / ms_per_window))
        self.reset()

    def reset(self) -> None:
        self.position = 0  # samples consumed
        self.in_speech = False
        self._speech_run = 0
        self._silence_run = 0
        self._last_speech_end = 0
        self._tentative = False

    def push(self, probability: float) -> list[VadEvent]:
        """Feed one window's speech probability; return what happened."""
        events: list[VadEvent] = []
        start = self.position
        self.position += self.window
        if not self.in_speech:
            if probability >= self.threshold:
                self._speech_run += 1
                if self._speech_run >= self.start_windows:
                    self.in_speech = True
                    self._silence_run = 0
                    self._last_speech_end = self.position
                    first = self.position - self._speech_run * self.window
                    events.append(VadEvent("start", max(0, first)))
            else:
                self._speech_run = 0
            return events
        if probability >= self.release and not (self._silence_run and probability < self.threshold):
            # Still speaking (or speaking again after a pause).
            if self._tentative:
                events.append(VadEvent("resume", start))
                self._tentative = False
            self._silence_run = 0
            self._last_speech_end = self.position
            return events
        self._silence_run += 1
        if not self._tentative and self._silence_run >= self.tentative_windows:
            self._tentative = True
            events.append(VadEvent("tentative_end", self._last_speech_end))
        if self._silence_run >= self.hangover_windows:
            events.append(VadEvent("end", self._last_speech_end))
            self.in_speech = False
            self._speech_run = 0
            self._silence_run = 0
            self._tentative = False
        return events

    @property
    def tentative(self) -> bool:
        """Speech has paused long enough for a tentative end, and not resumed."""
        return self._tentative

    def reset_position(self, position: int) -> None:
        """Start a new utterance (push-to-talk release) keeping the sample clock."""
        self.reset()
        self.position = position

    def force_end(self) -> VadEvent | None:
        """The client said end_of_speech: end now if speaking."""
        if not self.in_speech:
            return None
        event = VadEvent("end", self._last_speech_end)
        self.in_speech = False
        self._speech_run = self._silence_run = 0
        self._tentative = False
        return event


class PauseLevel:
    """Push-to-talk, once the model has heard the caller begin: a window is speech while
    its level stays within `drop_db` of the loudest window of this press, and a pause
    once the level has stayed further down (or under `floor_rms`, digital near-silence)
    for more than `hold_ms`, the way the model carries speech across a short gap.

    Why not the model: the button already bounds the utterance, so past the start the
    VAD only looks for a pause at which to start recognition early, and a voice's level
    falling and staying down is such a pause in a headset or a quiet room. Where the
    room's noise is within `drop_db` of the voice no pause is found, and recognition
    starts at the release, as it does when the caller lets go at once. Scores are 1.0
    (speech) or 0.0 (pause), for `Endpointer.push`."""

    def __init__(self, *, drop_db: float = 25.0, floor_rms: float = 30.0, hold_ms: int = 96, window_ms: float = 32.0) -> None:
        self.ratio = 10 ** (-drop_db / 20)
        self.floor_rms = floor_rms
        self.hold_windows = max(0, round(hold_ms / window_ms))
        self.reset()

    def reset(self) -> None:
        """A new press: its loudest window so far is forgotten."""
        self.peak = 0.0
        self._low_run = 0

    def observe(self, levels: list[float]) -> None:
        """Windows the model judged: their level still counts, for the peak and for a pause
        under way when the level takes over (a batch of windows the model judged may end
        in the pause itself; the next window must not look like speech resuming)."""
        self.scores(levels)

    def scores(self, levels: list[float]) -> list[float]:
        """1.0 or 0.0 for each window's RMS level, in order."""
        out = []
        for level in levels:
            self.peak = max(self.peak, level)
            if level >= max(self.floor_rms, self.peak * self.ratio):
                self._low_run = 0
            else:
                self._low_run += 1
            out.append(1.0 if self._low_run <= self.hold_windows else 0.0)
        return out
