"""Two workers, one PostgreSQL and one Redis: what `make serve` promises across workers.

Admission control, the call rate limit and the dashboard's live feed are shared
through Redis (calls/admission.py, django-ratelimit on the shared cache, the
channel layer), so a client that reaches any worker sees the whole server:
- every worker full (MAX_CALLS_PER_WORKER=1 each, one call on each): a POST to
  either answers 503 busy; once a call ends, a POST to the *other* worker works;
- the per-client rate limit counts calls started on both workers;
- a dashboard open on worker 1 shows a call that ended on worker 2.

Real `python -m config.server` processes on loopback; waits are on events or on
bounded polls of the server's own answers, never fixed sleeps.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from devtools.callclient import CallClient
from devtools.liveserver import PYTHON, ROOT, Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS, typed_call

# Its own PostgreSQL database and Redis index whatever the pass, so it runs once (not
# `backend`); `speech`: the workers' bots speak through espeak-ng, not in the quick check.
pytestmark = pytest.mark.speech

REDIS_URL = "redis://127.0.0.1:6379/13"  # a logical database no other test uses
ADMIN_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture
async def workers(request: pytest.FixtureRequest, tmp_path: Path, pg_url: str) -> AsyncIterator[list[Worker]]:
    """Two workers of one server; `indirect` parametrisation adds settings."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # this index only
    settings = {
        "DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": secrets.token_urlsafe(50),
        "MAX_CALLS_PER_WORKER": "1", **getattr(request, "param", {}),
    }
    started: list[Worker] = []
    try:
        for i in (1, 2):  # one after the other: the first applies the migrations
            started.append(await Worker(tmp_path / f"w{i}", WORKER_ID=f"across-w{i}", **settings).ready())
        env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "VAR_DIR": str(tmp_path / "admin"),
               "ADMIN_PASSWORD": ADMIN_PASSWORD, "SECRET_KEY": settings["SECRET_KEY"]}
        subprocess.run([PYTHON, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        yield started
    finally:
        for worker in started:
            worker.kill()
        redis.Redis.from_url(REDIS_URL).flushdb()


async def post_call(worker: Worker) -> httpx.Response:
    async with httpx.AsyncClient(base_url=worker.url, timeout=30) as http:
        return await http.post("/api/calls/", json={"bot": "quickrupee-loan", "mode": "push_to_talk"})


async def until_post_status(worker: Worker, status: int, timeout: float = 30) -> httpx.Response:
    """POST until the worker answers `status` (another worker's load reaches it through
    Redis: on every change, and every few seconds at the latest)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (response := await post_call(worker)).status_code != status:
        assert loop.time() < deadline, f"{worker.url} still answers {response.status_code}: {response.text[:200]}"
        await asyncio.sleep(0.2)
    return response


async def test_admission_counts_the_calls_of_every_worker(workers):
    w1, w2 = workers
    on_w1 = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(w1.url))  # w1 full (connect returns at call.started: the slot is taken)
    assert (await until_post_status(w1, 201)).status_code == 201  # w1 is full, but w2 has a free line

    on_w2 = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(w2.url))  # w2 full too
    busy = await until_post_status(w1, 503)  # w1 learns that w2 is full
    assert busy.json()["error"]["code"] == "busy" and int(busy.headers["Retry-After"]) >= 1
    assert (await post_call(w2)).status_code == 503

    await on_w2.send(type="hangup")
    assert (await on_w2.ended())["outcome"] == "incomplete"
    assert (await until_post_status(w1, 201)).status_code == 201  # a line is free on w2 again: w1 says so

    for text in QUALIFYING_ANSWERS:  # the call that held w1 all along is unaffected
        await on_w1.say_text(text)
    assert (await on_w1.ended())["outcome"] == "qualified"


@pytest.mark.parametrize("workers", [{"CALL_RATE_LIMIT": "4", "CALL_RATE_WINDOW": "600"}], indirect=True)
async def test_the_call_rate_limit_counts_calls_started_on_either_worker(workers):
    w1, w2 = workers
    statuses = [(await post_call(w)).status_code for w in (w1, w2, w1, w2)]
    assert statuses == [201] * 4  # CALL_RATE_LIMIT=4 per client, from both workers together
    limited = await post_call(w1)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert (await post_call(w2)).status_code == 429


async def staff_session(worker: Worker, password: str = ADMIN_PASSWORD) -> str:
    """Log in as the admin through the admin's login form; the session cookie."""
    async with httpx.AsyncClient(base_url=worker.url, timeout=30) as http:
        await http.get("/admin/login/")
        response = await http.post(
            "/admin/login/?next=/dashboard/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": http.cookies["csrftoken"],
                  "next": "/dashboard/"},
            headers={"Referer": worker.url + "/admin/login/"},
        )
        assert response.status_code == 302, response.text[:300]
        return http.cookies["sessionid"]


async def test_a_dashboard_on_one_worker_shows_a_call_that_ended_on_the_other(workers):
    w1, w2 = workers
    session = await staff_session(w1)
    ws_url = w1.url.replace("http://", "ws://") + "/ws/dashboard/leads/"
    async with connect(ws_url, additional_headers={"Cookie": f"sessionid={session}", "Origin": w1.url}) as dashboard:
        await dashboard.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(dashboard.recv(), 30))["type"] == "pong"  # subscribed

        stored = await typed_call(w2.url)
        assert stored["outcome"] == "qualified"

        while True:  # every update of the call arrives; the last says it is qualified
            update = json.loads(await asyncio.wait_for(dashboard.recv(), 30))
            if update["type"] == "lead.updated" and update["call_id"] == stored["call_id"] and update["outcome"] == "qualified":
                break
