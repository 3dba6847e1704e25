"""Done-when (worker): the server process is killed mid-call (SIGKILL, no drain). The
next start of that worker (same WORKER_ID) marks the call `incomplete`/`server_restart`,
and the caller, reconnecting with the same token inside CALL_RESUME_S, goes on at the
question they were on to an outcome, with every answer stored once.

Real `python -m config.server` processes on loopback (devtools/liveserver.py), their own
SQLite database, typed answers over a real WebSocket."""
from __future__ import annotations

import asyncio
import secrets

import pytest

from devtools.callclient import CallClient, stored_call
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS

# `speech`: the worker's bot speaks through espeak-ng (devtools/liveserver.py); server processes, not in the quick check.
pytestmark = pytest.mark.speech

# The same worker before and after: its name, and its key (the token must still be valid).
WORKER = {"WORKER_ID": "resume-test-worker", "STALE_SWEEP_S": "60", "SECRET_KEY": secrets.token_urlsafe(50)}


async def until_stored(worker: Worker, call: CallClient, ready, timeout: float = 60) -> dict:
    """The call as the worker's API gives it, once `ready(call)` holds (bounded poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready(stored := await stored_call(call.created, server=Network(worker.url))):
        assert loop.time() < deadline, f"not there {timeout} s on: {stored['status']}, {stored['answers']}"
        await asyncio.sleep(0.1)
    return stored


async def test_a_call_cut_by_a_killed_worker_is_closed_at_restart_and_resumed(tmp_path):
    worker = await Worker(tmp_path, **WORKER).ready()
    restarted: Worker | None = None
    try:
        call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(worker.url))
        await call.say_text(QUALIFYING_ANSWERS[0])
        await call.until("answer")
        await call.until("bot.speech.ended")  # the second question has been asked
        # The answer's row is written just after its event (off the response path): a
        # kill in that instant would take it along, so the kill comes once it is stored.
        await until_stored(worker, call, lambda c: len(c["answers"]) == 1)
        worker.kill()  # SIGKILL mid-call: no drain, no goodbye

        restarted = await Worker(tmp_path, port=worker.port, **WORKER).ready()
        closed = await until_stored(restarted, call, lambda c: c["status"] == "ended")
        assert (closed["outcome"], closed["reason"]) == ("incomplete", "server_restart")
        assert [a["question"] for a in closed["answers"]] == ["salaried"]

        resumed = await CallClient.join(call.created, server=Network(restarted.url))
        started = resumed.events[0]
        assert started["type"] == "call.started" and started["resumed"] is True and started["answered"] == ["salaried"]
        asked = await resumed.until("bot.speech.started")
        assert asked["text"] == next(e["text"] for e in reversed(call.events) if e["type"] == "bot.speech.started")
        for text in QUALIFYING_ANSWERS[1:]:
            await resumed.say_text(text)
        ended = await resumed.ended()
        assert ended["outcome"] == "qualified" and resumed.close_code == 1000

        final = await stored_call(call.created, server=Network(restarted.url))
        assert (final["status"], final["outcome"]) == ("ended", "qualified")
        assert [(a["question"], a["attempts"]) for a in final["answers"]] == [
            ("salaried", 1), ("monthly_salary", 1), ("metro_city", 1)
        ]
    finally:
        worker.kill()
        if restarted is not None:
            restarted.kill()
