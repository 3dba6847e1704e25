"""Issue 31 B2: a database outage longer than CALL_LEASE_S with two workers. While
PostgreSQL is unreachable no worker can stamp its calls; when it comes back, the
first worker to reach it must not end the other worker's live calls as if that
worker had died (its stale-call sweep asks the registry of live workers in Redis,
not only the stamps), and the call finishes qualified on its own worker.

Two real `python -m config.server` processes on one PostgreSQL, through one cuttable
TCP proxy (tests/faults.py), and their own redis-server; leases shrunk to seconds.
The database comes back to worker 1 first (workers reconnect at different moments):
worker 2 logs in as a role of its own that stays unable to log in a little longer.
A call of a worker that really died (a row whose worker publishes nothing) is the
sign that worker 1's sweep has run.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from devtools.callclient import CallClient
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS
from tests.deploy.conftest import PG_ADMIN_URL, via
from tests.faults import RedisServer, TcpProxy, wait_for

pytestmark = pytest.mark.speech  # its own database and Redis: runs once, not in the backend pass

LEASE_S = 2
OUTAGE_S = 3 * LEASE_S


@pytest.fixture
def late_role() -> Iterator[str]:
    """A login role of worker 2's own, to keep it out of PostgreSQL while worker 1 gets in."""
    role = f"voicebot_outage_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as db:
        db.execute(f'DROP ROLE IF EXISTS "{role}"')
        db.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
    yield role
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as db:
        db.execute(f'DROP ROLE IF EXISTS "{role}"')


def _can_log_in(role: str, allowed: bool) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as db:
        db.execute(f'ALTER ROLE "{role}" {"LOGIN" if allowed else "NOLOGIN"}')


@pytest.fixture
async def two_workers(tmp_path: Path, pg_url: str, late_role: str) -> AsyncIterator[tuple[Worker, Worker, TcpProxy]]:
    redis = RedisServer()
    redis.start()
    proxy = TcpProxy("127.0.0.1", 5432)
    started: list[Worker] = []
    try:
        for i, user in ((1, "postgres"), (2, late_role)):  # one after the other: the first applies the migrations
            worker = Worker(
                tmp_path / f"w{i}", WORKER_ID=f"outage-w{i}", DATABASE_URL=via(pg_url, proxy.port, user),
                REDIS_URL=redis.url, CALL_LEASE_S=str(LEASE_S), CALL_HEARTBEAT_S="1", STALE_SWEEP_S="1",
            )
            started.append(worker)
            await worker.ready()
        yield started[0], started[1], proxy
    finally:
        for worker in started:
            worker.kill()
        proxy.close()
        redis.close()


def _row(pg_url: str, call_id: str) -> tuple:
    with psycopg.connect(pg_url) as db:
        return db.execute(
            "SELECT status, outcome, end_reason, heartbeat_at < now() - make_interval(secs => %s) FROM calls_call WHERE id = %s",
            (LEASE_S, call_id),
        ).fetchone()


def _dead_workers_call(pg_url: str, like: str) -> str:
    """A call whose worker died long ago (it publishes nothing): a copy of `like`'s row."""
    with psycopg.connect(pg_url) as db:
        db.execute("CREATE TEMP TABLE ghost AS SELECT * FROM calls_call WHERE id = %s", (like,))
        (ghost,) = db.execute(
            "UPDATE ghost SET id = gen_random_uuid(), worker = 'outage-dead', heartbeat_at = now() - interval '1 hour' "
            "RETURNING id"
        ).fetchone()
        db.execute("INSERT INTO calls_call SELECT * FROM ghost")
    return str(ghost)


async def test_a_long_database_outage_does_not_end_the_other_workers_live_calls(two_workers, pg_url, late_role):
    w1, w2, database = two_workers
    call = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(w2.url))
    await call.say_text(QUALIFYING_ANSWERS[0])
    await call.until("answer")

    database.cut()  # PostgreSQL is unreachable from both workers
    dead = _dead_workers_call(pg_url, call.call_id)
    await asyncio.sleep(OUTAGE_S)  # the outage's length (longer than the lease), not a wait for an event
    assert _row(pg_url, call.call_id) == ("active", "", "", True)  # its stamp is older than the lease

    _can_log_in(late_role, False)
    database.restore()  # worker 1 reaches the database first: its sweep runs
    await wait_for(lambda: "left active by a server that stopped" in w1.log(), timeout=60)
    assert _row(pg_url, dead)[:3] == ("ended", "incomplete", "server_restart")  # a dead worker's call is closed
    assert _row(pg_url, call.call_id)[:3] == ("active", "", ""), "worker 1 ended worker 2's live call"

    _can_log_in(late_role, True)  # worker 2 is back too
    for text in QUALIFYING_ANSWERS[1:]:
        await call.say_text(text)
    assert (await call.ended())["outcome"] == "qualified"
    await wait_for(lambda: _row(pg_url, call.call_id)[:2] == ("ended", "qualified"), timeout=60)
