"""A worker's socket writes go out at once, and what a socket cannot take keeps its order.

`config.server_patches.write_through_sockets` changes how Twisted's TCP transport writes: a
write to a socket with nothing queued is sent straight away instead of waiting for
the reactor to report the socket writable. Real sockets and a real asyncio reactor
here; the patch is undone after each test.
"""
from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from twisted.internet import tcp
from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.protocol import Protocol

from config.server_patches import write_through_sockets


class Recorder(Protocol):
    def __init__(self) -> None:
        self.lost = False

    def connectionLost(self, reason: object = None) -> None:  # noqa: N802 - Twisted's name
        self.lost = True


@pytest.fixture
def reactor() -> Iterator[AsyncioSelectorReactor]:
    loop = asyncio.new_event_loop()
    try:
        yield AsyncioSelectorReactor(loop)
    finally:
        loop.close()


@pytest.fixture
def connection(monkeypatch, reactor) -> Iterator[tuple[tcp.Connection, socket.socket, Recorder]]:
    """A Twisted connection over one end of a socket pair (the worker's side), the other end
    (the peer), and the connection's protocol."""
    monkeypatch.setattr(tcp.Connection, "write", tcp.Connection.write)  # restored after the test
    write_through_sockets()
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.setblocking(False)
    protocol = Recorder()
    conn = tcp.Connection(ours, protocol, reactor)
    conn.connected = True
    protocol.makeConnection(conn)
    try:
        yield conn, peer, protocol
    finally:
        reactor.removeAll()
        ours.close()
        peer.close()


def turn(reactor: AsyncioSelectorReactor) -> None:
    """One pass of the reactor's event loop (ready sockets are served)."""
    reactor._asyncioEventloop.run_until_complete(asyncio.sleep(0))


def read_all(peer: socket.socket) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = peer.recv(1 << 16)
        except BlockingIOError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk


def test_a_write_to_an_idle_socket_is_sent_before_the_reactor_runs(connection, reactor):
    conn, peer, _ = connection
    message = b"\x81\x7e" + bytes(range(256)) * 30  # a WebSocket frame's worth

    conn.write(message)

    assert read_all(peer) == message  # already in the peer's socket: no reactor turn was needed
    assert conn not in reactor.getWriters()  # and nothing was left to watch for


def test_what_the_socket_cannot_take_is_queued_and_sent_in_order(connection, reactor):
    conn, peer, _ = connection
    big = bytes(i % 251 for i in range(4 << 20))  # more than a socket pair's buffers hold
    tail = b"and then this"

    conn.write(big)
    conn.write(tail)  # queued behind the rest of `big`, never ahead of it

    assert conn in reactor.getWriters()
    received = bytearray(read_all(peer))
    assert 0 < len(received) < len(big)
    for _ in range(10_000):  # bounded: each pass moves what the peer has read
        turn(reactor)
        received += read_all(peer)
        if len(received) == len(big) + len(tail):
            break
    assert bytes(received) == big + tail
    turn(reactor)
    assert conn not in reactor.getWriters()


def test_a_write_to_a_socket_whose_peer_has_gone_ends_the_connection_quietly(connection, reactor):
    conn, peer, protocol = connection
    peer.close()

    conn.write(b"anyone there?")  # no exception here: Twisted's own path finds the loss

    for _ in range(100):
        turn(reactor)
        if protocol.lost:
            break
    assert protocol.lost
