"""The production server for one worker: daphne, with a graceful drain on SIGTERM.

daphne's own SIGTERM handling stops the Twisted reactor at once and cancels every
application instance, which cuts every call in progress. This entry point runs the
same daphne `Server` with its signal handlers off and installs its own: the first
SIGTERM (or SIGINT) starts `calls.worker.drain.drain(DRAIN_S)` (no new calls,
`/readyz` 503, calls in progress finish or are ended as incomplete/shutdown) and
stops the reactor when that returns; a second signal stops at once.

    python -m config.server [--host H] [--port P] [--migrate] [--ensure-admin]
    python -m config.server --healthcheck   # exit 0 if /healthz answers (container HEALTHCHECK)

HOST, PORT, MIGRATE_ON_START, ENSURE_ADMIN_ON_START and LISTEN_BACKLOG give the
defaults (see .env.example). Behind a load balancer the client address comes from
TRUSTED_PROXIES (calls.http.clientip), not from daphne's proxy-header option, which
believes whatever a client writes.

What this server changes in daphne, Twisted and autobahn (and the message size limit
of its sockets) is in `config.server_patches`, checked against the pinned versions
at start-up.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
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
    parser.add_argument(
        "--ensure-admin", action=argparse.BooleanOptionalAction, default=env_bool("ENSURE_ADMIN_ON_START", False),
        help="create the first admin if there is none, as `manage.py ensure_admin` (ENSURE_ADMIN_ON_START)",
    )
    parser.add_argument(
        "--backlog", type=int, default=env_int("LISTEN_BACKLOG", 2048, minimum=1),
        help="connections the kernel queues before this worker accepts them (LISTEN_BACKLOG; capped by net.core.somaxconn)",
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


def serve(args: argparse.Namespace) -> int:
    # daphne.server installs Twisted's asyncio reactor; it must come before anything
    # else imports a reactor.
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server
    from twisted.internet import reactor

    from config import server_patches

    try:
        server_patches.apply()
    except server_patches.PatchTargetChanged as exc:  # daphne, Twisted or autobahn changed under the patches
        print(f"config.server: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from django.core.management import call_command

    if args.migrate:
        call_command("migrate", interactive=False, verbosity=1)
    if args.ensure_admin:  # the first admin of a fresh install, as `make run` makes it
        call_command("ensure_admin")

    from asgiref.compatibility import guarantee_single_callable

    from config import heap
    from config.asgi import application

    heap.freeze()  # warm-up freezes again once the engines are loaded (config.warmup)
    server = Server(
        application=guarantee_single_callable(application),
        # A burst of callers (a load balancer opening hundreds of connections at once)
        # waits in the kernel's accept queue instead of being reset (Twisted's default is 50).
        endpoints=[f"{e}:backlog={args.backlog}" for e in build_endpoint_description_strings(host=args.host, port=args.port)],
        signal_handlers=False,
        verbosity=0,
        # A loaded worker may take a while to accept a socket: a late "call.started" or
        # "busy" beats a reset (which the load balancer reports as 502).
        websocket_handshake_timeout=server_patches.OPEN_HANDSHAKE_TIMEOUT_S,
        websocket_connect_timeout=server_patches.OPEN_HANDSHAKE_TIMEOUT_S,
    )
    reactor.callWhenRunning(lambda: server_patches.configure_websockets(server.ws_factory))  # made by run()
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
