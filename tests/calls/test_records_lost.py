"""Nothing is dropped silently (issue 31 C5): each loss is counted in
`voicebot_records_lost_total{what}` and logged with its call id (event `records.lost`).

- a caller turn dropped because MAX_QUEUED_TURNS turns already wait for the bot
  (calls/runtime/turns.py), driven through a live call whose turn worker is held
  on its first turn (the socket is slow to take the transcript);
- a row dropped because STORE_MAX_PENDING writes already wait, and rows given up
  after STORE_OUTAGE_S of database outage (calls/persistence/write_queue.py).
The alert on any of them is unit-tested with promtool (deploy/prometheus/alerts_test.yml).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connections
from prometheus_client import REGISTRY

from calls.persistence import lifecycle
from calls.persistence.records import QueuedCallRecords
from calls.persistence.write_queue import WriteQueue
from calls.runtime.pipeline import CallPipeline
from calls.runtime.turns import MAX_QUEUED_TURNS
from tests.clock import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)


def lost(what: str) -> float:
    return REGISTRY.get_sample_value("voicebot_records_lost_total", {"what": what}) or 0.0


def loss_logs(caplog: pytest.LogCaptureFixture, call_id: str, what: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", "") == "records.lost"
            and getattr(r, "call_id", "") == call_id and getattr(r, "what", "") == what and call_id in r.getMessage()]


class SlowSocket:
    """An Output that holds the first transcript until `go` is set (a socket that stalls)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.stalled = asyncio.Event()
        self.go = asyncio.Event()

    async def send_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event["type"] == "transcript" and not self.go.is_set():
            self.stalled.set()
            await self.go.wait()

    async def send_audio(self, pcm: bytes) -> None:
        pass

    async def close(self, code: int) -> None:
        pass


@pytest.mark.speech  # the bot speaks its greeting through the real Piper voice
async def test_a_caller_turn_dropped_from_a_full_queue_is_counted_and_logged(brief_bots, settings, caplog):
    from bots.models import Bot

    settings.SILENCE_TIMEOUT_S = 0
    bot = await database_sync_to_async(Bot.objects.get)(slug="quickrupee-loan")
    created = await database_sync_to_async(lifecycle.create_call)(bot, mode="push_to_talk")
    ctx = await database_sync_to_async(lifecycle.claim_call)(str(created.pk))
    out, clock = SlowSocket(), FakeClock()
    pipeline = await CallPipeline.open(ctx, out, records=QueuedCallRecords(ctx.call_id), clock=clock)
    assert pipeline is not None
    await pipeline.speaker.wait()
    await clock.advance(30)  # the greeting has played out
    before = lost("caller_turn")
    typed = json.dumps({"type": "text", "text": "yes I am"})
    await pipeline.on_message(typed)
    await out.stalled.wait()  # the turn worker is held on turn 1
    with caplog.at_level(logging.WARNING, logger="calls.runtime.turns"):
        for _ in range(MAX_QUEUED_TURNS + 1):  # turns 2..10: eight wait, the ninth finds the queue full
            await pipeline.on_message(typed)
    assert lost("caller_turn") == before + 1
    (record,) = loss_logs(caplog, ctx.call_id, "caller_turn")
    assert "turn 10" in record.getMessage()
    out.go.set()
    await pipeline.end("incomplete", "caller_hangup")
    await pipeline.lifecycle.wait_closed()
    await database_sync_to_async(connections.close_all)()


async def test_writes_dropped_from_a_full_write_queue_are_counted_and_logged(call, caplog):
    call_id = str(call.pk)
    before = lost("write_overflow")
    store = WriteQueue(call_id, max_pending=10)
    with caplog.at_level(logging.ERROR, logger="calls.persistence.write_queue"):
        for i in range(15):
            store.put(lifecycle.add_turn, call_id, i, "caller", "x")
    assert store.lost == 5 and lost("write_overflow") == before + 5
    assert len(loss_logs(caplog, call_id, "write_overflow")) == 5
    await store.close(timeout=None)


async def test_writes_given_up_after_the_outage_window_are_counted_and_logged(call, caplog):
    call_id = str(call.pk)
    back = threading.Event()  # never set: the database stays down

    def write(index: int) -> None:
        if not back.is_set():
            raise OperationalError("server closed the connection unexpectedly")

    before = lost("write_outage")
    store = WriteQueue(call_id, attempts=2, outage_s=0.05, backoff=0.001, max_backoff=0.01)
    with caplog.at_level(logging.ERROR, logger="calls.persistence.write_queue"):
        store.put(write, 1)
        store.put(write, 2)
        assert await store.close(timeout=5)
    assert store.lost == 2 and lost("write_outage") == before + 2
    assert loss_logs(caplog, call_id, "write_outage")
