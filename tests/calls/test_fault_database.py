"""Done-when (PostgreSQL): the database becomes unreachable for 5 s mid-call (a TCP
proxy in front of PostgreSQL is cut: connections dropped, new ones refused). The
caller notices nothing: the call goes on, `call.ended` comes on time while the
database is still down, and once it is back every answer, turn and latency sample
is stored."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import connection, connections

from calls.models import Call
from calls.persistence.write_queue import settle, writers
from devtools.callclient import CallClient
from tests.faults import TcpProxy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.speech,
    pytest.mark.allow_skip("the fault is a network cut: PostgreSQL only (the SQLite pass has no network to cut)"),
]

OUTAGE_S = 5.0


@pytest.fixture
def database_through_proxy(settings):
    """Every new database connection of the process goes through a TcpProxy."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    db = connections.settings["default"]  # the one dict every thread's connection is made from
    assert connection.settings_dict is db
    host, port = db["HOST"], db["PORT"]
    proxy = TcpProxy(host or "127.0.0.1", int(port or 5432))
    writers.close_connections()
    db["HOST"], db["PORT"] = "127.0.0.1", str(proxy.port)
    settings.STORE_FLUSH_S = 1.0
    yield proxy
    proxy.restore()
    writers.close_connections()
    db["HOST"], db["PORT"] = host, port
    proxy.close()
    connection.close()


@database_sync_to_async
def _stored(call_id: str) -> dict:
    call = Call.objects.get(pk=call_id)
    return {
        "status": call.status,
        "outcome": call.outcome,
        "answers": list(call.answers.order_by("order").values_list("question_key", "value", "attempts")),
        "caller_turns": call.turns.filter(speaker="caller").count(),
        "bot_turns": call.turns.filter(speaker="bot").count(),
        "latency": call.latency_samples.count(),
    }


async def test_a_database_outage_mid_call_loses_nothing(brief_bots, database_through_proxy, settings):
    loop = asyncio.get_running_loop()
    client = await CallClient.start("quickrupee-loan")
    await client.say_text("yes I am")
    await client.until("answer", question="salaried")

    database_through_proxy.cut()  # PostgreSQL unreachable from here on
    cut_at = loop.time()
    await client.say_text("about forty thousand a month")
    await client.say_text("yes, in Mumbai")
    await client.until("bot.speech.ended")  # the closing line
    closing_sent = loop.time()
    ended = await client.until("call.ended")
    # On time: the end waits for the database at most STORE_FLUSH_S (plus a loaded machine's slack).
    assert ended["outcome"] == "qualified" and loop.time() - closing_sent < settings.STORE_FLUSH_S + 3
    assert await client.drain() == 1000
    assert loop.time() - cut_at < OUTAGE_S, "the call should have ended while the database was still down"

    await asyncio.sleep(OUTAGE_S - (loop.time() - cut_at))  # the fault lasts 5 s (its length, not a wait for an event)
    database_through_proxy.restore()
    assert await settle(30), "the held writes did not land once the database was back"

    stored = await _stored(client.call_id)
    assert (stored["status"], stored["outcome"]) == ("ended", "qualified")
    assert stored["answers"] == [("salaried", True, 1), ("monthly_salary", 40000.0, 1), ("metro_city", True, 1)]
    assert stored["caller_turns"] == len(client.of("transcript")) == 3
    assert stored["bot_turns"] == len(client.of("bot.speech.started"))
    sent_latency = sum(1 for e in client.of("latency") for k, v in e.items() if k.endswith("_ms") and v is not None)
    assert stored["latency"] == sent_latency
