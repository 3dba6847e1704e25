"""The people and machines a campaign dials, played at Twilio's edge (with `FakeTwilio`).

When the fake REST API accepts a dial, the callee scripted for that number decides what
happens, and Twilio's side of it is told to the server exactly as Twilio tells it: status
callbacks (`initiated`, `ringing`, `in-progress` for the events the dial subscribed to;
`completed`, `no-answer`, `busy`, `failed` always) and, for a dial with `AsyncAmd=true`, the
AMD callback (`AnsweredBy`: human, machine_end_beep, fax, ...), each form-encoded and signed
with `X-Twilio-Signature` for the URL the dial gave.

Behaviours (`Callees.script(number, *behaviours)`, one per dial, then `default`):
- QUALIFIES / REJECTS: a person answers; the harness decides the call (`on_person`, or
  `people` to take from), then the server hangs up through the REST API (or the harness
  calls `complete`), and `completed` follows;
- NO_ANSWER, BUSY, FAILED: the line never answers;
- VOICEMAIL: a machine answers; its verdict comes after the greeting (machine_end_beep),
  and the line ends when the server hangs up or has its message said (a TwiML update).

Driven two ways: `pump()` delivers everything queued at once on the calling thread (tests
with an injected clock: nothing waits on the wall clock), or `start()` runs a thread that
delivers each event when due (`ring_s`, `amd_s` after the dial), for a server in another
process. Two live calls to one number at once are recorded in `violations`; callbacks the
server did not take (it was down) in `undelivered`, and a fetch of the call (`GET
.../Calls/{sid}.json`) then tells the truth, as Twilio's does.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from devtools.faketwilio import ACCOUNT_SID, AUTH_TOKEN, FakeCall, FakeTwilio

QUALIFIES, REJECTS, NO_ANSWER, BUSY, FAILED, VOICEMAIL = "qualifies", "rejects", "no_answer", "busy", "failed", "voicemail"
PEOPLE = (QUALIFIES, REJECTS)
ENDED = ("completed", "no-answer", "busy", "failed", "canceled")

Sender = Callable[[str, dict[str, str], dict[str, str]], int]  # (url as given, form, headers) -> HTTP status


@dataclass(order=True)
class _Event:
    due: float
    order: int
    sid: str = field(compare=False)
    url: str = field(compare=False)
    form: dict[str, str] = field(compare=False)


def http_sender(base_url: str, timeout: float = 15.0) -> Sender:
    """Post to a server at `base_url` whatever URL the dial gave (its public address), as a
    proxy in front of it would: the signature still covers the URL the dial named."""
    import httpx

    client = httpx.Client(timeout=timeout)
    target = urlsplit(base_url)

    def send(url: str, form: dict[str, str], headers: dict[str, str]) -> int:
        given = urlsplit(url)
        real = given._replace(scheme=target.scheme, netloc=target.netloc).geturl()
        return client.post(real, data=form, headers=headers).status_code

    return send


def django_sender() -> Sender:
    """Post through Django's test client to the ASGI/WSGI app of this process."""
    from django.test import Client

    client = Client()

    def send(url: str, form: dict[str, str], headers: dict[str, str]) -> int:
        given = urlsplit(url)
        path = given.path + (f"?{given.query}" if given.query else "")
        return client.post(path, data=form, headers=headers).status_code

    return send


class Callees:
    def __init__(self, fake: FakeTwilio, send: Sender, *, default: str = NO_ANSWER, ring_s: float = 0.0,
                 amd_s: float = 0.0) -> None:
        self.fake, self.send, self.default, self.ring_s, self.amd_s = fake, send, default, ring_s, amd_s
        self.scripts: dict[str, deque[str]] = defaultdict(deque)
        self.behaviour: dict[str, str] = {}  # sid -> what answered it
        self.live: dict[str, str] = {}  # number -> sid of its call still up
        self.peak_live = 0
        self.dials: list[tuple[float, str, str]] = []  # (monotonic, number, sid)
        self.sent: list[tuple[str, dict[str, str], int]] = []  # (url, form, status)
        self.violations: list[str] = []
        self.undelivered: list[str] = []  # callbacks the server did not take (it was down)
        self.people: deque[FakeCall] = deque()  # answered by a person, waiting for the harness
        self.on_person: Callable[[FakeCall, str], None] | None = None
        self._ended: set[str] = set()
        self._seq: dict[str, itertools.count] = {}
        self._queue: list[_Event] = []
        self._order = itertools.count()
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._validator = RequestValidator(AUTH_TOKEN)
        fake.on_create, fake.on_update = self._dialled, self._updated

    def script(self, number: str, *behaviours: str) -> None:
        with self._lock:
            self.scripts[number].extend(behaviours)

    # ------------------------------------------------------------------ what Twilio sees
    def _dialled(self, call: FakeCall) -> None:
        with self._lock:
            queued = self.scripts.get(call.to)
            behaviour = queued.popleft() if queued else self.default
            self.behaviour[call.sid] = behaviour
            self.dials.append((time.monotonic(), call.to, call.sid))
            if call.to in self.live:
                self.violations.append(f"{call.to} dialled ({call.sid}) while {self.live[call.to]} was still up")
            self.live[call.to] = call.sid
            self.peak_live = max(self.peak_live, len(self.live))
            now, ring = time.monotonic(), self.ring_s
            if behaviour == FAILED:
                return self._status(call, "failed", now)
            self._status(call, "initiated", now, optional="initiated")
            self._status(call, "ringing", now, optional="ringing")
            if behaviour in (NO_ANSWER, BUSY):
                return self._status(call, behaviour.replace("_", "-"), now + ring)
            self._status(call, "in-progress", now + ring, optional="answered")
            verdict = "machine_end_beep" if behaviour == VOICEMAIL else "human"
            call.answered_by = verdict if call.amd_callback else None
            call.status = "in-progress"
            if call.amd_callback:
                self._push(call.sid, call.amd_callback, {
                    "AccountSid": ACCOUNT_SID, "CallSid": call.sid, "AnsweredBy": verdict,
                    "MachineDetectionDuration": "3120" if verdict == "human" else "8420",
                }, now + ring + self.amd_s)

    def _updated(self, call: FakeCall, form: dict[str, str]) -> None:
        if form.get("Status") in ("completed", "canceled") or form.get("Twiml"):
            self.complete(call.sid)  # hung up by the server, or its message said and then hung up

    def complete(self, sid: str, after: float = 0.0) -> None:
        """The line ends (the callee hangs up, or the server did), `after` s from now: `completed` follows."""
        call = self.fake.calls.get(sid)
        if call is not None:
            self._status(call, "completed", time.monotonic() + after)

    def _status(self, call: FakeCall, status: str, due: float, optional: str = "") -> None:
        if optional and optional not in call.events:
            return
        if not call.status_callback:
            return
        with self._lock:
            if status in ENDED:
                if call.sid in self._ended:
                    return
                self._ended.add(call.sid)
                if status != "completed":
                    call.status = status  # what a fetch of the call says from now on
            seq = self._seq.setdefault(call.sid, itertools.count())
            form = {
                "AccountSid": ACCOUNT_SID, "CallSid": call.sid, "CallStatus": status, "From": call.from_, "To": call.to,
                "Direction": "outbound-api", "ApiVersion": "2010-04-01", "CallbackSource": "call-progress-events",
                "SequenceNumber": str(next(seq)), "Timestamp": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            }
            if status == "completed":
                form["CallDuration"] = str(max(1, int(due - call.created_at)))
            self._push(call.sid, call.status_callback, form, due)

    def _push(self, sid: str, url: str, form: dict[str, str], due: float) -> None:
        with self._lock:
            heapq.heappush(self._queue, _Event(due, next(self._order), sid, url, form))
        self._wake.set()

    # ------------------------------------------------------------------ telling the server
    def _deliver(self, event: _Event) -> None:
        headers = {"X-Twilio-Signature": self._validator.compute_signature(event.url, event.form)}
        call_status = event.form.get("CallStatus", "")
        with self._lock:  # the call is over for Twilio as it tells the server so (before its answer)
            call = self.fake.calls.get(event.sid)
            if call_status in ENDED and call is not None:
                if self.live.get(call.to) == event.sid:
                    del self.live[call.to]
                call.status = call_status
        try:
            status = self.send(event.url, event.form, headers)
        except Exception as exc:  # the server is down: Twilio would give up; a fetch tells the truth
            status = -1
            self.undelivered.append(f"{call_status or event.form.get('AnsweredBy')} to {event.url}: {exc!r}")
        with self._lock:
            self.sent.append((event.url, event.form, status))
        if event.form.get("AnsweredBy") == "human":
            call = self.fake.calls[event.sid]
            self.people.append(call)
            if self.on_person is not None:
                self.on_person(call, self.behaviour[event.sid])

    def _take(self, until: float | None) -> _Event | None:
        with self._lock:
            if self._queue and (until is None or self._queue[0].due <= until):
                return heapq.heappop(self._queue)
        return None

    def pump(self) -> int:
        """Deliver everything queued, and what that causes, now, on this thread."""
        delivered = 0
        while (event := self._take(None)) is not None:
            self._deliver(event)
            delivered += 1
        return delivered

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def start(self) -> None:
        """Deliver each event when it is due, from a thread (a server in another process)."""
        self._thread = threading.Thread(target=self._run, name="fakecallee", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            event = self._take(time.monotonic())
            if event is not None:
                self._deliver(event)
                continue
            with self._lock:
                wait = (self._queue[0].due - time.monotonic()) if self._queue else 1.0
            self._wake.clear()
            self._wake.wait(max(0.0, min(wait, 1.0)))


def token_of(call: FakeCall) -> str:
    """The call token in the dial's TwiML (<Stream><Parameter name="token">)."""
    from xml.etree import ElementTree

    stream = ElementTree.fromstring(call.twiml).find("./Connect/Stream")
    return stream.find("Parameter").get("value") if stream is not None else ""
