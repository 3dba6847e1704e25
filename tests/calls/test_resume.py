"""Protocol v1.1 resume: a caller whose socket drops reconnects with the same token
within CALL_RESUME_S and goes on at the question they were on, nothing lost or asked
twice. Typed answers (one spoken) over the real ASGI application; the bot speaks
through Piper."""
from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from calls.models import Call
from devtools.callclient import CallClient, Created, create_call
from devtools.speech import say, silence

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


@database_sync_to_async
def stored(call_id: str) -> dict:
    call = Call.objects.get(pk=call_id)
    return {
        "status": call.status, "outcome": call.outcome, "reason": call.end_reason,
        "answers": list(call.answers.order_by("order").values_list("question_key", "value", "attempts")),
        "turns": list(call.turns.order_by("id").values_list("index", "speaker", "text")),
    }


@database_sync_to_async
def prompt(bot, key: str) -> str:
    return bot.questions.get(key=key).prompt


async def joined(ws_url: str) -> CallClient:
    client = CallClient(ws_url)
    assert await client.connect(timeout=30)
    return client


async def dropped_after_first_answer() -> tuple[Created, CallClient]:
    """A call whose caller answered the first question, heard the second, and whose socket then dropped."""
    created = await create_call("quickrupee-loan")
    first = await joined(created.ws_url)
    await first.say_text("yes I am")
    await first.until("answer", question="salaried")
    await first.until("bot.speech.ended")  # the second question was asked
    await first.close()  # the connection drops (no hangup)
    return created, first


async def test_a_dropped_caller_resumes_at_the_question_they_were_on(loan_bot):
    created, first = await dropped_after_first_answer()
    between = await stored(created.call_id)
    assert (between["status"], between["outcome"], between["reason"]) == ("ended", "incomplete", "caller_disconnected")

    again = await joined(created.ws_url)
    started = await again.until("call.started")
    assert started["call_id"] == created.call_id and started["resumed"] is True
    assert started["answered"] == ["salaried"]
    asked = await again.until("bot.speech.started")
    salary = await prompt(loan_bot, "monthly_salary")
    assert asked["text"] == salary
    assert asked["turn"] > max(e["turn"] for e in first.events if "turn" in e)
    await again.say_text("about forty thousand a month")
    await again.say_text("yes, in Mumbai")
    assert (await again.until("call.ended"))["outcome"] == "qualified"
    assert await again.drain() == 1000

    call = await stored(created.call_id)
    assert (call["status"], call["outcome"]) == ("ended", "qualified")
    # Every answer once, each on its first attempt: nothing lost, nothing asked again once answered.
    assert call["answers"] == [("salaried", True, 1), ("monthly_salary", 40000.0, 1), ("metro_city", True, 1)]
    bot_lines = [text for _, speaker, text in call["turns"] if speaker == "bot"]
    first_question = await prompt(loan_bot, "salaried")
    assert sum(first_question in line for line in bot_lines) == 1
    assert bot_lines.count(salary) == 2  # asked, then once more on reconnecting: it was never answered
    keys = [(index, speaker) for index, speaker, _ in call["turns"]]
    assert len(keys) == len(set(keys)), "a resumed call numbers its turns after the stored ones"


async def test_a_resumed_call_can_drop_and_resume_again(loan_bot):
    created, _ = await dropped_after_first_answer()
    second = await joined(created.ws_url)
    await second.say_text("about forty thousand a month")
    await second.until("answer", question="monthly_salary")
    await second.close()
    third = await joined(created.ws_url)
    assert (await third.until("call.started"))["answered"] == ["salaried", "monthly_salary"]
    await third.say_text("yes, in Mumbai")
    assert (await third.until("call.ended"))["outcome"] == "qualified"
    assert [k for k, _, _ in (await stored(created.call_id))["answers"]] == ["salaried", "monthly_salary", "metro_city"]


async def test_past_the_resume_window_the_call_stays_ended(settings):
    created, _ = await dropped_after_first_answer()
    long_ago = timezone.now() - timedelta(seconds=settings.CALL_RESUME_S + 1)
    await database_sync_to_async(lambda: Call.objects.filter(pk=created.call_id).update(ended_at=long_ago))()
    late = await joined(created.ws_url)
    assert await late.drain() == 4409
    call = await stored(created.call_id)
    assert (call["status"], call["outcome"], call["reason"]) == ("ended", "incomplete", "caller_disconnected")


async def test_resume_off_with_call_resume_s_zero(settings):
    settings.CALL_RESUME_S = 0
    created, _ = await dropped_after_first_answer()
    assert await (await joined(created.ws_url)).drain() == 4409


async def test_a_call_the_caller_hung_up_or_that_finished_is_not_resumed():
    created = await create_call("quickrupee-loan")
    first = await joined(created.ws_url)
    await first.until("call.started")
    second = await joined(created.ws_url)
    assert await second.drain() == 4409  # still connected
    await first.send(type="hangup")
    assert (await first.until("call.ended"))["reason"] == "caller_hangup"
    await first.drain()
    assert await (await joined(created.ws_url)).drain() == 4409


async def test_a_reconnect_right_after_a_drop_mid_turn_keeps_the_answer_given_last():
    """The socket goes right after `end_of_speech`: the dropped socket's pipeline goes on
    recognising and storing that answer after its handler was cancelled (the test client
    cancels it after 1 s), and the reconnect waits for it, then goes on after it."""
    created = await create_call("quickrupee-loan", mode="push_to_talk")
    first = await joined(created.ws_url)
    await first.until("bot.speech.ended")
    await first.send_audio(silence(100) + say("yes I am") + silence(100))
    await first.send(type="end_of_speech")
    await first.close()
    again = await joined(created.ws_url)
    started = await again.until("call.started")
    assert started["resumed"] is True and started["answered"] == ["salaried"]
    await again.say_text("about forty thousand a month")
    await again.say_text("yes, in Mumbai")
    assert (await again.until("call.ended"))["outcome"] == "qualified"
    call = await stored(created.call_id)
    assert [(k, n) for k, _, n in call["answers"]] == [("salaried", 1), ("monthly_salary", 1), ("metro_city", 1)]
