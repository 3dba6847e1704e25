"""The cloud SDKs' sockets on asyncio streams (calls/providers/asyncio_net.py), on real
loopback sockets: a write does not wait for a turn of the event loop, a connection the
server closed while idle is not reused, HTTPS works as the vendors' APIs use it, and
failures arrive as httpcore's error types
(which httpx and the vendor SDKs map to theirs). Whole transcriptions through the
OpenAI SDK on this backend, with retries, drops and timeouts, are in
test_cloud_providers.py."""
from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess

import httpcore2
import httpx2
import pytest

from calls.providers.asyncio_net import AsyncioBackend
from calls.providers.openai_asr import CONNECTION_LIMITS, WholeBodyTransport


async def test_a_write_does_not_wait_for_the_event_loop() -> None:
    received = bytearray()
    finished = asyncio.Event()

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            received.extend(data)
        writer.close()
        finished.set()

    server = await asyncio.start_server(keep, "127.0.0.1", 0)
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
    write = stream.write(b"x" * 4096, timeout=5)
    with pytest.raises(StopIteration):  # done at its first step: the bytes went to the socket
        write.send(None)
    await stream.aclose()
    async with asyncio.timeout(10):  # a guard, not a timing
        await finished.wait()
    assert bytes(received) == b"x" * 4096
    server.close()


async def test_failures_are_httpcores_error_types() -> None:
    backend = AsyncioBackend()
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = httpx2.AsyncClient(transport=WholeBodyTransport(limits=CONNECTION_LIMITS))
    with pytest.raises(httpx2.ConnectError):
        await client.get(f"http://127.0.0.1:{port}/")
    await client.aclose()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # takes the request, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    stream = await backend.connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1], timeout=5)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=5)
    with pytest.raises(httpcore2.ReadTimeout):
        await stream.read(1024, timeout=0.05)
    await stream.aclose()
    server.close()


async def test_a_kept_alive_connection_the_server_closed_is_not_reused() -> None:
    """The server answers, keeps the connection a moment, then closes it while idle: the
    next request goes on a new connection and succeeds (asyncio reads the close eagerly,
    so the backend must report such a connection as unusable)."""
    connections = 0
    closed = asyncio.Event()

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        await writer.drain()
        writer.close()  # idle close, as a server's keep-alive timeout does
        await writer.wait_closed()
        closed.set()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    client = httpx2.AsyncClient(transport=WholeBodyTransport(limits=CONNECTION_LIMITS))
    assert (await client.get(url)).text == "ok"
    async with asyncio.timeout(10):
        await closed.wait()
    for _ in range(3):  # a few loop turns: asyncio reads the close into the stream's state
        await asyncio.sleep(0)
    assert (await client.get(url)).text == "ok"
    assert connections == 2
    await client.aclose()
    server.close()


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for localhost (openssl, from Debian's base system)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1"],
        check=True, capture_output=True,
    )
    return cert, key


async def test_https_as_the_real_apis_use_it(certificate) -> None:
    """TLS on the same connection after connecting (httpcore's start_tls), kept alive
    across requests; a certificate the client does not trust is a connect error."""
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://localhost:{server.sockets[0].getsockname()[1]}/"
    trusting = httpx2.AsyncClient(transport=WholeBodyTransport(verify=ssl.create_default_context(cafile=str(cert))))
    assert [(await trusting.get(url)).text for _ in range(3)] == ["ok"] * 3
    assert connections == 1  # one TLS connection, reused
    await trusting.aclose()
    strict = httpx2.AsyncClient(transport=WholeBodyTransport())
    with pytest.raises(httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await strict.get(url)
    await strict.aclose()
    server.close()
