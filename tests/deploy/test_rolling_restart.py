"""A rolling restart of the workers behind the load balancer drops no call.

The production shape on loopback: HAProxy (health check on /readyz, an admin
socket) in front of two workers (`python -m config.server`) on PostgreSQL and
Redis. The workers are replaced one at a time the way an operator (or
`make serve`) does it: the balancer puts the worker in drain state (no new
calls), SIGTERM makes it finish its calls and exit, a new worker takes the port
and gets callers again once haproxy sees it healthy. 50 typed calls run across
the restart: 25 are in progress on both workers when the first one is told to
stop and answer their last questions only while it drains; 25 more start during
the restart. Every one must end `qualified`, stored, with close 1000.

Calls wait for events (a worker draining, a worker replaced), never for time.
"""
from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.callclient import CallClient, stored_call
from devtools.liveserver import Worker, free_port
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS

# `speech`: the workers' bots speak through espeak-ng (devtools/liveserver.py); slow, so not in the quick check.
pytestmark = pytest.mark.speech

REDIS_URL = "redis://127.0.0.1:6379/12"  # a logical database no other test uses
CALLS_PER_PHASE = 25


class Balancer:
    """haproxy -db in front of the worker ports, with an admin socket."""

    def __init__(self, run_dir: Path, ports: list[int]) -> None:
        self.socket = run_dir / "haproxy.sock"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = run_dir / "haproxy.cfg"
        servers = "\n".join(f"    server w{i} 127.0.0.1:{port} check inter 1s fall 3 rise 2" for i, port in enumerate(ports, 1))
        config.write_text(f"""global
    stats socket {self.socket} mode 600 level admin
defaults
    mode http
    option forwardfor
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout check 5s
frontend voicebot
    bind 127.0.0.1:{self.port}
    default_backend workers
backend workers
    balance leastconn
    option httpchk GET /readyz
{servers}
""")
        self.log = (run_dir / "haproxy.log").open("wb")
        self.process = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT)

    async def command(self, line: str) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.socket))
        writer.write(line.encode() + b"\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer.decode()

    async def status(self, server: str) -> str:
        assert self.process.poll() is None, "haproxy exited"
        try:
            stats = await self.command("show stat")
        except OSError:  # haproxy still starting: no admin socket yet
            return "?"
        for row in stats.splitlines():
            fields = row.split(",")
            if fields[:2] == ["workers", server]:
                return fields[17]
        return "?"

    async def until_up(self, server: str, timeout: float = 120) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (state := await self.status(server)) != "UP":
            assert loop.time() < deadline, f"{server} still {state}"
            await asyncio.sleep(0.2)  # haproxy's own checks run every second

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
async def stack(tmp_path, pg_url) -> AsyncIterator[tuple[Balancer, list[Worker]]]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # this index only
    settings = {
        "DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "TRUSTED_PROXIES": "127.0.0.1", "DRAIN_S": "120",
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    workers: list[Worker] = []
    balancer = None
    try:
        for i in (1, 2):  # one after the other: the first applies the migrations
            workers.append(await Worker(tmp_path / f"w{i}", **settings).ready())
        balancer = Balancer(tmp_path, [w.port for w in workers])
        for i in (1, 2):
            await balancer.until_up(f"w{i}")
        balancer.settings = settings
        yield balancer, workers
    finally:
        for worker in workers:
            worker.kill()
        if balancer is not None:
            balancer.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()


async def held_call(url: str, holding: asyncio.Event, hold: asyncio.Event) -> dict:
    """A typed call that answers its first question, says so (`holding`), waits for
    `hold`, then answers the rest."""
    server = Network(url)
    call = await CallClient.start(LOAN_BOT, "push_to_talk", server=server)
    await call.say_text(QUALIFYING_ANSWERS[0])
    await call.until("answer")
    holding.set()
    await hold.wait()
    for text in QUALIFYING_ANSWERS[1:]:
        await call.say_text(text)
    ended = await call.ended()
    stored = await stored_call(call.created, server=server)
    return {"ended": ended["outcome"], "close": call.close_code, "stored": (stored["status"], stored["outcome"], len(stored["answers"]))}


def start_calls(url: str, hold: asyncio.Event) -> tuple[list[asyncio.Future], list[asyncio.Event]]:
    holding = [asyncio.Event() for _ in range(CALLS_PER_PHASE)]
    return [asyncio.ensure_future(held_call(url, h, hold)) for h in holding], holding


async def all_holding(calls: list[asyncio.Future], holding: list[asyncio.Event]) -> None:
    """Every call has answered its first question (or failed: the test reports it)."""
    waits = [asyncio.ensure_future(h.wait()) for h in holding]
    for call, wait in zip(calls, waits):
        await asyncio.wait([call, wait], return_when=asyncio.FIRST_COMPLETED)
        wait.cancel()


async def replace(balancer: Balancer, workers: list[Worker], index: int, draining: asyncio.Event) -> Worker:
    """Take worker `index` out of the balancer, drain and stop it, start its successor."""
    name, old = f"w{index + 1}", workers[index]
    await balancer.command(f"set server workers/{name} state drain")
    old.terminate()
    await old.until_status("/readyz", 503)
    draining.set()
    assert await old.exited(timeout=180) == 0
    assert ", 0 ended on shutdown" in old.log()
    new = await Worker(old.var_dir, port=old.port, **balancer.settings).ready()
    await balancer.command(f"set server workers/{name} state ready")
    await balancer.until_up(name)
    workers[index] = new
    return new


async def test_rolling_restart_of_both_workers_drops_none_of_50_calls(stack):
    balancer, workers = stack
    first_drains, second_drains = asyncio.Event(), asyncio.Event()

    # Phase A: in progress on both workers (leastconn) when w1 is told to stop; each
    # answers its last questions only once w1 drains.
    phase_a, a_holding = start_calls(balancer.url, first_drains)
    await all_holding(phase_a, a_holding)
    restart_w1 = asyncio.ensure_future(replace(balancer, workers, 0, first_drains))
    await first_drains.wait()
    # Phase B: starts while w1 drains (so it lands on w2), finishes while w2 drains.
    phase_b, b_holding = start_calls(balancer.url, second_drains)
    await restart_w1
    await all_holding(phase_b, b_holding)
    await replace(balancer, workers, 1, second_drains)

    results = await asyncio.gather(*phase_a, *phase_b, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException) or r["ended"] != "qualified"]
    assert not failures, failures[:5]
    assert all(r["close"] == 1000 and r["stored"] == ("ended", "qualified", 3) for r in results)
