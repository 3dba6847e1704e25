"""Floods of valid input against a live call (calls/runtime/limits.py wired into calls/runtime/pipeline.py):
each is refused with clear errors, a sustained one ends the call with close 4400, and
nothing refused is written.

Two ways in: `CallPipeline` driven directly with a fake clock (exact counts, no timing),
and the real socket (what a client sees), with bounds that hold however fast the
machine is. Marked `speech`: the bot speaks its greeting through the real Piper voice.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from calls.models import Answer, Call, Turn
from calls.persistence import lifecycle
from calls.persistence.records import QueuedCallRecords
from calls.runtime.ports import CallContext
from calls.runtime.limits import MAX_BREACHES, MESSAGE_BURST
from calls.runtime.pipeline import CallPipeline
from devtools.callclient import CallClient
from devtools.speech import silence
from tests.clock import FakeClock

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

REPEAT = json.dumps({"type": "text", "text": "can you repeat that"})


@pytest.fixture(autouse=True)
async def _bots(brief_bots, settings):
    settings.CALL_AUDIO_SPEED, settings.CALL_AUDIO_SLACK_S = 1.5, 1.0  # the shipped limits (tests lift them)
    settings.SILENCE_TIMEOUT_S = 0
    yield brief_bots
    await database_sync_to_async(connections.close_all)()


class Recorder:
    """A call's Output that keeps what the caller would get."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.close_code: int | None = None

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def send_audio(self, pcm: bytes) -> None:
        pass

    async def close(self, code: int) -> None:
        self.close_code = code

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


@database_sync_to_async
def claimed_call(bot: str, mode: str) -> CallContext:
    from bots.models import Bot

    call = lifecycle.create_call(Bot.objects.get(slug=bot), mode=mode)
    return lifecycle.claim_call(str(call.pk))


async def live_pipeline(clock: FakeClock, bot: str = "quickrupee-loan", mode: str = "push_to_talk") -> tuple[Recorder, CallPipeline]:
    out = Recorder()
    ctx = await claimed_call(bot, mode)
    pipeline = await CallPipeline.open(ctx, out, records=QueuedCallRecords(ctx.call_id), clock=clock)
    assert pipeline is not None
    await pipeline.speaker.wait()  # the greeting is out
    return out, pipeline


@database_sync_to_async
def stored(call_id: str) -> tuple[Call, list[Turn], list[Answer]]:
    call = Call.objects.get(pk=call_id)
    return call, list(call.turns.filter(speaker="caller")), list(call.answers.all())


def assert_ended_for_abuse(errors: list[dict[str, Any]], ended: list[dict[str, Any]], close_code: int | None, refused_code: str) -> None:
    refusals = [e for e in errors if not e["fatal"]]
    assert refusals and {e["code"] for e in refusals} <= {refused_code, "rate_limited"}
    assert all(e["message"] for e in refusals)
    fatal = [e for e in errors if e["fatal"]]
    assert [e["code"] for e in fatal] == ["abuse_limit"] and fatal[0]["message"]
    assert ended == [{"type": "call.ended", "outcome": "error", "reason": "abuse_limit"}]
    assert close_code == 4400


async def test_a_thousand_repeat_requests_are_refused_and_end_the_call_4400():
    clock = FakeClock()  # time stands still: the whole flood lands in one instant
    out, pipeline = await live_pipeline(clock)
    for _ in range(1000):
        await pipeline.on_message(REPEAT)
    errors = out.of("error")
    assert_ended_for_abuse(errors, out.of("call.ended"), out.close_code, "rate_limited")
    # The bucket's burst was taken, then every message was refused until the limit.
    assert len([e for e in errors if e["code"] == "rate_limited"]) == MAX_BREACHES - 1
    call, caller_turns, answers = await stored(pipeline.ctx.call_id)
    assert (call.status, call.outcome, call.end_reason) == ("ended", "error", "abuse_limit")
    assert len(caller_turns) <= MESSAGE_BURST and len(answers) <= 1  # nothing refused was written


async def test_audio_at_ten_times_real_time_is_refused_and_ends_the_call_4400():
    clock = FakeClock()
    out, pipeline = await live_pipeline(clock, mode="vad")
    frame = silence(20)
    started = clock.now()
    while out.close_code is None:
        await pipeline.on_audio(frame)
        await clock.advance(0.002)  # 20 ms of audio every 2 ms: 10x real time
        assert clock.now() - started < 10, "the flood was never stopped"
    assert_ended_for_abuse(out.of("error"), out.of("call.ended"), out.close_code, "audio_too_fast")
    # 1.5x real time after 1 s of slack is taken; 20 s of refused audio end the call:
    # 10 t = 1 + 1.5 t + 20 -> t = 2.47 s.
    assert clock.now() - started == pytest.approx(21 / 8.5, abs=0.05)
    reports = [e for e in out.of("error") if e["code"] == "audio_too_fast"]
    assert len(reports) == MAX_BREACHES  # the first refused frame, then once per refused second (the last is fatal)
    call, caller_turns, _ = await stored(pipeline.ctx.call_id)
    assert (call.outcome, call.end_reason, caller_turns) == ("error", "abuse_limit", [])


async def test_real_time_audio_is_never_refused():
    clock = FakeClock()
    out, pipeline = await live_pipeline(clock, mode="vad")
    for _ in range(1500):  # 30 s of a microphone
        await pipeline.on_audio(silence(20))
        await clock.advance(0.02)
    assert not out.of("error") and out.close_code is None
    await pipeline.end("incomplete", "caller_hangup")


# ---------------------------------------------------------------------------- over the socket
async def test_start_is_accepted_once_and_a_repeated_start_writes_nothing():
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("call.started")
    await client.send(type="start", sample_rate=8000)
    await client.send(type="start", sample_rate=48000)
    error = await client.until("error")
    assert error["code"] == "duplicate_start" and error["fatal"] is False and error["message"]
    for _ in range(1000):
        await client.send(type="start", sample_rate=48000)
    assert await client.drain() == 4400
    assert_ended_for_abuse(client.of("error"), client.of("call.ended"), client.close_code, "duplicate_start")
    call, caller_turns, _ = await stored(client.call_id)
    assert call.input_sample_rate == 8000 and (call.outcome, call.end_reason) == ("error", "abuse_limit")
    assert caller_turns == []


async def test_audio_pushed_faster_than_real_time_over_the_socket_ends_the_call_4400():
    """40 s of audio as fast as the socket takes it (far beyond 10x real time)."""
    client = await CallClient.start("quickrupee-loan", mode="vad")
    await client.until("bot.speech.ended")
    await client.send_audio(silence(40_000))
    assert await client.drain() == 4400
    assert_ended_for_abuse(client.of("error"), client.of("call.ended"), client.close_code, "audio_too_fast")
    call, caller_turns, answers = await stored(client.call_id)
    assert (call.outcome, call.end_reason, caller_turns, answers) == ("error", "abuse_limit", [], [])


async def test_a_flood_of_repeat_requests_over_the_socket_ends_the_call():
    """However the flood interleaves with the turns it asks for, the call ends early,
    refused messages get clear errors, and no more rows are written than the bucket let in.
    (The dialogue may end it first: repeats count as unclear answers after two.)"""
    client = await CallClient.start("quickrupee-loan", mode="push_to_talk")
    await client.until("bot.speech.ended")
    for _ in range(1000):
        await client.send_text(REPEAT)
    code = await client.drain()
    ended = client.of("call.ended")
    assert len(ended) == 1
    if code == 4400:
        assert_ended_for_abuse(client.of("error"), ended, code, "rate_limited")
    else:
        assert (code, ended[0]["outcome"], ended[0]["reason"]) == (1000, "incomplete", "unclear:salaried")
    assert all(e["code"] in {"rate_limited", "abuse_limit"} and e["message"] for e in client.of("error"))
    call, caller_turns, answers = await stored(client.call_id)
    assert call.status == "ended" and len(caller_turns) <= MESSAGE_BURST and len(answers) <= 1
