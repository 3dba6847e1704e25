"""Calls do not depend on Redis: the call socket never joins the channel layer, and a
dashboard broadcast to a dead or black-holed Redis is bounded and logged."""
from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from channels.db import database_sync_to_async

from calls.models import Call
from calls.persistence import broadcast
from calls.transport.browser import CallConsumer
from devtools.callclient import CallClient
from tests.faults import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blackhole_redis(settings):
    """A 'Redis' that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    from channels.layers import channel_layers

    settings.BROADCAST_TIMEOUT_S = 0.5
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": None, "socket_connect_timeout": 0.5}]},
        }
    }
    channel_layers.backends.clear()
    yield port
    channel_layers.backends.clear()
    listener.close()


@pytest.mark.speech  # the bot speaks its lines through Piper
async def test_the_call_consumer_has_no_channel_layer(brief_bots):
    client = await CallClient.start("quickrupee-loan")
    await client.until("call.started")
    assert CallConsumer.channel_layer_alias not in __import__("django.conf").conf.settings.CHANNEL_LAYERS
    from channels.layers import get_channel_layer

    assert get_channel_layer(CallConsumer.channel_layer_alias) is None
    await client.close()


@pytest.mark.speech
async def test_a_black_holed_redis_neither_stalls_nor_breaks_a_call(brief_bots, blackhole_redis, caplog):
    with caplog.at_level(logging.WARNING, logger="calls.persistence.broadcast"):
        client = await CallClient.start("quickrupee-loan")
        for text in ("yes I am", "about forty thousand a month", "yes, Mumbai"):
            await client.say_text(text)
        ended = await client.until("call.ended", timeout=30)
        assert ended["outcome"] == "qualified"
        call = await database_sync_to_async(Call.objects.get)(pk=client.call_id)
        assert call.status == "ended" and call.outcome == "qualified"
        # The broadcasts were scheduled without waiting; each ends in a logged timeout.
        await wait_for(lambda: "dashboard broadcast for call" in caplog.text, timeout=10)


async def test_a_broadcast_is_bounded_by_its_timeout(blackhole_redis, caplog):
    with caplog.at_level(logging.WARNING, logger="calls.persistence.broadcast"):
        ok = await asyncio.wait_for(broadcast.send_lead_update({"type": "lead.updated", "call_id": "x"}), 5)
    assert ok is False and "timed out" in caplog.text or "failed" in caplog.text
