"""The production worker (`python -m config.server`) drains on SIGTERM.

Real server processes on loopback, real sockets: calls in progress when the
signal comes finish and are stored, new calls meanwhile are refused "busy"
(protocol §3), calls still running at DRAIN_S are ended as incomplete/shutdown
with what was said stored, and the process then exits by itself.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from devtools.callclient import Busy, CallClient, create_call
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS

# `speech`: the worker's bot speaks through espeak-ng (devtools/liveserver.py); server processes, not in the quick check.
pytestmark = pytest.mark.speech


@pytest.fixture
async def worker(tmp_path) -> AsyncIterator[Worker]:
    """A worker with a drain long enough for the test to finish its calls."""
    server = Worker(tmp_path, DRAIN_S="120")
    try:
        yield await server.ready()
    finally:
        server.kill()


@pytest.fixture
async def impatient_worker(tmp_path) -> AsyncIterator[Worker]:
    """A worker that waits only half a second for calls in progress."""
    server = Worker(tmp_path, DRAIN_S="0.5")
    try:
        yield await server.ready()
    finally:
        server.kill()


async def test_sigterm_lets_three_calls_finish_and_refuses_new_ones_busy(worker):
    server = Network(worker.url)
    calls = [await CallClient.start(LOAN_BOT, "push_to_talk", server=server) for _ in range(3)]
    for call in calls:
        await call.say_text(QUALIFYING_ANSWERS[0])
        await call.until("answer")
    unconnected = await create_call(LOAN_BOT, "push_to_talk", server=server)  # created before the signal, connects during the drain

    worker.terminate()
    await worker.until_status("/readyz", 503)

    assert await worker.status("/healthz") == 200  # still alive: liveness must not kill a draining worker
    async with httpx.AsyncClient(base_url=worker.url) as http:
        refused = await http.post("/api/calls/", json={"bot": "quickrupee-loan"})
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "busy"
    assert int(refused.headers["Retry-After"]) >= 1
    with pytest.raises(Busy, match="close 1013"):
        await CallClient.join(unconnected, server=server)

    for call in calls:
        for text in QUALIFYING_ANSWERS[1:]:
            await call.say_text(text)
    ended = [await call.ended() for call in calls]
    assert [e["outcome"] for e in ended] == ["qualified"] * 3
    assert [call.close_code for call in calls] == [1000] * 3

    assert await worker.exited() == 0
    assert "3 call(s) finished, 0 ended on shutdown" in worker.log()
    ids = [call.call_id.replace("-", "") for call in calls]
    stored = worker.query(
        "SELECT c.status, c.outcome, COUNT(a.id) FROM calls_call c LEFT JOIN calls_answer a ON a.call_id = c.id "
        f"WHERE c.id IN ({','.join('?' * len(ids))}) GROUP BY c.id", *ids
    )
    assert stored == [("ended", "qualified", 3)] * 3
    assert worker.query("SELECT status FROM calls_call WHERE id = ?", unconnected.call_id.replace("-", "")) == [("created",)]


async def test_calls_still_running_at_the_drain_deadline_end_as_shutdown_with_answers_stored(impatient_worker):
    worker = impatient_worker
    call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(worker.url))
    await call.say_text(QUALIFYING_ANSWERS[0])
    await call.until("answer")

    worker.terminate()
    ended = await call.ended()

    assert (ended["outcome"], ended["reason"]) == ("incomplete", "shutdown")
    assert call.close_code == 1000
    assert await worker.exited() == 0
    call_id = call.call_id.replace("-", "")
    assert worker.query("SELECT status, outcome, end_reason FROM calls_call WHERE id = ?", call_id) == [
        ("ended", "incomplete", "shutdown")
    ]
    assert worker.query("SELECT question_key, value, understood FROM calls_answer WHERE call_id = ?", call_id) == [
        ("salaried", "true", 1)
    ]


async def test_a_second_signal_stops_at_once(worker):
    call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(worker.url))
    worker.terminate()
    await worker.until_status("/readyz", 503)
    worker.terminate()
    assert await worker.exited() == 0
    await call.drain()
    assert "call.ended" not in [event["type"] for event in call.events]  # cut, as asked
