"""Sample calls for the dashboard tests, made with the plain ORM."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Answer, Call, LatencySample, Turn


def make_call(bot, *, name="", phone="", outcome="", status=Call.Status.ENDED, age=timedelta(0), **fields) -> Call:
    """A call created `age` ago (created_at is auto_now_add, so it is moved after the insert)."""
    call = Call.objects.create(
        bot=bot, caller_name=name, caller_phone=phone, outcome=outcome, status=status, **fields
    )
    created = timezone.now() - age
    Call.objects.filter(pk=call.pk).update(created_at=created, started_at=created)
    call.refresh_from_db()
    return call


def answer(call, order, key, value, qualifies, transcript="", attempts=1) -> Answer:
    return Answer.objects.create(
        call=call, order=order, question_key=key, question_text=f"Question {key}?", value=value,
        qualifies=qualifies, understood=value is not None, transcript=transcript, attempts=attempts,
    )


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def leads(loan_bot, renovation_bot):
    """Three loan calls (one qualified an hour ago, one rejected at Q2, one running) and a renovation hot lead."""
    qualified = make_call(loan_bot, name="Asha Rao", phone="+91 98765 43210", outcome="qualified",
                          age=timedelta(hours=1), callback_due_at=timezone.now() - timedelta(minutes=3, seconds=20))
    answer(qualified, 1, "salaried", True, True, "yes I am")
    answer(qualified, 2, "monthly_salary", 40000, True, "forty thousand")
    answer(qualified, 3, "metro_city", True, True, "yes, Mumbai")
    rejected = make_call(loan_bot, name="Ravi Kumar", phone="+91 90000 11111", outcome="rejected",
                         age=timedelta(minutes=30))
    answer(rejected, 1, "salaried", True, True, "haan")
    answer(rejected, 2, "monthly_salary", 12000, False, "twelve thousand")
    running = make_call(loan_bot, name="Meera", phone="+91 81111 22222", status=Call.Status.ACTIVE,
                        age=timedelta(minutes=1))
    hot = make_call(renovation_bot, name="John Smith", phone="+1 555 0100", outcome="qualified",
                    age=timedelta(days=3))
    answer(hot, 1, "owns_home", True, True)
    answer(hot, 2, "budget", 25000, True)
    answer(hot, 3, "start_soon", 2, True)
    return {"qualified": qualified, "rejected": rejected, "running": running, "hot": hot}


@pytest.fixture
def conversation(leads):
    """Turns and latency samples of the qualified loan call."""
    call = leads["qualified"]
    lines = [
        (0, "bot", "Hello, this is QuickRupee."),
        (0, "bot", "Are you a salaried employee?"),
        (1, "caller", "yes I am"),
        (1, "bot", "Is your monthly salary more than twenty-five thousand rupees?"),
        (2, "caller", "forty thousand"),
    ]
    for index, speaker, text in lines:
        Turn.objects.create(call=call, index=index, speaker=speaker, text=text)
    for turn, (asr, nlu, tts, response) in {1: (210.0, 3.0, 180.0, 420.0), 2: (260.0, 4.0, 150.0, 455.0)}.items():
        for stage, ms, provider in [("asr", asr, "local-whisper"), ("nlu", nlu, "rules"),
                                    ("tts_first_audio", tts, "piper"), ("response", response, "pipeline")]:
            LatencySample.objects.create(call=call, turn=turn, stage=stage, ms=ms, provider=provider)
    return call
