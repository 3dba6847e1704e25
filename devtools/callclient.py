"""The one client of our call protocol (docs/protocol.md §1-§3), for tests and benches.

It starts a call through the real HTTP API and speaks the WebSocket protocol
exactly as an outside client would: caller audio, typed answers,
`end_of_speech`, `hangup` out; events and bot audio in. The same class talks to
the ASGI application in this process or to a server over the network
(`devtools.servers`: `InProcess()`, the default, or `Network(base_url)`).

    client = await CallClient.start("quickrupee-loan")              # in process
    client = await CallClient.start(bot, server=Network(url))       # a running server
    await client.say_text("yes I am")
    ended = await client.until("call.ended")
    assert await client.drain() == 1000

Every event is kept in `events` in order; bot audio is counted in `audio_bytes`
(and kept in `audio` / `audio_frames` unless `keep_audio=False`, as a load
generator of hundreds of calls wants). A bench that times frames sets `on_audio`
/ `on_event`: each is called with the frame and the `time.perf_counter()` of
its arrival.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devtools.servers import Closed, Headers, InProcess, Server

#: Who calls, unless a test says otherwise.
TEST_CALLER = {"name": "Test Caller", "phone": "555"}


class CallRefused(Exception):
    """The server did not take the call: `POST /api/calls/` answered `status` with the
    error `code` (protocol §1), or the call's socket was refused."""

    def __init__(self, what: str, status: int, code: str, retry_after: str | None = None) -> None:
        super().__init__(what)
        self.status, self.code, self.retry_after = status, code, retry_after


class Busy(CallRefused):
    """The server refused the call as protocol §3 says (503 busy, or close 1013)."""


@dataclass(frozen=True)
class Created:
    """A call as `POST /api/calls/` created it."""

    call_id: str
    ws_url: str
    token: str


async def create_call(
    bot: str, mode: str = "vad", *, server: Server | None = None, caller: dict[str, str] | None = TEST_CALLER
) -> Created:
    """Create a call (201), or raise `CallRefused` (`Busy` for 503 busy). `caller=None` sends none."""
    request: dict[str, Any] = {"bot": bot, "mode": mode}
    if caller is not None:
        request["caller"] = caller
    answer = await (server or InProcess()).post_json("/api/calls/", request)
    if answer.status != 201:
        error = answer.body.get("error", {}) if isinstance(answer.body, dict) else {}
        refused = Busy if answer.status == 503 and error.get("code") == "busy" else CallRefused
        code, retry_after = error.get("code", ""), answer.headers.get("Retry-After")
        what = f"POST /api/calls/ → {answer.status} {code} (Retry-After {retry_after}): {error.get('message', answer.body)}"
        raise refused(what, answer.status, code, retry_after)
    body = answer.body
    return Created(body["call_id"], body["ws_url"], body["token"])


async def stored_call(created: Created, *, server: Server | None = None) -> dict[str, Any]:
    """`GET /api/calls/<id>/` with the call's token: the call as the server stored it."""
    answer = await (server or InProcess()).get_json(
        f"/api/calls/{created.call_id}/", {"Authorization": f"Bearer {created.token}"}
    )
    if answer.status != 200:
        raise AssertionError(f"GET /api/calls/{created.call_id}/ → {answer.status}")
    return answer.body


class CallClient:
    """One call's WebSocket, as a caller's client sees it."""

    def __init__(
        self, ws_url: str, *, server: Server | None = None, headers: Headers | None = None,
        created: Created | None = None, keep_audio: bool = True,
    ) -> None:
        self.server = server or InProcess()
        self.socket = self.server.socket(ws_url, headers)
        self.created = created
        self.timeout = self.server.timeout
        self.keep_audio = keep_audio
        self.events: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.audio_frames: list[bytes] = []
        self.audio_bytes = 0
        self.close_code: int | None = None
        self.on_audio: Callable[[bytes, float], None] | None = None
        self.on_event: Callable[[dict[str, Any], float], None] | None = None
        self._unread: deque[dict[str, Any]] = deque()  # received, not yet returned by next_event()

    @property
    def call_id(self) -> str | None:
        return self.created.call_id if self.created else None

    # ------------------------------------------------------------------ joining
    @classmethod
    async def start(
        cls, bot: str, mode: str = "vad", *, server: Server | None = None,
        caller: dict[str, str] | None = TEST_CALLER, keep_audio: bool = True,
    ) -> CallClient:
        """Create a call over HTTP and join it (see `join`)."""
        server = server or InProcess()
        created = await create_call(bot, mode, server=server, caller=caller)
        return await cls.join(created, server=server, keep_audio=keep_audio)

    @classmethod
    async def join(cls, created: Created, *, server: Server | None = None, keep_audio: bool = True) -> CallClient:
        """Connect to a created call and wait for `call.started` (left unread for
        `next_event()`); raises `Busy` if a full worker refused it (protocol §3)."""
        client = cls(created.ws_url, server=server, created=created, keep_audio=keep_audio)
        if not await client.connect():
            refused = getattr(client.socket, "refused_status", None)
            raise AssertionError("the server refused the WebSocket handshake" + (f" (HTTP {refused})" if refused else ""))
        first = await client.next_event()
        if first is not None and first["type"] == "error" and first.get("code") == "busy":
            await client.drain()
            raise Busy(f"socket refused busy, close {client.close_code}", client.close_code, "busy")
        if first is None or first["type"] != "call.started":
            raise AssertionError(f"expected call.started, got {first} (close {client.close_code})")
        client._unread.appendleft(first)
        return client

    async def connect(self, timeout: float = 30) -> bool:
        """Open the socket; False if the server refused the handshake."""
        return await self.socket.connect(timeout)

    # ------------------------------------------------------------------ receiving
    async def next_event(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next JSON event (bot audio is taken in on the way); None once closed."""
        if self._unread:
            return self._unread.popleft()
        while self.close_code is None:
            message = await self.socket.receive(self.timeout if timeout is None else timeout)
            now = time.perf_counter()
            if isinstance(message, Closed):
                self.close_code = message.code
                return None
            if isinstance(message, bytes):
                self.audio_bytes += len(message)
                if self.keep_audio:
                    self.audio += message
                    self.audio_frames.append(message)
                if self.on_audio is not None:
                    self.on_audio(message, now)
                continue
            event = json.loads(message)
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event, now)
            return event
        return None

    async def until(self, kind: str, timeout: float | None = None, **match: Any) -> dict[str, Any]:
        """The next event of type `kind` whose fields equal `match`, within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        while True:
            event = await self.next_event(timeout=max(0.1, deadline - loop.time()))
            if event is None:
                raise AssertionError(f"closed ({self.close_code}) before {kind}; events: {self.types()}")
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    async def drain(self, timeout: float | None = None) -> int:
        """Read until the server closes; the close code."""
        while self.close_code is None:
            await self.next_event(timeout=timeout)
        return self.close_code

    async def ended(self) -> dict[str, Any]:
        """Read to `call.ended` and the close that follows; the event."""
        event = await self.until("call.ended")
        await self.drain()
        return event

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    # ------------------------------------------------------------------ sending
    async def send(self, **message: Any) -> None:
        """One JSON message: `send(type="end_of_speech")`, `send(type="hangup")`."""
        await self.socket.send_text(json.dumps(message))

    async def send_text(self, frame: str) -> None:
        """A raw text frame (a test of malformed messages)."""
        await self.socket.send_text(frame)

    async def send_bytes(self, frame: bytes) -> None:
        """A raw binary frame."""
        await self.socket.send_bytes(frame)

    async def say_text(self, text: str) -> None:
        """Answer by typing, once the bot has finished its line."""
        await self.until("bot.speech.ended")
        await self.send(type="text", text=text)

    async def send_audio(
        self, pcm: bytes, *, frame_ms: int = 20, rate: int = 16000, pace: float = 0.0, sent_at: list[float] | None = None
    ) -> float:
        """Caller audio in `frame_ms` frames; `pace=1.0` sends it in real time, as a
        microphone does (0: as fast as possible). Returns the perf_counter() at which
        the last frame's time was up; `sent_at` (if given) gets each frame's send time."""
        step = rate * 2 * frame_ms // 1000
        started = time.perf_counter()
        for n, i in enumerate(range(0, len(pcm), step)):
            await self.socket.send_bytes(pcm[i : i + step])
            if sent_at is not None:
                sent_at.append(time.perf_counter())
            if pace:
                await asyncio.sleep(max(0.0, started + (n + 1) * frame_ms / 1000 * pace - time.perf_counter()))
        return time.perf_counter()

    async def close(self) -> None:
        await self.socket.close()
