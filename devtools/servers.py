"""The two ways a client reaches the server: in this process, or over the network.

A `Server` answers the client's HTTP requests and opens its WebSockets:
- `InProcess()`: the ASGI application of this process (`config.asgi`), through
  Django's test client for HTTP and Channels' `WebsocketCommunicator` for sockets.
  The tests' own database and channel layer are the server's; nothing of ours is
  replaced, there is just no socket in between.
- `Network(base_url)`: a running server (`python -m config.server`, a worker behind
  the load balancer, the container image) over real HTTP (httpx) and real
  WebSockets (the websockets library).

Both give the same small interface, so the protocol client (`devtools.callclient`)
and the phone-line simulator are written once for both.
"""
from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Closed:
    """What `Socket.receive` returns once the server has closed the socket."""

    code: int


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any  # the decoded JSON body, or None when it is not JSON
    headers: Mapping[str, str]


def http_answer(response) -> HttpAnswer:
    """The answer of a Django test client or an httpx response (they share these three)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    return HttpAnswer(response.status_code, body, response.headers)


class Socket(ABC):
    """One WebSocket to the server, as a client sees it."""

    @abstractmethod
    async def connect(self, timeout: float) -> bool:
        """Open it; False when the server refused the handshake."""

    @abstractmethod
    async def send_text(self, text: str) -> None: ...

    @abstractmethod
    async def send_bytes(self, data: bytes) -> None: ...

    @abstractmethod
    async def receive(self, timeout: float) -> str | bytes | Closed:
        """The next frame; `Closed` once the server closed; TimeoutError after `timeout` s."""

    @abstractmethod
    async def close(self) -> None: ...


class Server(ABC):
    #: how long the client waits for an event unless told otherwise (a bound, not a pace)
    timeout: float

    @abstractmethod
    async def post_json(self, path: str, body: dict[str, Any]) -> HttpAnswer: ...

    @abstractmethod
    async def get_json(self, path: str, headers: Mapping[str, str]) -> HttpAnswer: ...

    @abstractmethod
    def socket(self, path: str, headers: Headers | None = None) -> Socket:
        """A socket to `path` (a `ws_url` as the API returns it), not yet connected."""


# ---------------------------------------------------------------------- in this process
def asgi_application():
    """The project's ASGI application (imported late: Django must be set up first)."""
    from config.asgi import application

    return application


class InProcessSocket(Socket):
    def __init__(self, path: str, headers: Headers | None = None) -> None:
        from channels.testing import WebsocketCommunicator

        self.comm = WebsocketCommunicator(asgi_application(), path, headers=headers or [])

    async def connect(self, timeout: float) -> bool:
        connected, _ = await self.comm.connect(timeout=timeout)
        return connected

    async def send_text(self, text: str) -> None:
        await self.comm.send_to(text_data=text)

    async def send_bytes(self, data: bytes) -> None:
        await self.comm.send_to(bytes_data=data)

    async def receive(self, timeout: float) -> str | bytes | Closed:
        message = await self.comm.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return Closed(message.get("code", 1000))
        if message.get("bytes") is not None:
            return message["bytes"]
        return message["text"]

    async def close(self) -> None:
        await self.comm.disconnect()


class InProcess(Server):
    timeout = 30.0

    async def post_json(self, path: str, body: dict[str, Any]) -> HttpAnswer:
        from django.test import AsyncClient

        return http_answer(await AsyncClient().post(path, data=json.dumps(body), content_type="application/json"))

    async def get_json(self, path: str, headers: Mapping[str, str]) -> HttpAnswer:
        from django.test import AsyncClient

        return http_answer(await AsyncClient().get(path, headers=dict(headers)))

    def socket(self, path: str, headers: Headers | None = None) -> Socket:
        return InProcessSocket(path, headers)


# ---------------------------------------------------------------------- over the network
class NetworkSocket(Socket):
    def __init__(self, url: str, headers: Headers | None = None) -> None:
        self.url = url
        self.headers = [(k.decode(), v.decode()) for k, v in headers or []]
        self.ws = None
        self.refused_status: int | None = None  # the HTTP status of a refused handshake

    async def connect(self, timeout: float) -> bool:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus

        try:
            # No keep-alive pings: the client's own timeouts notice a dead server, and
            # hundreds of callers' pings would be load the server under test pays for.
            self.ws = await connect(
                self.url, max_size=None, open_timeout=timeout, ping_interval=None, additional_headers=self.headers
            )
        except InvalidStatus as refused:
            self.refused_status = refused.response.status_code
            return False
        return True

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send(data)

    async def receive(self, timeout: float) -> str | bytes | Closed:
        from websockets.exceptions import ConnectionClosed

        try:
            return await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as closed:
            return Closed(closed.rcvd.code if closed.rcvd else 1006)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class Network(Server):
    """A server at `base_url` (http:// or https://). `http`, if given, is an
    `httpx.AsyncClient` to share (its owner closes it); else one is made per request."""

    timeout = 180.0

    def __init__(self, base_url: str, http=None) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_base = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.http = http

    async def _request(self, method: str, path: str, **kwargs: Any) -> HttpAnswer:
        import httpx

        if self.http is not None:
            response = await self.http.request(method, self.base_url + path, **kwargs)
        else:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.request(method, self.base_url + path, **kwargs)
        return http_answer(response)

    async def post_json(self, path: str, body: dict[str, Any]) -> HttpAnswer:
        return await self._request("POST", path, json=body)

    async def get_json(self, path: str, headers: Mapping[str, str]) -> HttpAnswer:
        return await self._request("GET", path, headers=dict(headers))

    def socket(self, path: str, headers: Headers | None = None) -> Socket:
        return NetworkSocket(self.ws_base + path, headers)
