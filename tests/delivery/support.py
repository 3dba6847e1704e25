"""Helpers of the lead delivery tests: the runner's injected clock, ended calls with
answers and turns, destinations."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from calls.delivery.models import Destination
from calls.models import Call
from calls.outbox.runner import Runner
from calls.persistence import lifecycle
from devtools.stored_calls import QUALIFYING, start_call  # noqa: F401 - re-exported for the delivery tests


class Clock:
    """The runner's time: moves only when a test says so. Starts a minute ahead of the
    wall clock, so events written by the test (stamped with real time) are due."""

    def __init__(self) -> None:
        self.now: datetime = timezone.now() + timedelta(seconds=60)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def run_until_idle(runner: Runner) -> int:
    """run_once until nothing more is due at the runner's time; how many attempts ran."""
    total = 0
    while ran := runner.run_once():
        total += ran
    return total


def add_destination(bot, url: str, **fields) -> Destination:
    return Destination.objects.create(name=fields.pop("name", "CRM"), bot=bot, url=url, **fields)


def ended_call(bot, outcome: str = "qualified", reason: str = "all_answers_qualify", **kw) -> Call:
    call = start_call(bot, **kw)
    lifecycle.end_call(str(call.pk), outcome, reason)
    call.refresh_from_db()
    return call
