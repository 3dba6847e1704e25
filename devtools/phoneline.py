"""A phone-line simulator: the carrier's side of Twilio Media Streams and Exotel's
Voicebot stream, for end-to-end phone-call tests and bench/phone.py.

It speaks each carrier's wire format exactly (JSON text frames, camelCase for
Twilio, snake_case for Exotel; `connected`, `start`, 20 ms µ-law `media` for
Twilio or 100 ms 16-bit PCM `media` for Exotel, `dtmf`, `mark`, `stop`) and
checks what the server sends back as strictly as the carrier would: the stream
id, whole 160-byte µ-law frames for Twilio, 100 ms chunks that are a multiple of
320 bytes for Exotel. Like the real carriers it *plays* bot audio in real time:
received audio goes into a playout buffer, a `mark` is echoed when the audio
sent before it has played, and `clear` empties the buffer and echoes pending
marks at once. Each media message's arrival is recorded so a test or benchmark
can tell whether the caller would have heard a gap (an underrun) while the bot spoke.

Caller speech is real: espeak-ng (devtools/speech.py) converted by sox to what the
line carries (µ-law 8 kHz, or 16-bit PCM 8 kHz), so the server hears telephone audio.
"""
from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from django.test import AsyncClient
from twilio.request_validator import RequestValidator

from devtools.faketwilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER
from devtools.servers import Closed, InProcess, Server
from devtools.speech import SOX, say

RATE = 8000


def to_line(pcm16k: bytes, encoding: str) -> bytes:
    """16 kHz s16le speech -> what a phone line carries, converted by sox
    (band-limited to 8 kHz; µ-law for Twilio, 16-bit PCM for Exotel)."""
    out = ["-e", "mu-law", "-b", "8"] if encoding == "mulaw" else ["-e", "signed-integer", "-b", "16"]
    args = [SOX, "-t", "raw", "-r", "16000", "-e", "signed-integer", "-b", "16", "-c", "1", "-",
            "-t", "raw", "-r", str(RATE), *out, "-c", "1", "-"]
    return subprocess.run(args, input=pcm16k, check=True, capture_output=True, timeout=30).stdout


@dataclass
class Dialect:
    """One carrier's field names and audio framing."""

    name: str
    sid: str  # "streamSid" | "stream_sid"
    seq: str  # "sequenceNumber" | "sequence_number"
    encoding: str  # "mulaw" | "pcm16"
    frame_ms: int  # caller audio per media message
    out_multiple: int  # server payloads must be a multiple of this many bytes
    out_frame_bytes: int | None = None  # ... and exactly this long (Exotel's 100 ms chunks)

    @property
    def bytes_per_ms(self) -> int:
        return RATE // 1000 * (1 if self.encoding == "mulaw" else 2)

    @property
    def silence_byte(self) -> bytes:
        return b"\xff" if self.encoding == "mulaw" else b"\x00"


TWILIO = Dialect("twilio", "streamSid", "sequenceNumber", "mulaw", 20, 160)
EXOTEL = Dialect("exotel", "stream_sid", "sequence_number", "pcm16", 100, 320, 1600)


@dataclass
class Received:
    at: float  # perf_counter when the message arrived
    message: dict[str, Any]


@dataclass
class Playout:
    """The carrier's playout buffer: audio plays in real time in arrival order."""

    busy_until: float = 0.0  # when the buffered audio will have played
    gaps: list[float] = field(default_factory=list)  # silences (s) between media while a line was playing
    in_line: bool = False  # a bot line is being received (between its first media and its mark)
    lines: int = 0  # bot lines whose audio has begun to arrive
    line_starts: list[float] = field(default_factory=list)  # when each line's first audio arrived
    max_lead: float = 0.0  # most audio (s) ever queued ahead of playout: real-time pacing keeps it small


class PhoneLine:
    """One simulated phone call. Use `await PhoneLine.twilio(token)` or `PhoneLine.exotel(...)`;
    the server is the ASGI application in this process unless `server` says otherwise."""

    def __init__(self, dialect: Dialect, path: str, *, call_sid: str | None = None, server: Server | None = None) -> None:
        self.dialect = dialect
        self.socket = (server or InProcess()).socket(path)
        self.stream_sid = ("MZ" if dialect is TWILIO else "") + uuid.uuid4().hex
        self.call_sid = call_sid or ("CA" + uuid.uuid4().hex)
        self.received: list[Received] = []
        self.audio = bytearray()  # every byte of bot audio, as the carrier got it
        self.marks_echoed: list[str] = []
        self.clears = 0
        self.close_code: int | None = None
        self.violations: list[str] = []  # anything a real carrier would reject
        self.playout = Playout()
        self._seq = 0
        self._chunk = 0
        self._sent_ms = 0
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._echoes: set[asyncio.Task[None]] = set()
        self._pending_marks: list[tuple[str, asyncio.Task[None]]] = []

    # ------------------------------------------------------------------ opening
    @classmethod
    async def twilio(cls, token: str, *, call_sid: str | None = None, server: Server | None = None) -> PhoneLine:
        line = cls(TWILIO, "/ws/telephony/twilio/", call_sid=call_sid, server=server)
        await line._open()
        await line._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await line._send({
            "event": "start", line.dialect.seq: line._next_seq(), "streamSid": line.stream_sid,
            "start": {
                "accountSid": "AC" + "0" * 32, "streamSid": line.stream_sid, "callSid": line.call_sid,
                "tracks": ["inbound"], "customParameters": {"token": token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }, seq=False)
        return line

    @classmethod
    async def exotel(
        cls, bot: str, key: str, *, caller: str = "09876543210", call_sid: str | None = None, server: Server | None = None
    ) -> PhoneLine:
        line = cls(EXOTEL, f"/ws/telephony/exotel/?bot={bot}&key={key}", call_sid=call_sid, server=server)
        await line._open()
        await line._send({"event": "connected"})
        await line._send({
            "event": "start", "stream_sid": line.stream_sid,
            "start": {
                "stream_sid": line.stream_sid, "call_sid": line.call_sid, "account_sid": "exotel-account",
                "from": caller, "to": "08047491899", "custom_parameters": {},
                "media_format": {"encoding": "base64", "sample_rate": "8000", "bit_rate": "128kbps"},
            },
        })
        return line

    async def _open(self) -> None:
        assert await self.socket.connect(30), "the server refused the WebSocket handshake"
        self._reader = asyncio.create_task(self._read(), name=f"phoneline-{self.dialect.name}")

    # ------------------------------------------------------------------ the caller
    async def say(self, text: str, *, voice: str = "en-us", pace: float = 0.0, tail_ms: int = 700) -> None:
        """Speak `text` (espeak-ng -> sox -> the line's encoding), then `tail_ms` of line silence."""
        await self.send_audio(to_line(say(text, voice=voice), self.dialect.encoding), pace=pace)
        await self.silence(tail_ms, pace=pace)

    async def silence(self, ms: int, *, pace: float = 0.0) -> None:
        await self.send_audio(self.dialect.silence_byte * (ms * self.dialect.bytes_per_ms), pace=pace)

    async def send_audio(self, data: bytes, *, pace: float = 0.0) -> None:
        """Line audio in the carrier's frame size; `pace=1.0` sends it in real time."""
        step = self.dialect.frame_ms * self.dialect.bytes_per_ms
        started = time.perf_counter()
        for i in range(0, len(data), step):
            frame = data[i : i + step]
            if len(frame) < step:
                frame += self.dialect.silence_byte * (step - len(frame))
            self._chunk += 1
            media: dict[str, Any] = {"chunk": self._chunk, "timestamp": str(self._sent_ms), "payload": base64.b64encode(frame).decode()}
            if self.dialect is TWILIO:
                media = {"track": "inbound", **media, "chunk": str(self._chunk)}
            await self._send({"event": "media", self.dialect.sid: self.stream_sid, "media": media})
            self._sent_ms += self.dialect.frame_ms
            if pace:
                due = started + (i // step + 1) * self.dialect.frame_ms / 1000 * pace
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

    async def press(self, digit: str) -> None:
        dtmf = {"track": "inbound_track", "digit": digit} if self.dialect is TWILIO else {"duration": "240", "digit": digit}
        await self._send({"event": "dtmf", self.dialect.sid: self.stream_sid, "dtmf": dtmf})

    async def hang_up(self) -> None:
        """The caller hangs up: `stop`, then the carrier closes the socket."""
        stop = {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid} if self.dialect is TWILIO else {
            "call_sid": self.call_sid, "account_sid": "exotel-account", "reason": "callended"}
        await self._send({"event": "stop", self.dialect.sid: self.stream_sid, "stop": stop})

    async def close(self) -> None:
        for task in self._echoes:
            task.cancel()
        if self.close_code is None:
            await self.socket.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # ------------------------------------------------------------------ waiting
    async def wait_for(self, predicate, timeout: float = 60, what: str = "") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.close_code is not None and not predicate():
                raise AssertionError(f"line closed ({self.close_code}) before {what or predicate}")
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}; marks {self.marks_sent()}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def heard_line(self, count: int | None = None, timeout: float = 60) -> None:
        """Until the caller has heard the bot's `count`-th line (default: one more than now)."""
        want = (len(self.marks_echoed) + 1) if count is None else count
        await self.wait_for(lambda: len(self.marks_echoed) >= want, timeout, f"bot line {want} to play")

    async def line_started(self, count: int = 1, timeout: float = 60) -> None:
        """Until audio of the bot's `count`-th line has begun to arrive (1: the greeting)."""
        await self.wait_for(lambda: self.playout.lines >= count, timeout, f"audio of bot line {count}")

    async def closed(self, timeout: float = 60) -> int:
        await self.wait_for(lambda: self.close_code is not None, timeout, "the server to close")
        return self.close_code  # type: ignore[return-value]

    def marks_sent(self) -> list[str]:
        return [r.message["mark"]["name"] for r in self.received if r.message.get("event") == "mark"]

    def media(self) -> list[Received]:
        return [r for r in self.received if r.message.get("event") == "media"]

    # ------------------------------------------------------------------ the carrier
    async def _read(self) -> None:
        try:
            while True:
                frame = await self.socket.receive(3600)
                now = time.perf_counter()
                if isinstance(frame, Closed):
                    self.close_code = frame.code
                    self._changed.set()
                    return
                if isinstance(frame, bytes):
                    self.violations.append("binary frame (carriers take JSON text frames only)")
                    continue
                try:
                    message = json.loads(frame)
                except ValueError:
                    self.violations.append(f"not JSON: {frame[:60]!r}")
                    continue
                self.received.append(Received(now, message))
                self._handle(message, now)
                self._changed.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the app task died: report it as a close
            self.violations.append(f"reader: {exc!r}")
            self.close_code = self.close_code or -1
            self._changed.set()

    def _handle(self, message: dict[str, Any], now: float) -> None:
        event = message.get("event")
        if message.get(self.dialect.sid) != self.stream_sid:
            self.violations.append(f"{event} with {self.dialect.sid}={message.get(self.dialect.sid)!r}")
        if event == "media":
            payload = base64.b64decode(message["media"]["payload"])
            if not payload or len(payload) % self.dialect.out_multiple:
                self.violations.append(f"media payload of {len(payload)} bytes (not a multiple of {self.dialect.out_multiple})")
            if self.dialect.out_frame_bytes and len(payload) != self.dialect.out_frame_bytes:
                self.violations.append(f"media chunk of {len(payload)} bytes (Exotel plays 100 ms chunks)")
            seconds = len(payload) / self.dialect.bytes_per_ms / 1000
            pl = self.playout
            if pl.in_line and now > pl.busy_until:
                pl.gaps.append(now - pl.busy_until)  # the buffer ran dry: the caller heard a gap
            pl.busy_until = max(now, pl.busy_until) + seconds
            pl.max_lead = max(pl.max_lead, pl.busy_until - now)
            if not pl.in_line:
                pl.lines += 1
                pl.line_starts.append(now)
            pl.in_line = True
            self.audio += payload
        elif event == "mark":
            name = message["mark"]["name"]
            self.playout.in_line = False
            task = asyncio.create_task(self._echo_mark(name, self.playout.busy_until))
            self._echoes.add(task)
            task.add_done_callback(self._echoes.discard)
            self._pending_marks.append((name, task))
        elif event == "clear":
            self.clears += 1
            self.playout.busy_until = now
            self.playout.in_line = False
            pending, self._pending_marks = self._pending_marks, []
            for name, task in pending:  # a clear plays nothing more and returns pending marks now
                if not task.done():
                    task.cancel()
                    asyncio.ensure_future(self._send_mark(name))
        else:
            self.violations.append(f"unknown event {event!r}")

    async def _echo_mark(self, name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))  # plays in real time, like the carrier
        self._pending_marks = [(n, t) for n, t in self._pending_marks if n != name]
        await self._send_mark(name)

    async def _send_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        self._changed.set()
        if self.close_code is None:
            await self._send({"event": "mark", self.dialect.sid: self.stream_sid, "mark": {"name": name}})

    def _next_seq(self) -> str | int:
        self._seq += 1
        return str(self._seq) if self.dialect is TWILIO else self._seq

    async def _send(self, message: dict[str, Any], seq: bool = True) -> None:
        if seq and self.dialect.seq not in message and message.get("event") != "connected":
            message = {"event": message["event"], self.dialect.seq: self._next_seq(), **message}
        if self.close_code is None:
            await self.socket.send_text(json.dumps(message))


async def twilio_inbound(bot: str, caller: str = "+14155550123", *, public: str = "https://bot.example.com") -> PhoneLine:
    """Twilio's side of an inbound call: the Voice webhook, signed for the server's public
    address `public` (its PUBLIC_BASE_URL, or the test client's http://testserver when
    it has none), then the stream it names."""
    sid = "CA" + uuid.uuid4().hex
    path = f"/telephony/twilio/voice/?bot={bot}"
    form = {"AccountSid": ACCOUNT_SID, "CallSid": sid, "From": caller, "To": FROM_NUMBER, "CallStatus": "ringing"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(public + path, form)
    response = await AsyncClient().post(
        path, data=urlencode(form), content_type="application/x-www-form-urlencoded", headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200, response.content
    stream = ElementTree.fromstring(response.content).find("./Connect/Stream")
    assert stream.get("url") == public.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws/telephony/twilio/"
    return await PhoneLine.twilio(stream.find("Parameter").get("value"), call_sid=sid)
