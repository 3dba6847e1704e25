"""The campaigns' time: one function every part of the dialer reads the time through
(planning, the dial itself, carrier callbacks, retry delays), so a test moves a whole
campaign through hours of retries and calling windows without sleeping on the wall clock.

Production reads `django.utils.timezone.now`; a test calls `set_clock(fake)` and hands the
same function to the outbox `Runner` (`Runner(clock=campaigns.clock.now)`).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

Clock = Callable[[], datetime]
_clock: Clock = timezone.now


def now() -> datetime:
    return _clock()


def set_clock(clock: Clock | None) -> None:
    """Use `clock` from now on (None: the wall clock again)."""
    global _clock
    _clock = clock or timezone.now
