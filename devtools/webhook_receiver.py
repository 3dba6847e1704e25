"""A real HTTP receiver of webhooks on loopback: what a customer's CRM endpoint is.

It records every request (headers, body, arrival) and answers from a script, one
answer per request in order, then `default`. An answer may hold the request until
the test releases it (a receiver that does not answer in time). It also counts, per
`webhook-id`, how many requests were in progress at once.

    with Receiver([500, 500, 200]) as hook:
        ... hook.url ...
        hook.wait_for(3)
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once this is set
    delay_s: float = 0.0  # think time (the bench's 300 ms receiver)
    endless: bool = False  # stream a body that never ends (chunked)


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()


class Receiver:
    def __init__(self, script: list[int | Reply] | None = None, default: int | Reply = 200) -> None:
        self.script = [r if isinstance(r, Reply) else Reply(r) for r in script or []]
        self.default = default if isinstance(default, Reply) else Reply(default)
        self.requests: list[Received] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.changed = threading.Condition()
        self.released = threading.Event()  # set at stop: held requests let go
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.released.set()
        for reply in self.script:
            if reply.hold is not None:
                reply.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Block until `count` requests have arrived (an event, bounded by `timeout`)."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests arrived in {timeout} s")
            return list(self.requests)

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.requests]

    def _next_reply(self) -> Reply:
        with self.changed:
            return self.script.pop(0) if self.script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                got = Received(self.headers.get("webhook-id", ""), {k.lower(): v for k, v in self.headers.items()},
                               body, time.monotonic())
                reply = receiver._next_reply()
                with receiver.changed:
                    receiver.requests.append(got)
                    receiver.in_flight[got.webhook_id] += 1
                    receiver.max_in_flight[got.webhook_id] = max(
                        receiver.max_in_flight[got.webhook_id], receiver.in_flight[got.webhook_id]
                    )
                    receiver.changed.notify_all()
                try:
                    if reply.hold is not None:
                        reply.hold.wait(60)
                    if reply.delay_s:
                        time.sleep(reply.delay_s)
                    self._answer(reply)
                except OSError:
                    pass  # the sender gave up (timeout) or was killed
                finally:
                    with receiver.changed:
                        receiver.in_flight[got.webhook_id] -= 1
                        receiver.changed.notify_all()

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.endless:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 16384
                    while not receiver.released.is_set():
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    return
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        return Handler
