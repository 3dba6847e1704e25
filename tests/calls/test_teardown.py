"""A call's teardown always runs (calls/runtime/call_lifecycle.py, issue 31 C7).

Whatever the socket does at the end (sending raises because it is already gone,
closing raises), the call leaves the worker's registry, `voicebot_calls_active`
goes back down, its timers stop and its records are stored and closed. Each
failure is injected through the call's `Output`, the one place a socket reaches
the runtime; the call runs on a fake clock, so "its timers stop" is checked by
moving time past the call's time limit and seeing nothing more happen. (A
carrier's REST hang-up that fails: tests/telephony/test_hangup_failures.py.)
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from prometheus_client import REGISTRY

from calls.models import Call
from calls.persistence import lifecycle
from calls.persistence.records import QueuedCallRecords
from calls.runtime.pipeline import CallPipeline
from calls.worker.registry import LiveCalls
from tests.clock import FakeClock

pytestmark = [pytest.mark.speech, pytest.mark.django_db(transaction=True)]

BOT = "quickrupee-loan"
TEARDOWN_S = 30  # a bound, never a pause: the records are closed long before on any machine


@pytest.fixture(autouse=True)
async def _bots(brief_bots, settings):
    # A silence watch is armed after each bot line (a timer to stop); it would fire only
    # after the call's time limit (CALL_MAX_SECONDS, 600 s), so it never ends a call here.
    settings.SILENCE_TIMEOUT_S = 900
    yield brief_bots
    await database_sync_to_async(connections.close_all)()


class BreakingSocket:
    """An Output whose socket fails: once `broken`, `send_event` (and `send_audio`)
    raise as a socket already gone does, when `fails` is "send_event"; `close` always
    raises when `fails` is "close"."""

    def __init__(self, fails: str) -> None:
        self.fails = fails
        self.broken = False
        self.events: list[dict[str, Any]] = []

    def _check(self) -> None:
        if self.broken and self.fails == "send_event":
            raise ConnectionResetError("the socket is gone")

    async def send_event(self, event: dict[str, Any]) -> None:
        self._check()
        self.events.append(event)

    async def send_audio(self, pcm: bytes) -> None:
        self._check()

    async def close(self, code: int) -> None:
        if self.fails == "close":
            raise ConnectionResetError("the socket is gone")


def calls_active() -> float:
    return REGISTRY.get_sample_value("voicebot_calls_active", {"bot": BOT, "channel": "web"}) or 0.0


@database_sync_to_async
def new_call() -> Any:
    from bots.models import Bot

    call = lifecycle.create_call(Bot.objects.get(slug=BOT), mode="push_to_talk")
    return lifecycle.claim_call(str(call.pk))


@database_sync_to_async
def stored(call_id: str) -> Call:
    return Call.objects.get(pk=call_id)


async def running_call(fails: str) -> tuple[CallPipeline, BreakingSocket, QueuedCallRecords, LiveCalls, FakeClock]:
    """A call on a fresh registry and a fake clock, its greeting out and its timers armed."""
    ctx = await new_call()
    out, registry, clock = BreakingSocket(fails), LiveCalls(), FakeClock()
    records = QueuedCallRecords(ctx.call_id)
    pipeline = await CallPipeline.open(ctx, out, records=records, registry=registry, clock=clock)
    assert pipeline is not None
    await pipeline.speaker.wait()  # the greeting is sent ...
    await clock.advance(10)  # ... and has played out
    assert registry.running() == [pipeline]
    assert clock.sleeping >= 2  # the call's time limit and the silence watch
    return pipeline, out, records, registry, clock


async def assert_torn_down(
    call_id: str, out: BreakingSocket, records: QueuedCallRecords, registry: LiveCalls, clock: FakeClock,
    active_before: float,
) -> Call:
    assert await records.queue.wait_closed(TEARDOWN_S), "the call's records were never closed"
    assert registry.running() == [] and len(registry) == 0  # it left the worker's registry
    assert calls_active() == active_before  # the gauge went back down
    assert clock.sleeping == 0  # no timer of the call is waiting
    sent = len(out.events)
    await clock.advance(2000)  # past the call's time limit and the silence window: nothing more happens
    assert len(out.events) == sent
    call = await stored(call_id)
    assert call.status == "ended"  # the end was stored
    return call


@pytest.mark.parametrize("ending", ["a caller turn", "the drain", "the time limit"])
async def test_a_socket_that_breaks_mid_call_still_tears_the_call_down(ending):
    before = calls_active()
    pipeline, out, records, registry, clock = await running_call("send_event")
    assert calls_active() == before + 1
    out.broken = True
    if ending == "a caller turn":  # the turn's events cannot be sent: the turn fails, the call ends
        await pipeline.on_message(json.dumps({"type": "text", "text": "yes I am salaried"}))
    elif ending == "the drain":
        await pipeline.end_for_shutdown()
    else:
        await clock.advance(600)  # CALL_MAX_SECONDS after the start
    call = await assert_torn_down(pipeline.ctx.call_id, out, records, registry, clock, before)
    assert (call.outcome, call.end_reason) == {
        "a caller turn": ("error", "server_error"), "the drain": ("incomplete", "shutdown"),
        "the time limit": ("incomplete", "call_time_limit"),
    }[ending]


@pytest.mark.parametrize("ending", ["the bot's closing line", "the drain"])
async def test_a_close_that_raises_still_tears_the_call_down(ending):
    before = calls_active()
    pipeline, out, records, registry, clock = await running_call("close")
    if ending == "the bot's closing line":
        await pipeline.on_message(json.dumps({"type": "text", "text": "no I am not salaried"}))
    else:
        await pipeline.end_for_shutdown()
    call = await assert_torn_down(pipeline.ctx.call_id, out, records, registry, clock, before)
    expected = ("rejected", "not_qualified:salaried") if ending == "the bot's closing line" else ("incomplete", "shutdown")
    assert (call.outcome, call.end_reason) == expected
    assert out.events[-1] == {"type": "call.ended", "outcome": expected[0], "reason": expected[1]}
