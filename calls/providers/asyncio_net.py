"""The cloud SDKs' sockets on plain asyncio streams instead of anyio.

Why: every transcription request is on the critical path of an answer, and on a
loaded worker each trip round the event loop costs as long as the loop's turn
(tens of milliseconds at the 300-call peak of bench/load). httpcore's anyio
backend yields to the loop on every write (a cancel-shielded checkpoint), so an
OpenAI upload took six loop turns where three are needed: connect or reuse,
send, wait for the answer. This backend writes straight to the transport (a
write only waits when the kernel's buffer is full) and reads from asyncio's
stream buffer, and it does less bookkeeping per call (no cancel scopes).

It plugs into the vendor SDK's own HTTP client (httpx's transport →
httpcore's connection pool, `network_backend`), so requests, retries, TLS and
error classes are the SDK's: failures are raised as httpcore's exception types,
which httpx and the SDK map to their own (connect, read, write, timeouts).
"""
from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from httpcore2 import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

SOCKET_OPTION = tuple[Any, ...]  # (level, option, value[, length]) as httpcore passes them to setsockopt

_READ_ERRORS: dict[type[Exception], type[Exception]] = {TimeoutError: ReadTimeout, OSError: ReadError}
_WRITE_ERRORS: dict[type[Exception], type[Exception]] = {TimeoutError: WriteTimeout, OSError: WriteError}
# (ssl.SSLError, a failed handshake or certificate, is an OSError: a ConnectError.)
_CONNECT_ERRORS: dict[type[Exception], type[Exception]] = {TimeoutError: ConnectTimeout, OSError: ConnectError}


class AsyncioStream(AsyncNetworkStream):
    """One connection: asyncio's StreamReader/StreamWriter behind httpcore's stream interface."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with map_exceptions(_READ_ERRORS):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with map_exceptions(_WRITE_ERRORS):
            if self._writer.transport.is_closing():
                raise BrokenPipeError("the connection is closed")
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()  # returns at once unless the kernel's buffer is full

    async def aclose(self) -> None:
        self._writer.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> AsyncNetworkStream:
        with map_exceptions(_CONNECT_ERRORS):
            try:
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
            except BaseException:
                self._writer.close()
                raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            # An idle kept-alive connection is unusable once the server closed it or sent
            # something unasked: asyncio reads eagerly, so look at its buffer state as well.
            if self._reader.at_eof() or self._reader.exception() is not None or self._writer.transport.is_closing():
                return True
            sock = self._writer.get_extra_info("socket")
            return sock is not None and is_socket_readable(sock)
        return None


class AsyncioBackend(AsyncNetworkBackend):
    """httpcore's network backend on asyncio streams (see the module docstring)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        with map_exceptions(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, local_addr=(local_address, 0) if local_address else None
                )
            _apply(writer, socket_options)  # asyncio already sets TCP_NODELAY
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SOCKET_OPTION] | None = None
    ) -> AsyncNetworkStream:
        with map_exceptions(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
            _apply(writer, socket_options)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextmanager
def map_exceptions(mapping: dict[type[Exception], type[Exception]]) -> Iterator[None]:
    """Raise the first matching httpcore error type in place of an OS or timeout error."""
    try:
        yield
    except Exception as exc:
        for source, target in mapping.items():
            if isinstance(exc, source):
                raise target(exc) from exc
        raise


def is_socket_readable(sock: Any) -> bool:
    """Whether the socket has something to read (or is closed), without waiting."""
    fileno = sock.fileno()
    if fileno < 0:
        return True
    poller = select.poll()
    poller.register(fileno, select.POLLIN)
    return bool(poller.poll(0))


def _apply(writer: asyncio.StreamWriter, socket_options: Iterable[SOCKET_OPTION] | None) -> None:
    sock = writer.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
