"""Spoken calls end to end: real espeak-ng speech through the real engines, over the socket."""
from __future__ import annotations

import asyncio
import contextlib

import pytest
from channels.db import database_sync_to_async

from calls.models import Call, LatencySample
from devtools.callclient import CallClient
from devtools.speech import say, silence

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


async def speak_ptt(client: CallClient, text: str, *, rate: int = 16000, voice: str = "en-us") -> None:
    await client.until("bot.speech.ended")
    await client.send_audio(silence(100, rate) + say(text, voice=voice, rate=rate) + silence(100, rate), rate=rate)
    await client.send(type="end_of_speech")


async def speak_vad(client: CallClient, text: str, *, rate: int = 16000, voice: str = "en-us") -> None:
    """Speech then a microphone's trailing silence; the server must find the end itself."""
    await client.until("bot.speech.ended")
    await client.send_audio(silence(200, rate) + say(text, voice=voice, rate=rate) + silence(700, rate), rate=rate)


@database_sync_to_async
def stored_call(call_id: str) -> tuple[Call, list[LatencySample]]:
    call = Call.objects.get(pk=call_id)
    return call, list(call.latency_samples.all())


async def test_push_to_talk_call_qualifies():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    for text in ["yes I am", "about forty thousand a month", "yes I live in Mumbai"]:
        await speak_ptt(client, text)
    ended = await client.until("call.ended", timeout=60)
    assert ended["outcome"] == "qualified", client.events
    answers = client.of("answer")
    assert [a["value"] for a in answers] == [True, 40000, True]
    assert [t["turn"] for t in client.of("transcript")] == [1, 2, 3]  # what was decided, not the words heard
    latency = client.of("latency")
    assert len(latency) == 3 and all(l["asr_ms"] > 0 and l["response_ms"] > 0 for l in latency)
    assert await client.drain() == 1000
    call, samples = await stored_call(client.call_id)
    assert call.outcome == "qualified"
    asr = [s for s in samples if s.stage == "asr"]
    assert len(asr) == 3 and {s.provider for s in asr} == {"whisper-local"}


async def test_hands_free_call_is_rejected_at_the_first_no():
    client = await CallClient.start("home-renovation", mode="vad")
    await speak_vad(client, "yes, I own my home", voice="en-gb")
    await speak_vad(client, "no, only about five thousand dollars", voice="en-gb")
    ended = await client.until("call.ended", timeout=60)
    assert ended["outcome"] == "rejected" and ended["reason"] == "not_qualified:budget"
    kinds = client.types()
    assert kinds.count("user.speech.started") == kinds.count("user.speech.ended") == 2
    started = [e["turn"] for e in client.of("user.speech.started")]
    assert started == [1, 2] and [t["turn"] for t in client.of("transcript")] == [1, 2]


async def test_barge_in_stops_the_bot_and_the_answer_is_handled():
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.started", turn=0)
    # The caller answers over the greeting.
    await client.send_audio(say("yes I am") + silence(700))
    clear = await client.until("playback.clear")
    assert clear["turn"] == 0
    answer = await client.until("answer")
    assert answer["question"] == "salaried" and answer["value"] is True
    await client.close()


@pytest.mark.parametrize("rate", [8000, 48000])
async def test_other_input_rates_are_resampled(rate):
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.send(type="start", sample_rate=rate)
    await speak_ptt(client, "no, I am self employed", rate=rate)
    ended = await client.until("call.ended", timeout=60)
    assert ended["outcome"] == "rejected"
    call, _ = await stored_call(client.call_id)
    assert call.input_sample_rate == rate


async def test_noise_alone_is_not_an_answer_in_hands_free_mode():
    from devtools.speech import noise

    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended")
    await client.send_audio(noise(1500, 16000, 0.01))
    await client.send(type="text", text="yes")
    answer = await client.until("answer")
    assert answer["question"] == "salaried" and answer["attempt"] == 1
    await client.close()


async def test_background_noise_is_silence_and_speech_after_the_reminder_counts(settings, short_bot):
    """A hands-free microphone streaming only room noise is a silent caller: reminded,
    and an answer spoken then is heard as usual."""
    from devtools.speech import noise

    # The answer must come within the second silence window, however late a busy machine
    # runs this task: so the window is roomy and the noise stops when the reminder comes
    # (a fixed length of paced noise once outlasted a 1 s window under load).
    settings.SILENCE_TIMEOUT_S = 2.0
    client = await CallClient.start("short", mode="vad")
    await client.until("bot.speech.ended", turn=0)
    background = noise(30_000, 16000, 0.01)
    sender = asyncio.create_task(client.send_audio(background, pace=1.0))  # real time, like a microphone
    reminder = await client.until("bot.speech.started", timeout=30)
    assert reminder["text"] == "Hello? Own?"
    sender.cancel()  # the caller starts talking
    with contextlib.suppress(asyncio.CancelledError):
        await sender
    await client.until("bot.speech.ended", turn=reminder["turn"])
    await client.send_audio(say("yes, I own it") + silence(700))
    answer = await client.until("answer", timeout=30)
    assert answer["question"] == "owns" and answer["value"] is True
    kinds = client.types()
    reminded_at = client.events.index(reminder)
    assert "user.speech.started" not in kinds[:reminded_at]  # the noise was never taken for speech
    assert "user.speech.started" in kinds[reminded_at:]
    await client.close()


async def test_two_calls_at_once_both_finish():
    async def one(bot: str, answers: list[str], outcome: str) -> None:
        client = await CallClient.start(bot, mode="push_to_talk")
        for text in answers:
            await speak_ptt(client, text)
        assert (await client.until("call.ended", timeout=90))["outcome"] == outcome

    await asyncio.gather(
        one("quickrupee-loan", ["yes", "no"], "rejected"),
        one("home-renovation", ["no, I rent"], "rejected"),
    )


# ---------------------------------------------------------------------------- the caller leaves
@database_sync_to_async
def stored_answers(call_id: str) -> tuple[Call, list[tuple[str, object]]]:
    call = Call.objects.get(pk=call_id)
    return call, [(a.question_key, a.value) for a in call.answers.all()]


async def test_hangup_right_after_end_of_speech_keeps_that_answer():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    await client.send_audio(silence(100) + say("yes I am") + silence(100))
    await client.send(type="end_of_speech")
    await client.send(type="hangup")
    ended = await client.until("call.ended", timeout=60)
    assert ended == {"type": "call.ended", "outcome": "incomplete", "reason": "caller_hangup"}
    assert await client.drain() == 1000
    answers = client.of("answer")
    assert [(a["question"], a["value"]) for a in answers] == [("salaried", True)]
    said_after = client.types()[client.events.index(answers[0]):]
    assert "bot.speech.started" not in said_after  # nothing is said to a caller who has gone
    call, stored = await stored_answers(client.call_id)
    assert (call.outcome, call.end_reason, stored) == ("incomplete", "caller_hangup", [("salaried", True)])


async def test_a_socket_dropped_right_after_end_of_speech_keeps_that_answer():
    """The test client gives the server 1 s to finish after a disconnect, then cancels it
    (daphne does the same, later): the last answer must be stored all the same."""
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    await client.send_audio(silence(100) + say("yes I am") + silence(100))
    await client.send(type="end_of_speech")
    await client.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # a ceiling for a failure, not a timing bound
    while True:
        call, stored = await stored_answers(client.call_id)
        if call.status == "ended" or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert (call.outcome, call.end_reason, stored) == ("incomplete", "caller_disconnected", [("salaried", True)])
