"""Admission control (protocol §3, calls/worker/admission.py): a full server says busy,
and the calls already running are not touched."""
from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from calls.models import Call
from calls.worker.registry import live_calls
from devtools.callclient import CallClient, create_call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _bots(brief_bots, short_bot):
    yield
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def _fresh_registry():
    """Sockets other tests left open must not hold (or free) this worker's slots."""
    live_calls._entries.clear()
    yield
    live_calls._entries.clear()


@pytest.fixture
def one_line(settings):
    """A worker with room for one call."""
    settings.MAX_CALLS_PER_WORKER = 1
    return settings


async def post_call(bot: str = "short"):
    return await AsyncClient().post("/api/calls/", data=json.dumps({"bot": bot}), content_type="application/json")


async def finish_short_call(client: CallClient) -> dict:
    await client.say_text("yes")
    await client.say_text("yes")
    return await client.until("call.ended")


async def test_a_socket_to_a_full_worker_is_told_busy_and_closed_1013(one_line):
    waiting = await create_call("short")  # created while there was room
    first = await CallClient.start("short")
    await first.until("bot.speech.started", turn=0)

    second = CallClient(waiting.ws_url)
    connected = await second.connect(timeout=30)
    assert connected
    busy = await second.next_event()
    assert busy == {"type": "error", "code": "busy", "message": busy["message"], "fatal": True}
    assert await second.drain() == 1013
    assert (await database_sync_to_async(Call.objects.get)(pk=waiting.call_id)).status == "created"

    # The call in progress goes on as if nothing happened.
    assert (await finish_short_call(first))["outcome"] == "qualified"
    assert await first.drain() == 1000
    assert "error" not in first.types()

    # Its slot is free again: the busy caller's same URL now works.
    retry = CallClient(waiting.ws_url)
    assert await retry.connect(timeout=30)
    assert (await retry.next_event())["type"] == "call.started"
    await retry.close()


async def test_new_calls_get_503_with_retry_after_while_every_line_is_busy(one_line):
    first = await CallClient.start("short")
    await first.until("bot.speech.started", turn=0)
    response = await post_call()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert int(response["Retry-After"]) >= 1

    assert (await finish_short_call(first))["outcome"] == "qualified"
    await first.drain()
    assert (await post_call()).status_code == 201


async def test_a_draining_worker_takes_no_calls_but_keeps_its_own(settings):
    first = await CallClient.start("short")
    await first.until("bot.speech.started", turn=0)
    try:
        live_calls.stop_admitting()
        assert (await post_call()).status_code == 503
        assert [p.ctx.call_id for p in live_calls.running()] == [first.call_id]
        assert (await finish_short_call(first))["outcome"] == "qualified"
    finally:
        live_calls.admitting = True


async def until_no_live_calls() -> None:
    """Wait (bounded) until the sockets and pipelines that ended have left the registry."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    unwatch = live_calls.watch(lambda: loop.call_soon_threadsafe(changed.set))
    try:
        async with asyncio.timeout(30):
            while len(live_calls):
                changed.clear()
                await changed.wait()
    finally:
        unwatch()


async def test_a_second_socket_for_a_running_call_leaves_its_line_heartbeat_and_drain_alone():
    """One registry serves admission, the heartbeat and the drain: a refused duplicate
    socket must not take the running call out of any of them."""
    created = await create_call("short")
    first = CallClient(created.ws_url)
    assert await first.connect(timeout=30)
    await first.until("bot.speech.started", turn=0)
    second = CallClient(created.ws_url)
    await second.connect(timeout=30)
    assert await second.drain() == 4409

    assert len(live_calls) == 1  # one line taken
    assert live_calls.call_ids() == [created.call_id]  # still stamped by the heartbeat
    assert [p.ctx.call_id for p in live_calls.running()] == [created.call_id]  # a drain waits for it

    assert (await finish_short_call(first))["outcome"] == "qualified"
    assert await first.drain() == 1000
    await until_no_live_calls()
    assert live_calls.call_ids() == [] and live_calls.running() == []


async def test_one_client_may_hold_only_so_many_open_calls(settings):
    settings.MAX_CALLS_PER_CLIENT = 2
    assert (await post_call()).status_code == 201
    assert (await post_call()).status_code == 201
    third = await post_call()
    assert third.status_code == 429 and third.json()["error"]["code"] == "too_many_calls"
    assert int(third["Retry-After"]) >= 1


def test_redis_down_admission_counts_this_workers_own_lines(settings):
    """Issue 31 C3: POST /api/calls/ must not fail because the shared count is unreadable."""
    import socket

    from calls.worker import admission

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.MAX_CALLS_PER_WORKER = 3
    line = live_calls.enter("a-call")
    try:
        assert admission.server_free_slots() == 2
        assert admission.server_free_slots() == 2  # within REDIS_RETRY_S Redis is not asked again
    finally:
        live_calls.release(line)
