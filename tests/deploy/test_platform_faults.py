"""Issue 31 C1-C3, through a real worker (`python -m config.server`) on PostgreSQL,
behind a cuttable TCP proxy (tests/faults.py), and a redis-server of its own:

- liveness (`/healthz`) is the process answering: with the database unreachable it
  stays 200 (a restart would cut every call, which ride out the outage), while
  readiness (`/readyz`) says 503 until the database is back;
- with Redis down the worker stays ready and `POST /api/calls/` still starts calls
  (admission counts the worker's own lines): calls do not need Redis.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from devtools.callclient import CallClient
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS
from tests.deploy.conftest import own_database, via
from tests.faults import RedisServer, TcpProxy

pytestmark = pytest.mark.speech  # its own database and Redis: runs once, not in the backend pass


class Faulty:
    def __init__(self, worker: Worker, database: TcpProxy, redis: RedisServer) -> None:
        self.worker, self.database, self.redis = worker, database, redis

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.worker.url, timeout=10) as http:
            return await http.get(path)


@pytest.fixture(scope="module")
async def faulty(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faulty]:
    with own_database(f"voicebot_platform_faults_{os.getpid()}") as url:
        redis = RedisServer()
        redis.start()
        database = TcpProxy("127.0.0.1", 5432)
        worker = Worker(tmp_path_factory.mktemp("faulty"), DATABASE_URL=via(url, database.port), REDIS_URL=redis.url)
        try:
            await worker.ready()
            yield Faulty(worker, database, redis)
        finally:
            worker.kill()
            database.close()
            redis.close()


async def test_liveness_does_not_depend_on_the_database(faulty):
    faulty.database.cut()
    try:
        await faulty.worker.until_status("/readyz", 503, timeout=30)  # not ready while the database is gone ...
        assert (await faulty.get("/readyz")).json()["checks"]["database"] == "unavailable"
        assert (await faulty.get("/healthz")).status_code == 200  # ... but alive: nothing to restart
    finally:
        faulty.database.restore()
    await faulty.worker.until_status("/readyz", 200, timeout=30)


async def test_with_redis_down_the_worker_stays_ready_and_starts_calls(faulty):
    faulty.redis.stop()
    try:
        ready = await faulty.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "unavailable"
        assert (await faulty.get("/healthz")).status_code == 200
        # POST /api/calls/ (201) and the call's socket
        call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(faulty.worker.url))
        for text in QUALIFYING_ANSWERS:
            await call.say_text(text)
        assert (await call.ended())["outcome"] == "qualified"
    finally:
        faulty.redis.start()
