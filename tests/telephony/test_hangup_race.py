"""Issue 31 B1: the caller gives the last answer and hangs up, and Twilio sends the
stream's `stop` and then the status callback `completed` at once. The callback may
reach the server before the pipeline has recognised that answer; the call must still
be stored as the dialogue decided it (qualified, with its callback deadline), not as
the carrier's provisional `incomplete/caller_hangup`.

Through the Twilio-shaped stream (devtools/phoneline.py: the signed Voice webhook, the
media stream, real speech) and the signed status callback, as Twilio sends them.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from django.test import AsyncClient
from twilio.request_validator import RequestValidator

from calls.models import Call
from calls.persistence.write_queue import settle
from devtools.faketwilio import ACCOUNT_SID, AUTH_TOKEN
from devtools.phoneline import twilio_inbound

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

PUBLIC = "https://bot.example.com"
STATUS = "/telephony/twilio/status/"


@pytest.fixture(autouse=True)
async def _phone(brief_bots, settings, twilio_settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    yield twilio_settings
    await database_sync_to_async(connections.close_all)()


async def status_callback(call_sid: str, status: str) -> int:
    """Twilio's status callback for `call_sid`, signed as Twilio signs it."""
    form = {"AccountSid": ACCOUNT_SID, "CallSid": call_sid, "CallStatus": status, "Direction": "inbound"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + STATUS, form)
    response = await AsyncClient().post(
        STATUS, data=urlencode(form), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    return response.status_code


@database_sync_to_async
def stored(call_sid: str) -> tuple[Call, list[tuple[str, object]]]:
    call = Call.objects.select_related("bot").get(provider_call_id=call_sid)
    return call, list(call.answers.order_by("order").values_list("question_key", "value"))


async def test_the_status_callback_racing_the_last_answer_does_not_lose_the_lead(short_bot, twilio_settings, monkeypatch):
    # The last turn is recognised within the pipeline's grace after a hang-up; a loaded
    # test machine must not turn this test about the carrier's race into one about that.
    monkeypatch.setattr("calls.runtime.pipeline.LEAVE_GRACE_S", 30.0)
    short_bot.callback_minutes = 10  # a qualified lead is called back within 10 minutes
    await database_sync_to_async(short_bot.save)()
    line = await twilio_inbound("short")
    await line.heard_line()
    await line.press("1")  # the first answer, on the keypad
    await line.heard_line()  # the last question
    await line.say("yes, yes, as soon as we can", tail_ms=0)  # the last answer, spoken, and the caller hangs up on it:
    await line.hang_up()  # `stop` ...
    assert await status_callback(line.call_sid, "completed") == 204  # ... and the callback at once
    ended_early, _ = await stored(line.call_sid)
    # The carrier's end is stored at once, provisionally (recognising the answer takes longer) ...
    assert (ended_early.status, ended_early.outcome, ended_early.end_provisional) == ("ended", "incomplete", True)

    assert await line.closed() == 1000
    assert await settle(30)
    call, answers = await stored(line.call_sid)
    # ... and the dialogue's decision, which came after it, replaces it.
    assert (call.status, call.outcome, call.end_reason) == ("ended", "qualified", "all_answers_qualify")
    assert answers == [("owns", True), ("soon", True)]
    assert call.callback_due_at == call.ended_at + timedelta(minutes=10)
    assert not call.end_provisional
    assert not twilio_settings.updates_of(line.call_sid)  # the caller hung up: nothing to hang up
    await line.close()
