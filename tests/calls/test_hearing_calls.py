"""Hearing in whole calls (issue 27): a second listen before a re-ask, one answer across a
pause, and words over the start of a new question.

What is asserted is what the call decided (answers, the bot's next line), never the words
heard. The suite runs end-to-end calls with one listen and no overlap (tests/conftest.py);
these tests turn both back on.
"""
from __future__ import annotations

import pytest

from devtools.callclient import CallClient
from devtools.speech import say, silence

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

SALARIED_REASK = "Sorry, I did not catch that."
SALARY = "Is your monthly salary more than twenty-five thousand rupees?"


@pytest.fixture
def hearing(settings):
    settings.ASR_SECOND_LISTEN = True
    settings.ANSWER_OVERLAP_MS = 1000
    settings.ASR_SECOND_LISTEN_BUDGET_MS = 0  # however slow this machine: the bound has its own test
    return settings


async def test_an_answer_heard_badly_is_heard_again_before_it_is_asked_again(cloud_settings, hearing, call_bots):
    """The vendor's first hearing is words the bot cannot use; the second listen to the
    same audio is an answer. It would qualify the caller, so the question is asked again
    to be sure (a second listen alone is not enough for that), but "Sorry, I did not
    catch that" is not said, and the caller's reply moves the call on."""
    fake = cloud_settings
    fake.script("openai", transcripts=["Second robot.", "Yes, I am."])
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(100) + say("yes I am") + silence(100))
    await client.send(type="end_of_speech")
    check = await client.until("bot.speech.started", turn=1)
    assert check["text"] == "Just to be sure, are you a salaried employee?"
    assert len(fake.requests_for("openai")) == 2  # the same utterance, heard twice
    await client.send(type="text", text="yes")
    answer = await client.until("answer")
    assert (answer["question"], answer["value"], answer["attempt"]) == ("salaried", True, 1)
    await client.until("bot.speech.started", text=SALARY)
    assert not [e for e in client.of("bot.speech.started") if SALARIED_REASK in e["text"]]
    await client.close()


async def test_a_pause_does_not_split_one_answer(cloud_settings, hearing, call_bots):
    """ "Yes, [pause] I work for a software company." hands-free, spoken in real time: the
    first part sounds unfinished, so the call waits for the rest, and the two are one
    answer to "Are you a salaried employee?" (decided alone, "Yes," was a separate
    answer and the rest answered the next question)."""
    hearing.ASR_SECOND_LISTEN = False  # the vendor's scripted hearings are the two parts, in order
    fake = cloud_settings
    fake.script("openai", transcripts=["Yes,", "I work for a software company."])
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(200) + say("yes") + silence(300) + say("I work for a software company")
                            + silence(900), pace=1.0)
    await client.until("bot.speech.started", text=SALARY, timeout=60)
    await client.send(type="text", text="forty thousand")  # queued after every spoken turn: all decided by then
    await client.until("answer", question="monthly_salary", timeout=60)
    answers = [(a["question"], a["value"], a["attempt"]) for a in client.of("answer")]
    assert answers == [("salaried", True, 1), ("monthly_salary", 40000, 1)], client.events
    await client.close()


async def test_words_over_the_start_of_a_new_question_answer_the_one_before(cloud_settings, hearing, call_bots):
    """The caller's late "yes" begins as the bot begins the salary question: it is not an
    answer to that question (a caller earning eighteen thousand was qualified that way);
    the question is asked again and the next answer decides it."""
    hearing.ASR_SECOND_LISTEN = False
    hearing.ANSWER_OVERLAP_MS = 5000  # however slow this machine is to hear the "yes" begin
    fake = cloud_settings
    fake.script("openai", transcripts=["Yes, I work for a software company.", "Yes."])
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(200) + say("yes I work for a software company") + silence(700))
    await client.until("bot.speech.started", text=SALARY, timeout=60)
    await client.send_audio(say("yes") + silence(700))  # over the question's start
    again = await client.until("bot.speech.started", text=SALARY, timeout=60)
    await client.send(type="text", text="twelve thousand")
    end = await client.until("call.ended", timeout=60)
    assert end["outcome"] == "rejected"
    answers = [(a["question"], a["value"]) for a in client.of("answer")]
    assert answers == [("salaried", True), ("monthly_salary", 12000)], client.events
    assert again["turn"] > 1


async def _until_requests(fake, count: int, bound_s: float = 60) -> int:
    """Wait (bounded) until the fake vendor has had `count` transcription requests."""
    import asyncio
    import time

    deadline = time.monotonic() + bound_s
    while len(fake.requests_for("openai")) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return len(fake.requests_for("openai"))


async def test_a_second_listen_starts_at_the_pause_before_the_button_is_released(cloud_settings, hearing, call_bots):
    """Push-to-talk: the caller pauses while still holding the button, the early recognition
    at that pause hears words the bot cannot use, and the second listen starts there: it is
    under way before `end_of_speech`, and the turn takes it (two recognitions in all)."""
    fake = cloud_settings
    fake.script("openai", transcripts=["Second robot.", "Yes, I am."])
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended", turn=0)
    await client.send_audio(silence(100) + say("yes I am") + silence(400))  # the button still held
    assert await _until_requests(fake, 2) == 2  # heard, and heard again, before the release
    await client.send(type="end_of_speech")
    check = await client.until("bot.speech.started", turn=1)
    assert check["text"] == "Just to be sure, are you a salaried employee?"
    assert len(fake.requests_for("openai")) == 2
    await client.close()
