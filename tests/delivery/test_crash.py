"""Done-when (issue 28): the server is killed with SIGKILL between a call's end and the
delivery of its webhooks. The rows written with the call's end survive, and the same
worker, started again, delivers them under the same webhook-ids, in order.

A real `python -m config.server` on loopback (devtools/liveserver.py) with its own SQLite
database, a typed call over a real WebSocket, and a real HTTP receiver that holds the
first attempt unanswered when the kill comes."""
from __future__ import annotations

import asyncio
import threading

import pytest
from standardwebhooks import Webhook

from devtools.liveserver import Worker
from devtools.typed_call import typed_call
from devtools.webhook_receiver import Receiver, Reply

# `speech`: the worker's bot speaks through espeak-ng (devtools/liveserver.py); server processes.
pytestmark = pytest.mark.speech

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def until_rows(worker: Worker, sql: str, ready, timeout: float = 60) -> list[tuple]:
    """Rows of the worker's database once `ready(rows)` holds (bounded poll of the file)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready(rows := worker.query(sql)):
        assert loop.time() < deadline, f"not there after {timeout} s: {rows}"
        await asyncio.sleep(0.1)
    return rows


DELIVERIES = ("SELECT e.type, e.webhook_id, d.status, d.lease_owner FROM delivery_delivery d "
              "JOIN delivery_event e ON e.id = d.event_id ORDER BY d.id")


async def test_webhooks_of_a_call_survive_a_killed_server_and_go_after_restart(tmp_path):
    hold = threading.Event()
    settings = {"WORKER_ID": "webhook-crash-test", "LEAD_WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_PRIVATE": "1",
                "OUTBOX_POLL_S": "0.2"}
    with Receiver([Reply(200, hold=hold)]) as hook:
        worker = await Worker(tmp_path, LEAD_WEBHOOK_URL=hook.url, **settings).ready()
        restarted: Worker | None = None
        try:
            stored = await typed_call(worker.url)
            assert stored["outcome"] == "qualified"
            await asyncio.to_thread(hook.wait_for, 1)  # call.ended is at the receiver, unanswered
            worker.kill()  # SIGKILL: no drain, the attempt's result never recorded
            hold.set()
            rows = worker.query(DELIVERIES)
            assert [(kind, status) for kind, _, status, _ in rows] == [("call.ended", "pending"), ("lead.qualified", "pending")]
            assert rows[0][3] == "webhook-crash-test"  # still leased to the dead process

            restarted = await Worker(tmp_path, port=worker.port, LEAD_WEBHOOK_URL=hook.url, **settings).ready()
            received = await asyncio.to_thread(hook.wait_for, 3, 120)
            await until_rows(restarted, DELIVERIES, lambda rows: {r[2] for r in rows} == {"done"})
        finally:
            worker.kill()
            if restarted is not None:
                restarted.kill()
    ended_id, qualified_id = rows[0][1], rows[1][1]
    assert [r.webhook_id for r in received] == [ended_id, ended_id, qualified_id]
    bodies = [Webhook(SECRET).verify(r.body, r.headers) for r in received[1:]]
    assert [(b["type"], b["data"]["call_id"], b["data"]["outcome"]) for b in bodies] == [
        ("call.ended", stored["call_id"], "qualified"), ("lead.qualified", stored["call_id"], "qualified")]
    assert [a["question"] for a in bodies[0]["data"]["answers"]] == ["salaried", "monthly_salary", "metro_city"]
