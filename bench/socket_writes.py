"""What a worker pays per WebSocket message it sends, with and without write-through.

A worker sends each call's bot audio five times a second (paced, 200 ms chunks) plus
its events. This starts daphne in a subprocess, as `config.server` sets it up (the
autobahn patches), with a tiny ASGI app that sends 8.8 kB messages (200 ms of
22.05 kHz audio) at a steady rate to every connection; N WebSocket clients on
loopback take them. It prints the server process's CPU per message sent, with
Twisted's buffered writes (`buffered`) and with `config.server_patches.write_through_sockets`
(`write-through`), alternating the two so that a machine whose speed drifts affects
both alike.

    .venv/bin/python bench/socket_writes.py --conns 150 --rate 5 --seconds 8 --rounds 3
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load.procstats import tree_stats  # noqa: E402  (the load bench's /proc reader)
from devtools.liveserver import free_port  # noqa: E402

SERVER = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
write_through, port, rate, seconds = sys.argv[2] == "1", int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
from config import server_patches as worker
worker.skip_trace_formatting()
if write_through:
    worker.write_through_sockets()
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server

CHUNK = bytes(8820)

async def app(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while loop.time() - start < seconds:
        await send({"type": "websocket.send", "bytes": CHUNK})
        sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))
    await send({"type": "websocket.close"})

Server(application=app, endpoints=build_endpoint_description_strings(host="127.0.0.1", port=port)).run()
"""


async def take_all(url: str, conns: int) -> int:
    """Messages received by `conns` clients until the server closes them."""
    import websockets

    async def one() -> int:
        got = 0
        async with websockets.connect(url, max_size=None) as ws:
            async for _ in ws:
                got += 1
        return got

    return sum(await asyncio.gather(*(one() for _ in range(conns))))


async def until_up(url: str) -> None:
    import websockets

    for _ in range(200):
        try:
            async with websockets.connect(url) as ws:
                async for _ in ws:
                    pass
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


def run_once(write_through: bool, conns: int, rate: float, seconds: float) -> float:
    """Server CPU microseconds per message sent."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(ROOT), "1" if write_through else "0", str(port), str(rate), str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"ws://127.0.0.1:{port}/"
        asyncio.run(until_up(url))
        before, _ = tree_stats(server.pid)
        messages = asyncio.run(take_all(url, conns))
        return (tree_stats(server.pid)[0] - before) / max(1, messages) * 1e6
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=150, help="sockets (one worker's calls)")
    parser.add_argument("--rate", type=float, default=5, help="messages a second per socket")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"buffered": [], "write-through": []}
    for _ in range(args.rounds):
        for name, through in (("buffered", False), ("write-through", True)):
            figures[name].append(run_once(through, args.conns, args.rate, args.seconds))
    print(f"{args.conns} sockets x {args.rate:g} messages/s of 8.8 kB for {args.seconds:g} s, {args.rounds} alternating rounds")
    for name, values in figures.items():
        print(f"{name:14} server CPU per message: median {statistics.median(values):.1f} µs "
              f"(runs: {', '.join(f'{v:.1f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
