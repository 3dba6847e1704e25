"""Whole phone calls through the phone-line simulator (devtools/phoneline.py), for both
bots over Twilio and Exotel, checked against the stored records.

Twilio calls begin as Twilio's do: a signed Voice webhook, then the media stream
with the token from the TwiML. Hang-ups go to the local fake of Twilio's REST API.
"""
from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from calls.http.tokens import make_token
from calls.models import Call
from devtools.phoneline import PhoneLine, twilio_inbound
from tests.telephony.conftest import EXOTEL_KEY

# Every call here has the bot speak its lines through Piper and hear through Silero: `speech`.
pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("phone_lines")]




@database_sync_to_async
def stored(call_sid: str) -> Call:
    call = Call.objects.select_related("bot").get(provider_call_id=call_sid)
    call.answer_rows = list(call.answers.all())
    call.turn_rows = list(call.turns.all())
    call.latency_rows = list(call.latency_samples.all())
    return call


def values(call: Call) -> list[tuple[str, object]]:
    return [(a.question_key, a.value) for a in call.answer_rows]


def assert_carrier_happy(line: PhoneLine) -> None:
    assert not line.violations, line.violations
    assert line.media(), "the caller heard nothing"


# ---------------------------------------------------------------------------- spoken calls
async def test_twilio_loan_call_qualifies_and_is_hung_up_through_the_rest_api(twilio_settings):
    line = await twilio_inbound("quickrupee-loan", caller="+919876543210")
    for answer in ["yes I am", "about forty thousand a month", "yes I live in Mumbai"]:
        await line.heard_line()
        await line.say(answer)
    assert await line.closed() == 1000
    call = await stored(line.call_sid)
    assert (call.channel, call.status, call.outcome, call.caller_phone) == ("phone", "ended", "qualified", "+919876543210")
    assert values(call) == [("salaried", True), ("monthly_salary", 40000), ("metro_city", True)]
    assert {s.stage for s in call.latency_rows} >= {"asr", "response"} and call.input_sample_rate == 8000
    # The goodbye played out (its mark came back) before Twilio was told to hang up.
    assert line.marks_echoed[-1] == line.marks_sent()[-1]
    (hangup,) = twilio_settings.updates_of(line.call_sid)
    assert hangup.one("Status") == "completed"
    assert_carrier_happy(line)
    await line.close()


async def test_exotel_renovation_call_is_rejected():
    line = await PhoneLine.exotel("home-renovation", EXOTEL_KEY, caller="09812345678")
    await line.heard_line()
    await line.say("yes, I own my home", voice="en-gb")
    await line.heard_line()
    await line.say("only about five thousand dollars", voice="en-gb")
    assert await line.closed() == 1000
    call = await stored(line.call_sid)
    assert (call.channel, call.outcome, call.end_reason, call.caller_phone) == ("phone", "rejected", "not_qualified:budget", "09812345678")
    owns, budget = call.answer_rows
    assert (owns.question_key, owns.value, budget.question_key, budget.qualifies) == ("owns_home", True, "budget", False)
    assert_carrier_happy(line)
    await line.close()


async def test_twilio_unclear_answer_is_reasked_then_the_caller_hangs_up(twilio_settings):
    line = await twilio_inbound("home-renovation")
    await line.heard_line()
    await line.say("what is the weather like")
    await line.heard_line()  # the re-ask
    await line.say("yes we own it")
    await line.heard_line()  # the budget question
    await line.hang_up()
    assert await line.closed() == 1000
    call = await stored(line.call_sid)
    assert (call.outcome, call.end_reason) == ("incomplete", "caller_hangup")
    (owns,) = call.answer_rows
    assert (owns.question_key, owns.value, owns.attempts) == ("owns_home", True, 2)
    assert any("Sorry" in t.text or "did not catch" in t.text for t in call.turn_rows if t.speaker == "bot")
    assert not twilio_settings.updates_of(line.call_sid)  # the caller hung up: nothing to hang up
    await line.close()


async def test_exotel_caller_talks_over_the_greeting_and_the_bot_clears():
    line = await PhoneLine.exotel("quickrupee-loan", EXOTEL_KEY)
    await line.line_started()
    await line.say("yes I am")
    await line.wait_for(lambda: line.clears >= 1, what="clear")
    await line.heard_line()  # the next question, heard in full
    call = await stored(line.call_sid)
    assert values(call) == [("salaried", True)]
    assert call.turn_rows[0].speaker == "bot" and call.turn_rows[0].interrupted
    assert_carrier_happy(line)
    await line.hang_up()
    await line.closed()
    await line.close()


async def test_twilio_barge_in_sends_clear_and_the_answer_counts():
    line = await twilio_inbound("home-renovation")
    await line.line_started()
    await line.say("yes I own it")
    await line.wait_for(lambda: line.clears >= 1, what="clear")
    await line.heard_line()
    assert values(await stored(line.call_sid)) == [("owns_home", True)]
    assert_carrier_happy(line)
    await line.hang_up()
    await line.close()


# ---------------------------------------------------------------------------- keys, hang-ups, refusals
async def test_keypad_answers_yes_no_questions_on_both_carriers(short_bot):
    twilio = await twilio_inbound("short")
    await twilio.heard_line()
    await twilio.press("1")
    await twilio.heard_line()
    await twilio.press("2")
    assert await twilio.closed() == 1000
    call = await stored(twilio.call_sid)
    assert (call.outcome, values(call)) == ("rejected", [("owns", True), ("soon", False)])
    assert [t.text for t in call.turn_rows if t.speaker == "caller"] == ["keypad 1", "keypad 2"]

    exotel = await PhoneLine.exotel("short", EXOTEL_KEY)
    await exotel.heard_line()
    await exotel.press("3")  # means nothing: ignored
    await exotel.press("1")
    await exotel.heard_line()
    await exotel.press("1")
    assert await exotel.closed() == 1000
    call = await stored(exotel.call_sid)
    assert (call.outcome, values(call)) == ("qualified", [("owns", True), ("soon", True)])
    for line in (twilio, exotel):
        assert_carrier_happy(line)
        await line.close()


async def test_keypad_does_not_answer_an_amount_question():
    line = await twilio_inbound("quickrupee-loan")
    await line.heard_line()
    await line.press("1")
    await line.heard_line()  # "monthly salary?"
    await line.press("1")
    await line.press("2")
    await line.hang_up()
    await line.closed()
    call = await stored(line.call_sid)
    assert values(call) == [("salaried", True)] and call.end_reason == "caller_hangup"
    await line.close()


@pytest.mark.parametrize("carrier", ["twilio", "exotel"])
async def test_caller_hangs_up_with_stop(short_bot, carrier, twilio_settings):
    line = await (twilio_inbound("short") if carrier == "twilio" else PhoneLine.exotel("short", EXOTEL_KEY))
    await line.heard_line()
    await line.press("1")
    await line.heard_line()
    await line.hang_up()
    assert await line.closed() == 1000
    call = await stored(line.call_sid)
    assert (call.status, call.outcome, call.end_reason) == ("ended", "incomplete", "caller_hangup")
    assert values(call) == [("owns", True)]
    assert not twilio_settings.updates_of(line.call_sid)
    await line.close()


@database_sync_to_async
def call_states() -> list[tuple[str, str]]:
    return list(Call.objects.order_by("created_at").values_list("status", "outcome"))


@pytest.mark.parametrize("token", ["", "forged", "expired"])
async def test_twilio_stream_with_a_bad_token_touches_no_call(settings, token):
    genuine = await twilio_inbound("short")  # a real call is in progress
    await genuine.line_started()
    call_id = str((await stored(genuine.call_sid)).pk)
    if token == "expired":
        token = make_token(call_id)
        settings.CALL_TOKEN_MAX_AGE = -1
    before = await call_states()
    intruder = await PhoneLine.twilio(token, call_sid=genuine.call_sid)
    assert await intruder.closed() == 4401
    assert await call_states() == before and not intruder.media()
    await intruder.close()
    await genuine.close()


async def test_twilio_stream_cannot_join_a_call_twice():
    line = await twilio_inbound("short")
    await line.line_started()
    call = await stored(line.call_sid)
    second = await PhoneLine.twilio(make_token(str(call.pk)))
    assert await second.closed() == 4409
    await second.close()
    await line.close()


async def test_a_phone_call_takes_one_of_the_workers_lines(settings):
    """Admission control counts phone calls (one registry of live calls, calls.worker.registry):
    a worker whose one line is on the phone tells a web caller "busy"."""
    settings.MAX_CALLS_PER_WORKER = 1

    async def post_call():
        return await AsyncClient().post("/api/calls/", data=json.dumps({"bot": "short"}), content_type="application/json")

    assert (await post_call()).status_code == 201  # the line is free before the phone call
    line = await twilio_inbound("short")
    await line.line_started()
    busy = await post_call()
    assert (busy.status_code, busy.json()["error"]["code"]) == (503, "busy")
    await line.close()


@pytest.mark.parametrize("key", ["", "wrong-key"])
async def test_exotel_stream_with_a_wrong_key_is_closed_4401_and_creates_no_call(key):
    line = await PhoneLine.exotel("short", key)
    assert await line.closed() == 4401
    assert await call_states() == [] and not line.media()
    await line.close()


async def test_exotel_stream_for_an_unknown_bot_is_closed_4404():
    line = await PhoneLine.exotel("no-such-bot", EXOTEL_KEY)
    assert await line.closed() == 4404 and await call_states() == []
    await line.close()
