"""A call in progress as the product stores it: created, claimed, two turns and every answer
written through calls.persistence.lifecycle. For tests and benches that need an ended call's
full record (lead delivery's body, the dashboard) without playing the call."""
from __future__ import annotations

from bots.dialogue import AnswerRecord
from calls.models import Call
from calls.persistence import lifecycle

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
