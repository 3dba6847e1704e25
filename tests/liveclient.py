"""A protocol client over real sockets (HTTP + WebSocket) for a server on loopback.

`tests/callclient.py` speaks to the ASGI application in-process; this one speaks
to a running server process (`python -m config.server`, a worker behind the load
balancer, the server inside the container image), exactly as an outside client
would. It only ever connects to the address it is given.

    python -m tests.liveclient http://127.0.0.1:8000 [--bot SLUG] [ANSWER ...]

plays one typed call to its end and prints the stored call as JSON (exit 1 if
the call did not end with a stored outcome).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

LOAN_BOT = "quickrupee-loan"
QUALIFYING_ANSWERS = ("yes I am salaried", "fifty thousand a month", "I live in Mumbai")


class Busy(Exception):
    """The server refused the call as protocol §3 says (503 busy, or close 1013)."""


@dataclass
class Created:
    call_id: str
    ws_url: str
    token: str


async def create_call(base_url: str, bot: str = LOAN_BOT, mode: str = "push_to_talk") -> Created:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post("/api/calls/", json={"bot": bot, "mode": mode, "caller": {"name": "Live Caller"}})
    if response.status_code == 503 and response.json()["error"]["code"] == "busy":
        raise Busy(f"POST /api/calls/ → 503 busy (Retry-After {response.headers.get('Retry-After')})")
    response.raise_for_status()
    body = response.json()
    return Created(body["call_id"], body["ws_url"], body["token"])


async def stored_call(base_url: str, created: Created) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get(f"/api/calls/{created.call_id}/", headers={"Authorization": f"Bearer {created.token}"})
    response.raise_for_status()
    return response.json()


class LiveCall:
    """One call on a real WebSocket. Events are kept in order in `events`."""

    def __init__(self, created: Created, ws: ClientConnection) -> None:
        self.created = created
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.audio_bytes = 0
        self.close_code: int | None = None

    @property
    def call_id(self) -> str:
        return self.created.call_id

    @classmethod
    async def connect(cls, base_url: str, created: Created) -> LiveCall:
        ws_base = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        ws = await connect(ws_base + created.ws_url, max_size=None, open_timeout=30)
        call = cls(created, ws)
        first = await call.next_event()
        if first is not None and first["type"] == "error" and first.get("code") == "busy":
            await call.closed()
            raise Busy(f"socket refused busy, close {call.close_code}")
        if first is None or first["type"] != "call.started":
            raise AssertionError(f"expected call.started, got {first} (close {call.close_code})")
        return call

    @classmethod
    async def start(cls, base_url: str, bot: str = LOAN_BOT, mode: str = "push_to_talk") -> LiveCall:
        return await cls.connect(base_url, await create_call(base_url, bot, mode))

    async def next_event(self, timeout: float = 180) -> dict[str, Any] | None:
        """The next JSON event (bot audio is counted on the way); None once closed."""
        while self.close_code is None:
            try:
                message = await asyncio.wait_for(self.ws.recv(), timeout)
            except ConnectionClosed as closed:
                self.close_code = closed.rcvd.code if closed.rcvd else 1006
                return None
            if isinstance(message, bytes):
                self.audio_bytes += len(message)
                continue
            event = json.loads(message)
            self.events.append(event)
            return event
        return None

    async def until(self, kind: str, timeout: float = 180) -> dict[str, Any]:
        while True:
            event = await self.next_event(timeout)
            if event is None:
                raise AssertionError(f"closed ({self.close_code}) before {kind}: {[e['type'] for e in self.events]}")
            if event["type"] == kind:
                return event

    async def answer(self, text: str) -> None:
        """Type an answer once the bot has finished its line."""
        await self.until("bot.speech.ended")
        await self.ws.send(json.dumps({"type": "text", "text": text}))

    async def closed(self, timeout: float = 180) -> int:
        while self.close_code is None:
            await self.next_event(timeout)
        return self.close_code

    async def ended(self) -> dict[str, Any]:
        """Read to `call.ended` and the close that follows; returns the event."""
        event = await self.until("call.ended")
        await self.closed()
        return event


async def typed_call(base_url: str, bot: str = LOAN_BOT, answers: tuple[str, ...] = QUALIFYING_ANSWERS) -> dict[str, Any]:
    """Play one typed call to its end; returns the call as the server stored it."""
    call = await LiveCall.start(base_url, bot)
    for text in answers:
        await call.answer(text)
    ended = await call.ended()
    stored = await stored_call(base_url, call.created)
    stored["ended_event"] = ended
    stored["close_code"] = call.close_code
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8000 (loopback only)")
    parser.add_argument("--bot", default=LOAN_BOT)
    parser.add_argument("answers", nargs="*", default=list(QUALIFYING_ANSWERS))
    args = parser.parse_args(argv)
    host = httpx.URL(args.url).host
    if host not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("only loopback addresses are allowed")
    stored = asyncio.run(typed_call(args.url, args.bot, tuple(args.answers)))
    print(json.dumps({k: stored[k] for k in ("call_id", "status", "outcome", "reason", "answers", "close_code")}, indent=2))
    return 0 if stored["status"] == "ended" and stored["outcome"] else 1


if __name__ == "__main__":
    sys.exit(main())
