"""A draining worker (calls.worker.drain, on the registry calls.worker.registry): readiness, busy refusals and the end of
calls left at the deadline, through the real API and consumer in-process.
Signals and a real server process are covered in tests/config/test_server.py."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from calls.models import Answer, Call
from calls.worker.drain import drain
from calls.worker.registry import live_calls
from devtools.callclient import CallClient, create_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("call_bots")]


@pytest.fixture
def draining():
    """This process draining, as after SIGTERM; back to normal afterwards."""
    live_calls.draining = True
    yield live_calls
    live_calls.draining = False


async def test_readyz_is_200_until_the_worker_drains_and_healthz_stays_200(async_client, settings):
    ready = await async_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["calls"] == "ok"
    live_calls.draining = True
    try:
        draining = await async_client.get("/readyz")
        assert draining.status_code == 503
        assert (draining.json()["ready"], draining.json()["checks"]["calls"]) == (False, "draining")
        assert (await async_client.get("/healthz")).status_code == 200
    finally:
        live_calls.draining = False


async def test_a_draining_worker_refuses_new_calls_busy_over_http(async_client, draining):
    response = await async_client.post("/api/calls/", data={"bot": "quickrupee-loan"}, content_type="application/json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"
    assert int(response["Retry-After"]) >= 1
    assert await database_sync_to_async(Call.objects.count)() == 0


async def test_a_draining_worker_refuses_a_socket_busy_1013_and_leaves_the_call_for_another(draining):
    draining.draining = False
    created = await create_call("quickrupee-loan")
    draining.draining = True
    client = CallClient(created.ws_url)
    assert await client.connect(timeout=30)
    event = await client.next_event(timeout=10)
    assert (event["type"], event["code"], event["fatal"]) == ("error", "busy", True)
    assert (await client.next_event(timeout=10), client.close_code, client.audio_bytes) == (None, 1013, 0)
    call = await database_sync_to_async(Call.objects.get)(pk=created.call_id)
    assert call.status == Call.Status.CREATED  # another worker can still take it


async def test_drain_ends_a_call_still_running_at_the_deadline_as_shutdown_with_answers_stored():
    client = await CallClient.start("quickrupee-loan")
    await client.say_text("yes I am salaried")
    await client.until("answer")
    assert len(live_calls) == 1
    try:
        result = await drain(timeout=0)
    finally:
        live_calls.draining = False
    ended = await client.until("call.ended")
    assert (ended["outcome"], ended["reason"]) == ("incomplete", "shutdown")
    assert await client.drain() == 1000
    assert (result.finished, result.ended) == (0, 1)
    assert len(live_calls) == 0
    call = await database_sync_to_async(Call.objects.get)(pk=client.call_id)
    assert (call.status, call.outcome, call.end_reason) == ("ended", "incomplete", "shutdown")
    assert call.end_provisional  # the drain decided nothing: a later decision of the call would replace it
    assert call.end_reason_label == "server shut down"
    answers = await database_sync_to_async(list)(Answer.objects.filter(call=call).values_list("question_key", "value"))
    assert answers == [("salaried", True)]


async def test_drain_waits_for_a_call_to_finish_by_itself():
    client = await CallClient.start("quickrupee-loan")
    await client.say_text("yes I am salaried")
    await client.say_text("fifty thousand a month")
    await client.until("bot.speech.ended")
    draining = asyncio.ensure_future(drain(timeout=60))
    await asyncio.sleep(0)  # let the drain begin: the call is in progress when it does
    try:
        await client.send(type="text", text="I live in Mumbai")
        ended = await client.until("call.ended")
        result = await asyncio.wait_for(draining, 60)
    finally:
        live_calls.draining = False
    assert ended["outcome"] == "qualified"
    assert (result.finished, result.ended) == (1, 0)
