"""The whole WebSocket protocol (docs/protocol.md §2) over typed answers.

Marked `speech`: the bot speaks every line through the real Piper voice.
"""
from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from calls.http.tokens import make_token
from calls.models import Answer, Call, LatencySample, Turn
from devtools.callclient import CallClient, create_call

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


@database_sync_to_async
def stored(call_id: str) -> tuple[Call, list[Answer], list[Turn], list[LatencySample]]:
    call = Call.objects.get(pk=call_id)
    return call, list(call.answers.all()), list(call.turns.all()), list(call.latency_samples.all())


async def typed_call(bot: str, answers: list[str]) -> CallClient:
    client = await CallClient.start(bot)
    for text in answers:
        await client.say_text(text)
    return client


async def test_call_started_is_first_and_greeting_is_spoken():
    client = await CallClient.start("quickrupee-loan")
    started = await client.next_event()
    assert started["type"] == "call.started"
    assert started["call_id"] == client.call_id and started["bot"]["slug"] == "quickrupee-loan"
    assert started["input_sample_rate"] == 16000 and started["output_sample_rate"] in (16000, 22050, 24000)
    speech = await client.until("bot.speech.started")
    assert speech["turn"] == 0 and "Are you a salaried employee?" in speech["text"]
    await client.until("bot.speech.ended", turn=0)
    # Bot audio: PCM s16le in chunks of at most 200 ms, and real sound.
    rate = started["output_sample_rate"]
    assert client.audio_frames and all(len(f) % 2 == 0 and len(f) <= rate * 2 * 0.2 for f in client.audio_frames)
    assert len(client.audio) > rate * 2 * 1.0  # over a second of speech
    await client.close()


async def test_qualified_call_end_to_end():
    client = await typed_call("quickrupee-loan", ["yes I am", "yeah, about forty thousand a month", "yes, in Mumbai"])
    ended = await client.until("call.ended")
    assert ended == {"type": "call.ended", "outcome": "qualified", "reason": "all_answers_qualify"}
    assert await client.drain() == 1000
    answers = client.of("answer")
    assert [(a["question"], a["value"], a["understood"], a["attempt"]) for a in answers] == [
        ("salaried", True, True, 1),
        ("monthly_salary", 40000, True, 1),
        ("metro_city", True, True, 1),
    ]
    assert [t["text"] for t in client.of("transcript")] == ["yes I am", "yeah, about forty thousand a month", "yes, in Mumbai"]
    assert "within 10 minutes" in client.of("bot.speech.started")[-1]["text"]
    latency = client.of("latency")
    assert [l["turn"] for l in latency] == [1, 2, 3]
    assert all(l["asr_ms"] is None and l["response_ms"] >= l["tts_first_audio_ms"] >= 0 for l in latency)
    call, rows, turns, samples = await stored(client.call_id)
    assert call.status == "ended" and call.outcome == "qualified" and call.callback_due_at is not None
    assert [(a.question_key, a.value, a.qualifies) for a in rows] == [
        ("salaried", True, True), ("monthly_salary", 40000, True), ("metro_city", True, True)
    ]
    assert [t.speaker for t in turns] == ["bot", "caller", "bot", "caller", "bot", "caller", "bot"]
    assert {s.stage for s in samples} == {"nlu", "tts_first_audio", "response"}


async def test_rejected_at_first_failing_answer():
    client = await typed_call("home-renovation", ["yes, we own it", "only about five thousand dollars"])
    ended = await client.until("call.ended")
    assert ended["outcome"] == "rejected" and ended["reason"] == "not_qualified:budget"
    # No third question was asked.
    assert not any("three months" in e["text"] for e in client.of("bot.speech.started"))
    assert await client.drain() == 1000
    call, rows, _, _ = await stored(client.call_id)
    assert call.outcome == "rejected" and call.callback_due_at is None
    assert [a.question_key for a in rows] == ["owns_home", "budget"]


async def test_incomplete_after_too_many_unclear_answers():
    client = await typed_call("home-renovation", ["hmm", "I'm not sure", "what's the weather like"])
    ended = await client.until("call.ended")
    assert ended["outcome"] == "incomplete" and ended["reason"] == "unclear:owns_home"
    assert [a["attempt"] for a in client.of("answer")] == [1, 2, 3]
    assert all(a["value"] is None and a["understood"] is False for a in client.of("answer"))
    call, rows, _, _ = await stored(client.call_id)
    assert rows[0].attempts == 3 and rows[0].understood is False


async def test_hot_lead_transfer_for_renovation():
    client = await typed_call("home-renovation", ["yes", "around fifty thousand dollars", "yes, next month"])
    ended = await client.until("call.ended")
    assert ended["outcome"] == "qualified"
    assert "specialist" in client.of("bot.speech.started")[-1]["text"]


async def test_hangup_ends_incomplete_and_keeps_answers():
    client = await typed_call("quickrupee-loan", ["yes"])
    await client.until("answer")
    await client.send(type="hangup")
    ended = await client.until("call.ended")
    assert ended == {"type": "call.ended", "outcome": "incomplete", "reason": "caller_hangup"}
    assert await client.drain() == 1000
    call, rows, _, _ = await stored(client.call_id)
    assert call.outcome == "incomplete" and [a.question_key for a in rows] == ["salaried"]


async def test_dropped_socket_keeps_everything_said():
    client = await typed_call("quickrupee-loan", ["yes"])
    await client.until("answer")
    await client.close()
    # The end is stored by the server after the socket is gone: poll the database for it
    # (the only place it shows), with a ceiling for a failure, not a timing bound.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        call, rows, turns, _ = await stored(client.call_id)
        if call.status == "ended" or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert call.status == "ended" and call.outcome == "incomplete" and call.end_reason == "caller_disconnected"
    assert [a.question_key for a in rows] == ["salaried"]
    assert any(t.speaker == "caller" and t.text == "yes" for t in turns)


@pytest.mark.parametrize(
    "frame, code",
    [
        ('{"type": "dance"}', "unknown_type"),
        ("{not json", "bad_json"),
        ('["a list"]', "bad_message"),
        ('{"type": "start", "sample_rate": 11025}', "bad_sample_rate"),
        ('{"type": "text", "text": ""}', "bad_message"),
    ],
)
async def test_bad_text_frames_get_non_fatal_errors(frame, code):
    client = await CallClient.start("quickrupee-loan")
    await client.until("bot.speech.ended")
    await client.send_text(frame)
    error = await client.until("error")
    assert error["code"] == code and error["fatal"] is False and error["message"]
    # The call goes on.
    await client.send(type="text", text="yes")
    answer = await client.until("answer")
    assert answer["question"] == "salaried" and answer["value"] is True
    await client.close()


async def test_bad_audio_frames_get_errors_and_the_call_survives():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    await client.send_bytes(b"\x00\x01\x02")
    assert (await client.until("error"))["code"] == "bad_frame"
    await client.send_bytes(b"\x00" * (64 * 1024 + 2))
    assert (await client.until("error"))["code"] == "frame_too_large"
    await client.send(type="text", text="no")
    assert (await client.until("call.ended"))["outcome"] == "rejected"
    await client.close()


async def test_start_after_audio_is_refused():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    await client.send_bytes(b"\x00\x00" * 160)
    await client.send(type="start", sample_rate=8000)
    assert (await client.until("error"))["code"] == "too_late"
    await client.close()


async def test_bad_token_closes_4401():
    created = await create_call("quickrupee-loan")
    for url in (
        f"/ws/calls/{created.call_id}/?token=forged",
        f"/ws/calls/{created.call_id}/",
        f"/ws/calls/{created.call_id}/?token={make_token(str(uuid.uuid4()))}",
    ):
        client = CallClient(url)
        await client.connect()
        assert await client.drain() == 4401


async def test_unknown_call_closes_4404():
    missing = str(uuid.uuid4())
    client = CallClient(f"/ws/calls/{missing}/?token={make_token(missing)}")
    await client.connect()
    assert await client.drain() == 4404


async def test_second_connection_and_finished_call_close_4409():
    created = await create_call("quickrupee-loan")
    first = CallClient(created.ws_url)
    await first.connect()
    await first.until("call.started")
    second = CallClient(created.ws_url)
    await second.connect()
    assert await second.drain() == 4409
    await first.send(type="hangup")
    await first.drain()
    third = CallClient(created.ws_url)
    await third.connect()
    assert await third.drain() == 4409


async def test_foreign_browser_origin_is_refused_but_no_origin_is_allowed():
    created = await create_call("quickrupee-loan")
    evil = CallClient(created.ws_url, headers=[(b"origin", b"https://evil.example")])
    connected = await evil.connect()
    assert not connected
    same = CallClient(created.ws_url, headers=[(b"origin", b"http://localhost:8000")])
    connected = await same.connect()
    assert connected
    assert (await same.next_event())["type"] == "call.started"
    await same.close()


async def test_repeat_request_and_confirmation_flow():
    client = await CallClient.start("quickrupee-loan")
    await client.say_text("sorry, can you repeat that?")
    repeat = await client.until("bot.speech.started")
    assert "salaried" in repeat["text"]
    await client.say_text("yes")
    await client.say_text("twenty seven thousand")
    confirm = await client.until("bot.speech.started")
    assert confirm["text"].startswith("Just to confirm")
    await client.say_text("yes")
    answer = [a for a in client.of("answer") if a["question"] == "monthly_salary"]
    answer = answer[0] if answer else await client.until("answer", question="monthly_salary")
    assert answer["value"] == 27000 and answer["understood"] is True
    await client.close()


async def test_a_flood_of_bad_frames_is_fatal_4400():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("call.started")
    for _ in range(60):
        await client.send_bytes(b"\x01")
    fatal = await client.until("error", fatal=True)
    assert fatal["code"] == "too_many_protocol_errors"
    assert (await client.until("call.ended"))["outcome"] == "error"
    assert await client.drain() == 4400


async def test_a_call_survives_a_quiet_spell_on_any_channel_layer(settings):
    """An idle consumer must keep waiting (redis-py 8's 5 s socket timeout once killed it).
    The quiet spell is the subject, so it is real time: Redis's socket timeout runs on no
    clock of ours."""
    settings.SILENCE_TIMEOUT_S = 0  # no "are you still there?" in this quiet spell
    client = await CallClient.start("quickrupee-loan")
    await client.until("bot.speech.ended")
    await asyncio.sleep(6.5)
    await client.send(type="text", text="yes")
    assert (await client.until("answer"))["value"] is True
    await client.close()


# ---------------------------------------------------------------------------- a silent caller
async def test_a_silent_caller_is_reminded_once_then_the_call_ends(settings, short_bot):
    settings.SILENCE_TIMEOUT_S = 0.5
    client = await CallClient.start("short")
    await client.until("bot.speech.ended", turn=0)
    reminder = await client.until("bot.speech.started", timeout=30)
    assert reminder["text"] == "Hello? Own?" and reminder["turn"] == 1
    await client.until("bot.speech.ended", turn=1)
    goodbye = await client.until("bot.speech.started", timeout=30)
    assert goodbye["text"] == "Nobody there. Bye."
    assert await client.until("call.ended") == {"type": "call.ended", "outcome": "incomplete", "reason": "caller_silent"}
    assert await client.drain() == 1000
    call, answers, turns, _ = await stored(client.call_id)
    assert (call.outcome, call.end_reason, answers) == ("incomplete", "caller_silent", [])
    assert [(t.speaker, t.text) for t in turns] == [
        ("bot", "Hi. Own?"), ("bot", "Hello? Own?"), ("bot", "Nobody there. Bye.")
    ]


async def test_an_answer_after_the_reminder_carries_the_call_on(settings, short_bot):
    # Roomy: each answer must beat the next silence window even on a loaded machine.
    settings.SILENCE_TIMEOUT_S = 2
    client = await CallClient.start("short")
    await client.until("bot.speech.ended", turn=0)
    await client.until("bot.speech.started", text="Hello? Own?", timeout=30)
    await client.say_text("yes we own it")
    assert (await client.until("answer"))["value"] is True
    assert (await client.until("bot.speech.started"))["text"] == "Soon?"
    # The answer reset the count: this question gets its own reminder before the call ends.
    assert (await client.until("bot.speech.started", timeout=30))["text"] == "Hello? Soon?"
    await client.say_text("yes")
    assert (await client.until("call.ended"))["outcome"] == "qualified"
    await client.close()


async def test_a_caller_still_typing_is_not_hurried(settings, short_bot):
    # A pause well inside the window: a late-running test task must not turn it into a silence.
    settings.SILENCE_TIMEOUT_S = 5
    client = await CallClient.start("short")
    await client.until("bot.speech.ended", turn=0)
    await asyncio.sleep(0.8)
    await client.send(type="text", text="yes")  # within the timeout: no reminder
    assert (await client.until("bot.speech.started"))["text"] == "Soon?"
    await client.close()


async def test_response_ms_counts_from_when_the_server_read_the_frame():
    """The production server stamps each frame when it reads it off the socket
    (config.server, `received_at` in the ASGI message): a message that waited inside
    the worker before the call got to it is timed from its arrival (protocol §3)."""
    import json
    import time

    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    waited = 0.4  # as if it had sat in the worker's queue this long
    await client.socket.comm.send_input(
        {"type": "websocket.receive", "text": json.dumps({"type": "text", "text": "yes I am"}),
         "received_at": time.perf_counter() - waited}
    )
    (latency,) = [await client.until("latency")]
    assert latency["response_ms"] >= waited * 1000
    await client.close()
