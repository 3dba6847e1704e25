"""Overload says "busy", never 502: `make serve` (scripts/serve.sh) past its capacity.

Two workers of MAX_CALLS_PER_WORKER=3 lines behind the generated haproxy config, on a
PostgreSQL database of the test's own and Redis. Twenty call sockets open at once:
haproxy sends each worker at most its lines (6 calls start), queues the rest for
QUEUE_S and then answers them itself with a busy 503 (JSON, Retry-After); no socket
gets a 502, and the calls in progress go on. The workers listen with a backlog sized for
bursts (the kernel's accept queue, read with `ss`). On a loaded machine a worker may take
seconds to accept a socket: it answers late rather than resetting the connection (which
haproxy reported as 502), and haproxy never sends a call socket's upgrade twice.
Loopback only; the servers are stopped at the end whatever happens.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from devtools.callclient import CallClient, create_call
from devtools.liveserver import ROOT, START_TIMEOUT_S, free_port
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT

pytestmark = pytest.mark.speech  # server processes whose bots speak (espeak-ng)

LINES = 3
CALLERS = 20
REDIS_URL = "redis://127.0.0.1:6379/10"  # capacity entries are keyed by the test's own database


@pytest.fixture
async def serve(tmp_path: Path, pg_url: str) -> AsyncIterator[tuple[str, Path]]:
    """`scripts/serve.sh` with two workers; its URL and run directory."""
    port = free_port()
    keep = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "VAR_DIR", "DJANGO_SETTINGS_MODULE")}
    env = {
        **keep, "WORKERS": "2", "HOST": "127.0.0.1", "PORT": str(port), "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": secrets.token_urlsafe(50),
        "ADMIN_PASSWORD": secrets.token_urlsafe(16), "MAX_CALLS_PER_WORKER": str(LINES), "QUEUE_S": "1",
        "TTS_PROVIDER": "espeak", "SPEECH_WARMUP": "0", "SILENCE_TIMEOUT_S": "0", "PLAYBACK_LEAD_MS": "600000",
        "CALL_RATE_LIMIT": "100000", "MAX_CALLS_PER_CLIENT": "0", "START_S": str(START_TIMEOUT_S),
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([str(ROOT / "scripts/serve.sh")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while b"Voice bot on http" not in (tmp_path / "serve.log").read_bytes():
            assert process.poll() is None and loop.time() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            await asyncio.sleep(0.2)
        yield url, tmp_path / "var" / "serve"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # serve.sh stops its workers and haproxy
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


async def attempt(url: str) -> tuple[str, object]:
    """One caller: start a call and open its socket. ("started", the socket) or what refused it."""
    created = await create_call(LOAN_BOT, "push_to_talk", server=Network(url))
    try:
        ws = await connect(url.replace("http://", "ws://") + created.ws_url, open_timeout=60, max_size=None)
    except InvalidStatus as refused:
        response = refused.response
        return f"http {response.status_code}", (json.loads(response.body or b"{}"), response.headers.get("Retry-After"))
    try:
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else 1006}", None
    if first["type"] == "call.started":
        return "started", ws
    await ws.close()
    return f"{first['type']} {first.get('code')}", None


async def test_past_its_lines_every_caller_is_told_busy_and_none_gets_502(serve):
    url, run_dir = serve
    config = (run_dir / "haproxy.cfg").read_text()
    assert re.search(rf"^backend calls\n(?:    .*\n)*?    default-server maxconn {LINES}$", config, re.M), config
    assert re.search(r"^    retry-on conn-failure$", config, re.M) and re.search(r"^    bind \S+ backlog \d+$", config, re.M)
    for port in re.findall(r"server w\d 127\.0\.0\.1:(\d+) check", config):  # the workers' accept queues
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
        assert int(listening.split()[2]) >= 1024, listening

    results = await asyncio.gather(*(attempt(url) for _ in range(CALLERS)))
    kinds = [kind for kind, _ in results]
    assert "http 502" not in kinds
    assert kinds.count("started") == 2 * LINES, kinds
    refused = [detail for kind, detail in results if kind == "http 503"]
    assert len(refused) == CALLERS - 2 * LINES, sorted(kinds)
    assert all(body["error"]["code"] == "busy" and int(retry) >= 1 for body, retry in refused)

    calls = [ws for kind, ws in results if kind == "started"]
    for ws in calls:  # the calls in progress go on, and end as they should
        await ws.send(json.dumps({"type": "hangup"}))
    for ws in calls:
        while not isinstance(message := await asyncio.wait_for(ws.recv(), 60), str) or json.loads(message)["type"] != "call.ended":
            pass  # bot audio and the events before the end
        await ws.close()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:  # pages are served meanwhile
        assert (await http.get("/api/bots/")).status_code == 200
    again = await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(url))  # lines are free again
    await again.close()
