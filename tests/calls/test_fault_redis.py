"""Done-when (Redis): our own redis-server (REDIS_URL, the cache and the channel layer
all point at it) is killed during a live call; the call finishes with the right
outcome and loses nothing, new calls can start while it is down (the rate limit fails
open, admission counts this worker's own lines) and once it is back, and dashboard
updates flow again."""
from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.core.cache import caches
from django.test import AsyncClient

from calls.models import Call
from calls.persistence import broadcast
from devtools.callclient import CallClient
from tests.faults import RedisServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.speech, pytest.mark.backend]


@pytest.fixture
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url  # admission control across workers reads it (calls.worker.admission)
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "health_check_interval": 1}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url, "OPTIONS": options}}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": server.url, "socket_timeout": None, "socket_connect_timeout": 0.5, "health_check_interval": 1}]},
        }
    }
    # Redis down fails at once (connection refused); the bound only has to hold for a
    # healthy send, so it is roomy enough for a loaded machine.
    settings.BROADCAST_TIMEOUT_S = 5
    channel_layers.backends.clear()
    yield server
    channel_layers.backends.clear()
    server.close()


async def _stored(call_id: str) -> tuple[Call, list]:
    @database_sync_to_async
    def load():
        call = Call.objects.get(pk=call_id)
        return call, list(call.answers.order_by("order").values_list("question_key", "value"))

    return await load()


async def _dashboard_gets_updates() -> bool:
    import redis

    layer = get_channel_layer()
    channel = await layer.new_channel()

    async def once_more_on_a_dropped_connection(command, *args):
        # Each pooled connection from before a restart fails once, as for any client;
        # how many the pool holds depends on timing, so every command gets the retry.
        try:
            return await command(*args)
        except redis.ConnectionError:
            return await command(*args)

    await once_more_on_a_dropped_connection(layer.group_add, broadcast.LEADS_GROUP, channel)
    try:
        assert await broadcast.send_lead_update({"type": "lead.updated", "call_id": "probe"})

        async def the_probe() -> dict:
            # A call's own update, still on its way when the probe joined, may come first.
            while (message := await once_more_on_a_dropped_connection(layer.receive, channel))["call_id"] != "probe":
                pass
            return message

        return (await asyncio.wait_for(the_probe(), 10))["call_id"] == "probe"
    finally:
        await once_more_on_a_dropped_connection(layer.group_discard, broadcast.LEADS_GROUP, channel)


async def test_a_redis_outage_mid_call_loses_nothing(brief_bots, own_redis):
    assert await _dashboard_gets_updates()
    client = await CallClient.start("quickrupee-loan")
    await client.say_text("yes I am")
    await client.until("answer", question="salaried")

    own_redis.stop()  # Redis dies mid-call

    await client.say_text("about forty thousand a month")
    await client.say_text("yes, in Mumbai")
    ended = await client.until("call.ended")
    assert ended["outcome"] == "qualified"
    assert await client.drain() == 1000
    call, answers = await _stored(client.call_id)
    assert call.outcome == "qualified" and [k for k, _ in answers] == ["salaried", "monthly_salary", "metro_city"]

    # While Redis is down a new call can still be started: the rate limit fails open and
    # admission counts this worker's own lines (issue 31 C3).
    response = await AsyncClient().post("/api/calls/", data=json.dumps({"bot": "quickrupee-loan"}), content_type="application/json")
    assert response.status_code == 201

    own_redis.start()  # back on the same port
    caches["default"].close()
    second = await CallClient.start("quickrupee-loan")
    await second.until("call.started")
    await second.send(type="hangup")
    assert (await second.until("call.ended"))["outcome"] == "incomplete"
    assert await _dashboard_gets_updates()
