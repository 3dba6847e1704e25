"""A call socket takes at most 64 KiB a message, refused at the protocol layer.

Through the real server (`python -m config.server`, daphne + autobahn): a message
over the limit is refused with close 1009 as its header arrives, so a 32 MiB message
is never buffered: the worker's resident memory does not grow by it, and a call in
progress on the same worker goes on.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from config.server_patches import MAX_MESSAGE_BYTES
from devtools.callclient import CallClient
from devtools.liveserver import Worker
from devtools.servers import Network
from devtools.typed_call import LOAN_BOT, QUALIFYING_ANSWERS

pytestmark = pytest.mark.speech  # a server process whose bot speaks (espeak-ng)

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
async def worker(tmp_path_factory) -> AsyncIterator[Worker]:
    server = Worker(tmp_path_factory.mktemp("size"))
    try:
        yield await server.ready()
    finally:
        server.kill()


async def start_call(worker: Worker) -> CallClient:
    return await CallClient.start(LOAN_BOT, "push_to_talk", server=Network(worker.url))


async def send_and_close_code(worker: Worker, size: int) -> tuple[int | None, CallClient]:
    """Send one binary message of `size` bytes on a fresh call; the close code the server
    sent (None if it kept the call open), reading the server's messages meanwhile."""
    call = await start_call(worker)
    reader = asyncio.create_task(call.drain(timeout=60))
    try:
        await call.send_bytes(bytes(size))
    except ConnectionClosed:
        pass
    try:
        await asyncio.wait_for(asyncio.shield(reader), 3 if size <= MAX_MESSAGE_BYTES else 60)
    except TimeoutError:
        return None, call
    return call.close_code, call


async def test_a_message_of_64_kib_is_taken_and_one_byte_more_is_refused_1009(worker):
    code, call = await send_and_close_code(worker, MAX_MESSAGE_BYTES)
    assert code is None  # the call goes on (the audio may be refused as too fast: a non-fatal error)
    await call.close()
    code, _ = await send_and_close_code(worker, MAX_MESSAGE_BYTES + 1)
    assert code == 1009


async def test_32_mib_messages_are_refused_without_growing_the_worker(worker):
    running = await start_call(worker)  # a call in progress on the same worker
    await running.say_text(QUALIFYING_ANSWERS[0])
    await running.until("answer")
    first, _ = await send_and_close_code(worker, 32 * MIB)  # the first one may touch code not yet loaded
    assert first == 1009
    before = rss_mib(worker.process.pid)
    codes = [(await send_and_close_code(worker, 32 * MIB))[0] for _ in range(3)]
    grown = rss_mib(worker.process.pid) - before
    assert codes == [1009] * 3
    assert grown < 8, f"the worker grew by {grown:.1f} MiB over three 32 MiB messages"
    for text in QUALIFYING_ANSWERS[1:]:
        await running.say_text(text)
    assert (await running.ended())["outcome"] == "qualified"
