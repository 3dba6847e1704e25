"""Helpers of the lead delivery tests: the runner's injected clock, ended calls with
answers and turns, destinations."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from bots.dialogue import AnswerRecord
from calls.delivery.models import Destination
from calls.models import Call
from calls.outbox.runner import Runner
from calls.persistence import lifecycle


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


QUALIFYING = [
    AnswerRecord("salaried", "Are you salaried?", 0, "yes I am salaried", True, True, True, 1, 0.93),
    AnswerRecord("monthly_salary", "What is your monthly salary?", 1, "fifty thousand", 50000, True, True, 1, 0.88),
    AnswerRecord("metro_city", "Do you live in a metro city?", 2, "Mumbai", True, True, True, 1, None),
]


def start_call(bot, *, channel: str = "web", provider_call_id: str = "") -> Call:
    """A call in progress with two turns and every answer stored."""
    if channel == "phone":
        call = lifecycle.create_phone_call(bot, caller_phone="+919800000000", provider_call_id=provider_call_id)
    else:
        call = lifecycle.create_call(bot, mode="push_to_talk", caller_name="Asha", caller_phone="+919800000000")
    lifecycle.claim_call(str(call.pk))
    lifecycle.add_turn(str(call.pk), 0, "bot", "Hello, are you salaried?")
    lifecycle.add_turn(str(call.pk), 1, "caller", "yes I am salaried")
    for record in QUALIFYING:
        lifecycle.record_answer(str(call.pk), record)
    return call


def ended_call(bot, outcome: str = "qualified", reason: str = "all_answers_qualify", **kw) -> Call:
    call = start_call(bot, **kw)
    lifecycle.end_call(str(call.pk), outcome, reason)
    call.refresh_from_db()
    return call
