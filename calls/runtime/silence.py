"""The silence watch of one call: a caller who says nothing is reminded, then let go.

Once the bot's words have played out at the caller's side, the call waits
SILENCE_TIMEOUT_S for an answer (0 turns the watch off). Anything from the caller
(speech starting, a typed answer, a key, an `end_of_speech`) disarms it; each bot
line that finishes sending arms it again. When it fires, the coordinator puts a
silence turn on the turn queue, so the reminder (or the end of the call) is
decided in turn order like any answer.

The timer runs on the call's `Clock` and belongs to the call's `CallTasks`, so a
test moves time with a fake clock and the call's teardown stops it.
"""
from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from calls.runtime.ports import Clock
from calls.runtime.tasks import CallTasks, Timer


class SilenceWatch:
    """Calls `on_silence()` once the caller has been silent for SILENCE_TIMEOUT_S after
    the bot's audio still `playing()` has played, while an answer is `wanted()`."""

    def __init__(
        self,
        tasks: CallTasks,
        clock: Clock,
        *,
        wanted: Callable[[], bool],
        playing: Callable[[], float],
        on_silence: Callable[[], None],
    ) -> None:
        self.tasks = tasks
        self.clock = clock
        self.wanted = wanted
        self.playing = playing
        self.on_silence = on_silence
        self._timer: Timer | None = None

    def arm(self) -> None:
        """Wait for an answer (if one is wanted): the window starts once the bot's audio has played."""
        self.disarm()
        timeout = settings.SILENCE_TIMEOUT_S
        if timeout > 0 and self.wanted():
            self._timer = self.tasks.later(self.clock, self.playing() + timeout, self._fire, "silence")

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self.wanted():
            self.on_silence()
