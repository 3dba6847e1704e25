"""Every change the production server makes to daphne, Twisted and autobahn, in one place.

`config.server` serves through daphne, and a few of daphne's (and its libraries')
choices cost calls latency, CPU or the right close code. Rather than fork them, we
replace a handful of functions at start-up. A replacement is only right for the
code it was written against, so:

- the versions are pinned in requirements.txt (`PINNED`, checked by a test);
- `check()` compares each patched (or relied-on) function's signature, and the source
  of each method we replace wholesale, with what they were when the patch was
  written, and `apply()` refuses to start the server (`PatchTargetChanged`, naming
  every difference) when one moved. After an upgrade: read the new code, adapt the
  patch, then update `EXPECTED`.

The patches (each function says why): frames stamped with their arrival time
(`stamp_received_frames`), autobahn's trace formatting skipped
(`skip_trace_formatting`), writes to an idle socket sent at once
(`write_through_sockets`), registered close codes such as 1013 allowed
(`allow_registered_close_codes`). `configure_websockets` sets the options of
daphne's WebSocket factory: a message bigger than `MAX_MESSAGE_BYTES` is refused
with close 1009 as its header arrives, before anything of it is buffered.
"""
from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass
from typing import Any

# The versions these patches are written against (requirements.txt pins the same).
PINNED = {"daphne": "4.2.3", "Twisted": "26.10.0", "autobahn": "26.11.1"}

# A call socket's largest message: browser audio frames are at most 64 KiB
# (calls.runtime.listener), carrier media messages a few hundred bytes.
MAX_MESSAGE_BYTES = 64 * 1024
# A socket's opening handshake (TCP connect to the application's accept) may take this
# long. autobahn's 5 s (daphne's default) reset the connections a loaded worker was slow
# to accept, after the call had taken its line: the load balancer answered them 502.
OPEN_HANDSHAKE_TIMEOUT_S = 30
# autobahn waits this long for the client's answer to our close frame before resetting
# the connection; the reset throws away what the client has not read yet, so a slow
# client (a busy phone, a loaded browser) lost the final `call.ended` at autobahn's 1 s.
CLOSE_HANDSHAKE_TIMEOUT_S = 10


class PatchTargetChanged(RuntimeError):
    """A function we patch, or rely on, is not what the patch was written against."""


@dataclass(frozen=True)
class Target:
    """`module`:`qualname` must have `signature`; `source` (a SHA-256 prefix) for a
    method we replace wholesale, whose body our replacement copies."""

    module: str
    qualname: str
    signature: str
    source: str = ""

    def resolve(self) -> Any:
        obj: Any = __import__(self.module, fromlist=["_"])
        for part in self.qualname.split("."):
            obj = getattr(obj, part)
        return obj

    def problem(self) -> str | None:
        name = f"{self.module}.{self.qualname}"
        try:
            function = self.resolve()
        except (ImportError, AttributeError):
            return f"{name} is gone"
        function = getattr(function, "__original__", function)  # already patched: check what was there
        found = str(inspect.signature(function))
        if found != self.signature:
            return f"{name}{found}, the patch expects {name}{self.signature}"
        if self.source:
            try:
                digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]
            except (OSError, TypeError):
                return f"{name}: its source cannot be read to compare"
            if digest != self.source:
                return f"{name} has new code (source {digest}, the patch copies {self.source})"
        return None


EXPECTED = (
    Target("daphne.ws_protocol", "WebSocketProtocol.onMessage", "(self, payload, isBinary)", "826cc86d0e2aeef0"),
    Target("daphne.ws_protocol", "WebSocketProtocol.serverClose", "(self, code=None)", "8302150efac698d6"),
    Target(
        "autobahn.websocket.protocol", "WebSocketProtocol.sendCloseFrame",
        "(self, code: 'int | None' = None, reasonUtf8: 'bytes | None' = None, isReply: 'bool' = False) -> 'None'",
    ),
    Target(
        "autobahn.websocket.protocol", "WebSocketProtocol.sendClose",
        "(self, code: 'int | None' = None, reason: 'str | None' = None) -> 'None'",
    ),
    Target("autobahn.websocket.protocol", "hltype", "(obj)"),
    Target("autobahn.websocket.protocol", "hlval", "(val, color='white', bold=True)"),
    Target("twisted.internet.tcp", "Connection.write", "(self, bytes)"),
)
# Class attributes the replacements read (instance state is set up in their __init__).
ATTRIBUTES = (
    ("daphne.ws_protocol", "WebSocketProtocol", ("muted",)),
    ("autobahn.websocket.protocol", "WebSocketProtocol", ("CLOSE_STATUS_CODES_ALLOWED",)),
    ("twisted.internet.tcp", "Connection", ("TLS", "connected", "_writeDisconnected", "dataBuffer", "offset")),
)
# Options `configure_websockets` sets on daphne's factory.
FACTORY_OPTIONS = ("maxMessagePayloadSize", "maxFramePayloadSize", "failByDrop", "openHandshakeTimeout", "closeHandshakeTimeout")


def check() -> list[str]:
    """What no longer matches the code the patches were written against (empty: all well)."""
    problems = [p for target in EXPECTED if (p := target.problem())]
    for module, cls, names in ATTRIBUTES:
        owner = getattr(__import__(module, fromlist=["_"]), cls, None)
        problems += [f"{module}.{cls}.{name} is gone" for name in names if not hasattr(owner, name)]
    from autobahn.websocket.protocol import WebSocketServerFactory

    accepted = inspect.signature(WebSocketServerFactory.setProtocolOptions).parameters
    problems += [f"autobahn's setProtocolOptions() takes no {name}" for name in FACTORY_OPTIONS if name not in accepted]
    return problems


_applied = False


def apply() -> None:
    """Check, then patch (once per process). Raises PatchTargetChanged, naming every
    difference, instead of patching code that is not what the patches expect."""
    global _applied
    if _applied:
        return
    problems = check()
    if problems:
        raise PatchTargetChanged(
            "config/server_patches.py was written against "
            + ", ".join(f"{name} {version}" for name, version in PINNED.items())
            + "; refusing to start because:\n  - " + "\n  - ".join(problems)
        )
    allow_registered_close_codes()
    stamp_received_frames()
    skip_trace_formatting()
    write_through_sockets()
    _applied = True


def _replace(owner: Any, name: str, replacement: Any) -> None:
    replacement.__original__ = getattr(owner, name)
    setattr(owner, name, replacement)


def configure_websockets(factory: Any) -> None:
    """Options of daphne's WebSocket factory (call before the first connection).

    A message (or frame) over MAX_MESSAGE_BYTES fails the connection as its header is
    read: autobahn counts the length it announces, so nothing of it is buffered, and
    with failByDrop off the client is told why (close 1009, "message too big") instead
    of seeing its connection reset. daphne's own default is 1 MiB a message.
    The handshake timeouts: see OPEN_HANDSHAKE_TIMEOUT_S and CLOSE_HANDSHAKE_TIMEOUT_S
    (daphne's own deadline for the application to accept is set to match, in config.server)."""
    factory.setProtocolOptions(
        maxMessagePayloadSize=MAX_MESSAGE_BYTES,
        maxFramePayloadSize=MAX_MESSAGE_BYTES,
        failByDrop=False,
        openHandshakeTimeout=OPEN_HANDSHAKE_TIMEOUT_S,
        closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT_S,
    )


def stamp_received_frames() -> None:
    """Stamp each WebSocket frame with the time daphne read it off the socket.

    daphne queues a frame for the consumer (one asyncio.Queue per connection); when
    the worker is busy, frames wait there, and a stamp taken when the consumer picks
    one up hides that wait. `received_at` (an extra key in the ASGI message) lets
    `calls.transport.sockets.FramesFirst` time `response_ms` from the frame's arrival
    (protocol §3), so the server's figure includes its own queueing.
    """
    from daphne.ws_protocol import WebSocketProtocol

    def on_message(self: WebSocketProtocol, payload: bytes, isBinary: bool) -> None:  # noqa: N803 - autobahn's name
        if self.muted:
            return
        self.last_ping = time.time()
        message = {"type": "websocket.receive", "received_at": time.perf_counter()}
        if isBinary:
            message["bytes"] = payload
        else:
            message["text"] = payload.decode("utf8")
        self.application_queue.put_nowait(message)

    _replace(WebSocketProtocol, "onMessage", on_message)


def skip_trace_formatting() -> None:
    """Stop autobahn formatting arguments for trace logs nobody reads.

    autobahn passes `hltype(...)`/`hlval(...)` (colour markup through click) to its
    `log.trace` calls on every frame read and every message sent; the arguments are
    built before the logger drops the record. That was about 2 % of a worker's time
    under load (py-spy, 300 calls). Those names serve only log arguments here.
    """
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    for module in (protocol, twisted_websocket):
        for name in ("hltype", "hlval"):
            if hasattr(module, name):

                def unformatted(*args: object, **kwargs: object) -> str:
                    return ""

                _replace(module, name, unformatted)


def write_through_sockets() -> None:
    """Send what the worker writes to a socket at once when nothing is queued before it.

    Twisted's TCP transport buffers every write and sends it when the reactor next
    finds the socket writable: on the asyncio reactor that is an `epoll_ctl` to watch
    for writability, a loop turn, the `send`, and another `epoll_ctl` to stop
    watching, for each message. A worker sends every call's bot audio five times a
    second plus its events (bench/socket_writes.py: 92 µs of worker CPU per 8.8 kB
    message that way, 62 µs with this). Here a write to an idle socket goes
    straight to `send`; whatever the kernel does not take (a full send buffer, a
    slow reader) is queued as before, and anything already queued keeps its order,
    since then the write is queued behind it unchanged.
    TLS connections (not used here: TLS ends at the load balancer) keep Twisted's path.
    """
    from twisted.internet import tcp

    buffered_write = tcp.Connection.write

    def write(self: tcp.Connection, data: bytes) -> None:
        if (
            type(data) is bytes
            and data
            and not self.TLS
            and self.connected
            and not self._writeDisconnected
            and not self._tempDataBuffer
            and len(self.dataBuffer) == self.offset
        ):
            try:
                sent = self.socket.send(data)
            except OSError:  # full (EAGAIN), interrupted, or gone: Twisted's own path deals with it
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        buffered_write(self, data)

    _replace(tcp.Connection, "write", write)


def allow_registered_close_codes() -> None:
    """Let daphne close a socket with any registered close code the protocol uses.

    daphne closes through autobahn's `sendClose`, which accepts only 1000 and
    3000-4999 (the codes an *application* may pick) and raises on 1013 "try again
    later", so a busy refusal (protocol §3) went out as 1011. The server may send
    the registered codes (RFC 6455 §7.4.1, IANA registry): send the frame directly.
    """
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.ws_protocol import WebSocketProtocol

    def server_close(self: WebSocketProtocol, code: int | None = None) -> None:
        code = 1000 if code is None else code
        if code in Autobahn.CLOSE_STATUS_CODES_ALLOWED:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            self.sendClose(code=code)

    _replace(WebSocketProtocol, "serverClose", server_close)
