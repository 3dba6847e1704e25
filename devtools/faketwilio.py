"""A local stand-in for Twilio's REST API (the Calls resource), spoken to over real HTTP.

Our code reaches Twilio only through the official `twilio` SDK, so the fake sits at
the network edge: a threaded stdlib HTTP server on 127.0.0.1 that answers
`POST /2010-04-01/Accounts/{AccountSid}/Calls.json` (dial) and
`POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json` (modify, e.g.
`Status=completed`) in Twilio's shapes: HTTP Basic auth with the account SID and
auth token, form-encoded bodies, JSON call resources, and Twilio's error bodies
(`{"code", "message", "more_info", "status"}`: 20003 bad credentials, 20404 unknown
call, 21211 invalid `To`, 21205 invalid callback URL). Every request is recorded.
A test can script the next dial to fail with a status. Nothing is patched.

It also plays the callee (`devtools.fakecallee`): what happens after a dial (ringing,
answered by a person or a machine, no answer, busy, failed), told to the server the way
Twilio tells it: signed status callbacks and asynchronous AMD callbacks.
"""
from __future__ import annotations

import atexit
import base64
import functools
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"
_CALLS = re.compile(r"/2010-04-01/Accounts/(?P<account>AC\w{32})/Calls(?:/(?P<sid>CA\w{32}))?\.json")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ERRORS = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource {path} was not found"),
    21211: (400, "Invalid 'To' Phone Number: {to}"),
    21205: (400, "Url is not a valid URL: {url}"),
    20001: (400, "Missing required parameter: {name}"),
}


@dataclass
class TwilioRequest:
    method: str
    path: str
    form: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0

    def one(self, name: str) -> str:
        return self.form.get(name, [""])[-1]


@dataclass
class FakeCall:
    sid: str
    to: str
    from_: str
    status: str = "queued"
    twiml: str = ""
    status_callback: str = ""
    events: list[str] = field(default_factory=list)
    amd_callback: str = ""  # AsyncAmdStatusCallback (AsyncAmd=true)
    machine_detection: str = ""
    created_at: float = 0.0  # time.monotonic() when Twilio accepted it
    answered_by: str | None = None  # the AMD verdict once there is one
    created_wall: float = field(default_factory=time.time)
    updates: list[dict[str, str]] = field(default_factory=list)  # what the server changed (Status, Twiml)


class FakeTwilio:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[TwilioRequest] = []
        self.calls: dict[str, FakeCall] = {}
        self.failures: deque[int] = deque()
        self.garbled = 0  # requests still to answer with a page that is not JSON
        self.on_create: Any = None  # callable(FakeCall) after a dial is accepted (devtools.fakecallee)
        self.on_update: Any = None  # callable(FakeCall, form) after the server changed a call
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, name="faketwilio", daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def settings(self, public: str = "https://bot.example.com") -> dict[str, Any]:
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_API_BASE_URL": self.url,
            "PUBLIC_BASE_URL": public,
        }

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    def garble_next(self, count: int = 1) -> None:
        with self._lock:
            self.garbled += count

    def updates_of(self, sid: str) -> list[TwilioRequest]:
        return [r for r in self.requests if r.path.endswith(f"/Calls/{sid}.json")]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.calls.clear()
            self.failures.clear()
            self.garbled = 0
        self.on_create = self.on_update = None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    @property
    def fake(self) -> FakeTwilio:
        return self.server.fake  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        rec = TwilioRequest("POST", url.path, parse_qs(body, keep_blank_values=True), {k.lower(): v for k, v in self.headers.items()})
        fake = self.fake
        with fake._lock:
            fake.requests.append(rec)
            failure = fake.failures.popleft() if fake.failures else None
            garbled = fake.garbled > 0
            fake.garbled -= garbled
        match = _CALLS.fullmatch(url.path)
        if match is None:
            return self._error(rec, 20404, path=url.path)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if rec.headers.get("authorization") != expected or match["account"] != ACCOUNT_SID:
            return self._error(rec, 20003)
        if garbled:
            return self._page(rec)
        if failure is not None:
            return self._json(rec, failure, {"code": 20500, "message": "Internal Server Error", "more_info": "", "status": failure})
        if match["sid"] is None:
            return self._create(rec)
        return self._update(rec, match["sid"])

    def do_GET(self) -> None:
        """Fetch one call (`GET .../Calls/{CallSid}.json`), or list them (`GET .../Calls.json`,
        filtered by `To` and `From`, newest first)."""
        url = urlsplit(self.path)
        rec = TwilioRequest("GET", url.path, parse_qs(url.query), {k.lower(): v for k, v in self.headers.items()})
        with self.fake._lock:
            self.fake.requests.append(rec)
        match = _CALLS.fullmatch(url.path)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if rec.headers.get("authorization") != expected or match is None or match["account"] != ACCOUNT_SID:
            return self._error(rec, 20003)
        if match["sid"] is None:
            with self.fake._lock:
                found = [c for c in self.fake.calls.values()
                         if (not rec.one("To") or c.to == rec.one("To")) and (not rec.one("From") or c.from_ == rec.one("From"))]
            found.sort(key=lambda c: c.created_at, reverse=True)
            size = int(rec.one("PageSize") or 50)
            page = [self._resource(c) for c in found[:size]]
            uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
            return self._json(rec, 200, {"calls": page, "page": 0, "page_size": size, "start": 0, "end": len(page),
                                         "uri": uri, "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None})
        call = self.fake.calls.get(match["sid"] or "")
        if call is None:
            return self._error(rec, 20404, path=url.path)
        self._json(rec, 200, self._resource(call))

    def _create(self, rec: TwilioRequest) -> None:
        for name in ("To", "From"):
            if not rec.one(name):
                return self._error(rec, 20001, name=name)
        if not rec.one("Twiml") and not rec.one("Url"):
            return self._error(rec, 20001, name="Url")
        if not _E164.fullmatch(rec.one("To")):
            return self._error(rec, 21211, to=rec.one("To"))
        callback = rec.one("StatusCallback")
        if callback and not callback.startswith(("http://", "https://")):
            return self._error(rec, 21205, url=callback)
        amd_callback = rec.one("AsyncAmdStatusCallback")
        if rec.one("MachineDetection") not in ("", "Enable", "DetectMessageEnd"):
            return self._error(rec, 20001, name="MachineDetection")
        if rec.one("AsyncAmd") == "true" and not amd_callback.startswith(("http://", "https://")):
            return self._error(rec, 21205, url=amd_callback)
        call = FakeCall(
            sid="CA" + uuid.uuid4().hex, to=rec.one("To"), from_=rec.one("From"), twiml=rec.one("Twiml"),
            status_callback=callback, events=rec.form.get("StatusCallbackEvent", []),
            amd_callback=amd_callback if rec.one("AsyncAmd") == "true" else "", machine_detection=rec.one("MachineDetection"),
            created_at=time.monotonic(),
        )
        with self.fake._lock:
            self.fake.calls[call.sid] = call
        if self.fake.on_create is not None:  # before answering: what it queues is there when the dial returns
            self.fake.on_create(call)
        self._json(rec, 201, self._resource(call))

    def _update(self, rec: TwilioRequest, sid: str) -> None:
        with self.fake._lock:
            call = self.fake.calls.get(sid)
            if call is None:  # a call we did not dial (an inbound one): Twilio knows it, so do we
                call = self.fake.calls[sid] = FakeCall(sid=sid, to=FROM_NUMBER, from_="", status="in-progress")
            status = rec.one("Status")
            if status in ("completed", "canceled"):
                call.status = status
            call.updates.append({k: v[-1] for k, v in rec.form.items()})
        if self.fake.on_update is not None:
            self.fake.on_update(call, {k: v[-1] for k, v in rec.form.items()})
        self._json(rec, 200, self._resource(call))

    @staticmethod
    def _resource(call: FakeCall) -> dict[str, Any]:
        return {
            "sid": call.sid, "account_sid": ACCOUNT_SID, "to": call.to, "from": call.from_, "status": call.status,
            "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "duration": None,
            "answered_by": call.answered_by,
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(call.created_wall)),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call.sid}.json",
        }

    def _error(self, rec: TwilioRequest, code: int, **fmt: str) -> None:
        status, message = _ERRORS[code]
        payload = {"code": code, "message": message.format(**fmt), "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        self._json(rec, status, payload)

    def _page(self, rec: TwilioRequest) -> None:
        rec.status = 200
        data = b"<html><body>Service temporarily unavailable</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, rec: TwilioRequest, status: int, payload: Any) -> None:
        rec.status = status
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@functools.cache
def shared_fake_twilio() -> FakeTwilio:
    """The process-wide fake Twilio, started on first use and closed at exit."""
    fake = FakeTwilio()
    atexit.register(fake.close)
    return fake
