"""The production server for one worker: daphne, with a graceful drain on SIGTERM.

daphne's own SIGTERM handling stops the Twisted reactor at once and cancels every
application instance, which cuts every call in progress. This entry point runs the
same daphne `Server` with its signal handlers off and installs its own: the first
SIGTERM (or SIGINT) starts `calls.worker.drain.drain(DRAIN_S)` (no new calls,
`/readyz` 503, calls in progress finish or are ended as incomplete/shutdown) and
stops the reactor when that returns; a second signal stops at once.

    python -m config.server [--host H] [--port P] [--migrate]
    python -m config.server --healthcheck   # exit 0 if /healthz answers (container HEALTHCHECK)

HOST, PORT and MIGRATE_ON_START give the defaults (see .env.example). Behind a load
balancer the client address comes from TRUSTED_PROXIES (calls.http.clientip), not from
daphne's proxy-header option, which believes whatever a client writes.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import time
import urllib.request

from config.env import env_bool, env_int, env_str

log = logging.getLogger("config.server")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"), help="address to bind (HOST)")
    parser.add_argument("--port", type=int, default=env_int("PORT", 8000, minimum=1), help="port (PORT)")
    parser.add_argument(
        "--migrate", action=argparse.BooleanOptionalAction, default=env_bool("MIGRATE_ON_START", False),
        help="apply database migrations before serving (MIGRATE_ON_START)",
    )
    parser.add_argument("--healthcheck", action="store_true", help="probe this worker's /healthz and exit")
    return parser.parse_args(argv)


def healthcheck(port: int) -> int:
    """Liveness probe for a container: 0 when /healthz answers 200 on loopback."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


EXIT_S = 10  # after the held writes: the calls ended at the drain's deadline close (their writes wait STORE_FLUSH_S at most), the reactor stops


def stop_budget_s(drain_s: float, store_outage_s: float) -> int:
    """The longest a worker takes from SIGTERM to exit: the drain (`drain_s`), the
    flush of writes held through a database outage (`store_outage_s`), then EXIT_S.
    A platform's grace period (Kubernetes' terminationGracePeriodSeconds, compose's
    stop_grace_period) must cover it, plus any pre-stop wait of its own; a worker
    killed earlier loses the calls' writes it still holds."""
    return math.ceil(drain_s + store_outage_s + EXIT_S)


class DrainOnSignal:
    """The signal handlers: the first SIGTERM/SIGINT drains then stops; the second stops now."""

    def __init__(self, server: object, drain_s: float) -> None:
        self.server = server
        self.drain_s = drain_s
        self.task = None

    def install(self) -> None:
        import asyncio

        loop = asyncio.get_event_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.on_signal, sig)

    def on_signal(self, sig: int) -> None:
        import asyncio

        if self.task is not None:
            log.warning("%s again: stopping now", signal.Signals(sig).name)
            self._stop()
            return
        from django.conf import settings

        log.info("%s: draining (up to %.0f s), then stopping (within %d s, held writes flushed)",
                 signal.Signals(sig).name, self.drain_s, stop_budget_s(self.drain_s, settings.STORE_OUTAGE_S))
        self.task = asyncio.ensure_future(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        from django.conf import settings

        import asyncio

        from calls.outbox.runner import stop_runner
        from calls.persistence.write_queue import settle
        from calls.worker.drain import drain

        try:
            await drain(self.drain_s)
            # Meanwhile webhook attempts in flight finish (at most their timeout; nothing new
            # is claimed; one cut short by the exit is retried by another worker).
            webhooks = asyncio.ensure_future(asyncio.to_thread(stop_runner, settings.WEBHOOK_TIMEOUT_S + 1))
            # Writes held through a database outage would be lost with the process.
            if not await settle(settings.STORE_OUTAGE_S):
                log.error("stopping with call writes still unstored (the database is down)")
            await webhooks
        finally:
            self._stop()

    def _stop(self) -> None:
        """Stop the server; a stop already under way (a second signal during the first) is fine."""
        from twisted.internet.error import ReactorNotRunning

        try:
            self.server.stop()
        except ReactorNotRunning:
            pass


CLOSE_HANDSHAKE_TIMEOUT_S = 10


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

    WebSocketProtocol.onMessage = on_message


def skip_trace_formatting() -> None:
    """Stop autobahn formatting arguments for trace logs nobody reads.

    autobahn passes `hltype(...)`/`hlval(...)` (colour markup through click) to its
    `log.trace` calls on every frame read and every message sent; the arguments are
    built before the logger drops the record. That was about 2 % of a worker's time
    under load (py-spy, 300 calls). Those names serve only log arguments here.
    """
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    def unformatted(*args: object, **kwargs: object) -> str:
        return ""

    for module in (protocol, twisted_websocket):
        for name in ("hltype", "hlval"):
            if hasattr(module, name):
                setattr(module, name, unformatted)


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

    tcp.Connection.write = write


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

    WebSocketProtocol.serverClose = server_close


def serve(args: argparse.Namespace) -> int:
    # daphne.server installs Twisted's asyncio reactor; it must come before anything
    # else imports a reactor.
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server
    from twisted.internet import reactor

    allow_registered_close_codes()
    stamp_received_frames()
    skip_trace_formatting()
    write_through_sockets()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    if args.migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=1)

    from asgiref.compatibility import guarantee_single_callable

    from config import heap
    from config.asgi import application

    heap.freeze()  # warm-up freezes again once the engines are loaded (config.warmup)
    server = Server(
        application=guarantee_single_callable(application),
        endpoints=build_endpoint_description_strings(host=args.host, port=args.port),
        signal_handlers=False,
        verbosity=0,
    )
    # autobahn resets a connection whose client has not answered our close frame within
    # 1 s; the reset throws away what the client has not read yet, so a slow client
    # (a busy phone, a loaded browser) lost the final `call.ended`. Give it longer.
    reactor.callWhenRunning(lambda: server.ws_factory.setProtocolOptions(closeHandshakeTimeout=CLOSE_HANDSHAKE_TIMEOUT_S))
    handlers = DrainOnSignal(server, settings.DRAIN_S)
    reactor.callWhenRunning(handlers.install)
    reactor.callWhenRunning(log.info, "serving on http://%s:%s (pid %d)", args.host, args.port, os.getpid())
    server.run()
    log.info("stopped")
    return 1 if server.abort_start else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.healthcheck:
        return healthcheck(args.port)
    return serve(args)


def exit_now(code: int) -> None:
    """Leave without the interpreter's finalization. Once the reactor has stopped, the
    calls are ended and stored; what is left are abandoned coroutines and native engine
    objects (ONNX Runtime, CTranslate2), and garbage-collecting those at shutdown
    crashed the process (SIGSEGV) when a second signal stopped a worker mid-call."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
