"""A local stand-in for the two cloud speech APIs, spoken to over real HTTP.

The cloud providers are tested through the vendors' own SDKs, so the fake sits
at the network edge: a threaded stdlib HTTP server on 127.0.0.1 (random port)
that answers in the shapes the real services use, including their error
bodies. Nothing in our code or the SDKs is patched.

- OpenAI `POST /v1/audio/transcriptions`: multipart upload, checks the bearer
  key, the model field and that the file is a WAV of at least 0.1 s (as the
  real API does), answers `{"text": ..., "usage": ...}` with a scripted
  transcript.
- ElevenLabs `POST /v1/text-to-speech/{voice_id}/stream`: checks `xi-api-key`
  and `output_format=pcm_<rate>`, then streams real speech (espeak-ng, at the
  requested rate) as chunked PCM, a piece every `chunk_delay` seconds, cut at
  odd byte offsets like a real network would. With `hold_after_pieces = n` a
  stream stops after n pieces until the test calls `.resume_streams()`, so a
  test can look at what the client has while the vendor is still "synthesizing"
  (no timing involved). Likewise `hold_transcriptions = True` holds every
  transcription until `.release_transcriptions()`: a recognition still running.

Per test a service can be scripted to fail its next requests (an HTTP status,
"hang" until the client times out, "drop" the connection, "garbage": a 502 whose
body is not even text, as a broken proxy in between might send, or for speech
"cut" the stream after a few pieces), or to return given transcripts. Every request is
recorded. Error bodies echo the full API key received, worse than the real
services (they mask it), so tests catch any leak into our error messages.

Tests use the `fake_cloud` fixture (tests/conftest.py: one server per test
session, reset around each test); point providers at it with `.openai_url` / `.elevenlabs_url` and the
`OPENAI_KEY` / `ELEVENLABS_KEY` constants, or apply `.settings()` (Django
settings) or `.env()` (a server subprocess).
"""
from __future__ import annotations

import atexit
import io
import json
import math
import re
import subprocess
import threading
import time
import uuid
import wave
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np

Service = Literal["openai", "elevenlabs"]
Fault = int | Literal["hang", "drop", "cut", "garbage"]

OPENAI_KEY = "sk-fake-openai-key-0123456789abcdef"
ELEVENLABS_KEY = "fake-elevenlabs-key-0123456789abcdef"
PCM_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
GARBAGE = b"\x89PNG\r\n\x1a\n\xff\xfe\x80\x81 upstream gave up \xc3\x28"
_TTS_PATH = re.compile(r"/v1/text-to-speech/(?P<voice>[^/]+)/stream")
_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {  # status -> (type, code) as OpenAI sends them
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ELEVENLABS_ERRORS: dict[int, str] = {
    400: "invalid_request",
    401: "invalid_api_key",
    402: "payment_required",
    404: "voice_not_found",
    422: "validation_error",
    429: "too_many_concurrent_requests",
}


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request as the fake saw it, and what it did about it."""

    service: Service
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    fields: dict[str, str] = field(default_factory=dict)  # multipart text fields
    files: dict[str, UploadedFile] = field(default_factory=dict)
    json: Any = None
    fault: Fault | None = None
    status: int | None = None  # None: hung up without answering
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    pieces_sent: int = 0
    completed: bool = False  # the whole answer was sent (False: failed, hung, cut, or the client left)


@dataclass
class _Script:
    failures: deque[Fault] = field(default_factory=deque)
    transcripts: deque[str | tuple[str, float]] = field(default_factory=deque)
    odd_tail: bool = False


class FakeCloud:
    """The fake server and its per-test script. Thread-safe: handlers run in server threads."""

    chunk_ms = 100  # audio per streamed piece
    chunk_delay = 0.01  # seconds between pieces
    hang_seconds = 30.0  # a "hang" lasts this long at most (or until reset/close)
    cut_after_pieces = 2  # a "cut" speech stream breaks after this many pieces
    hold_after_pieces = 0  # >0: a speech stream waits after this many pieces for resume_streams()
    hold_transcriptions = False  # True: transcriptions wait for release_transcriptions() before answering
    default_transcript = ""
    default_logprob = -0.1  # the recogniser's mean token log-probability when a test does not say
    no_speech_prob = 0.01  # Whisper's belief that nothing was said, in verbose_json segments
    transcribe_delay = 0.0  # seconds a transcription takes (bench/load: a cloud's 150 ms)
    first_audio_delay = 0.0  # seconds before the first piece of speech (bench/load: 80 ms)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: dict[Service, _Script] = {"openai": _Script(), "elevenlabs": _Script()}
        self._release = threading.Event()
        self._resume = threading.Event()
        self._release_asr = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakecloud", daemon=True)
        self._thread.start()

    # --- addresses and settings
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """OpenAI's base_url includes the version (the SDK appends "/audio/transcriptions")."""
        return f"{self.url}/v1"

    @property
    def elevenlabs_url(self) -> str:
        """ElevenLabs' base_url is the host (the SDK appends "v1/text-to-speech/...")."""
        return self.url

    def settings(self, timeout: float = 10.0) -> dict[str, Any]:
        """Django settings pointing both cloud providers here (`override_settings(**fake.settings())`).
        The timeout is roomy: on a loaded machine a healthy answer must never time out
        (tests of timeouts script a "hang" and set their own)."""
        return {
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": self.openai_url,
            "ELEVENLABS_API_KEY": ELEVENLABS_KEY,
            "ELEVENLABS_BASE_URL": self.elevenlabs_url,
            "ASR_PROVIDER": "openai",
            "TTS_PROVIDER": "elevenlabs",
            "CLOUD_TIMEOUT": timeout,
        }

    def env(self, timeout: float = 10.0) -> dict[str, str]:
        """The same as environment variables, for a server started as a subprocess."""
        return {key: str(value) for key, value in self.settings(timeout).items()}

    # --- scripting
    def script(
        self,
        service: Service,
        *,
        failures: Iterable[Fault] = (),
        transcripts: str | Iterable[str | tuple[str, float]] | None = None,
        odd_tail: bool = False,
    ) -> None:
        """Script `service`'s next requests. `failures` are used up one per request, in order:
        an HTTP status to answer with, "hang" (never answer), "drop" (close the connection
        unanswered), "garbage" (a 502 with a binary, non-UTF-8 body) or, for ElevenLabs, "cut" (break the stream after `cut_after_pieces`).
        OpenAI only: `transcripts`, returned in order (then `default_transcript`); an entry
        may be (text, mean token log-probability) to script the recogniser's confidence.
        ElevenLabs only: `odd_tail` adds one stray byte at the end of every stream."""
        if service not in self._scripts:
            raise ValueError(f"unknown service {service!r}")
        failures = list(failures)
        if service == "openai" and ("cut" in failures or odd_tail):
            raise ValueError('"cut" and odd_tail script ElevenLabs streams')
        if service == "elevenlabs" and transcripts is not None:
            raise ValueError("transcripts script OpenAI")
        with self._lock:
            script = self._scripts[service]
            script.failures.extend(failures)
            if transcripts is not None:
                script.transcripts.extend([transcripts] if isinstance(transcripts, str) else transcripts)
            script.odd_tail = script.odd_tail or odd_tail

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, service: Service) -> list[RecordedRequest]:
        return [r for r in self.requests if r.service == service]

    def reset(self) -> None:
        """Forget requests, scripts and tuned timings, and release any request still hanging."""
        with self._lock:
            for tunable in _TUNABLES:
                self.__dict__.pop(tunable, None)  # back to the class default
            self._requests.clear()
            self._scripts = {"openai": _Script(), "elevenlabs": _Script()}
            self._release.set()
            self._release = threading.Event()
            self._resume.set()
            self._resume = threading.Event()
            self._release_asr.set()
            self._release_asr = threading.Event()

    def resume_streams(self) -> None:
        """Let speech streams held by `hold_after_pieces` go on to the end."""
        self._resume.set()

    def release_transcriptions(self) -> None:
        """Let the transcriptions held by `hold_transcriptions` (and any later) answer."""
        self._release_asr.set()

    def ignore_client_hangups(self) -> None:
        """Log nothing when a client leaves mid-answer: a load generator's callers hang
        up on streams by the hundred, which is normal there."""
        self._server.handle_error = lambda request, address: None

    def close(self) -> None:
        self._release_asr.set()
        self._release.set()
        self._resume.set()
        self._server.shutdown()
        self._server.server_close()

    # --- used by the handler threads
    def _record(self, request: RecordedRequest) -> _Script:
        with self._lock:
            self._requests.append(request)
            script = self._scripts[request.service]
            request.fault = script.failures.popleft() if script.failures else None
            return script

    def _next_transcript(self, script: _Script) -> tuple[str, float]:
        with self._lock:
            entry = script.transcripts.popleft() if script.transcripts else self.default_transcript
        return entry if isinstance(entry, tuple) else (entry, self.default_logprob)

    def _hang(self) -> None:
        self._release.wait(self.hang_seconds)

    def _hold(self) -> None:
        self._resume.wait(self.hang_seconds)


_TUNABLES = (
    "chunk_ms", "chunk_delay", "hang_seconds", "cut_after_pieces", "hold_after_pieces", "hold_transcriptions", "default_transcript",
    "default_logprob", "no_speech_prob", "transcribe_delay", "first_audio_delay",
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked responses, like the real services
    server: ThreadingHTTPServer

    @property
    def fake(self) -> FakeCloud:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if url.path == "/v1/audio/transcriptions":
            self._transcribe(RecordedRequest("openai", "POST", url.path, query, headers), body)
        elif match := _TTS_PATH.fullmatch(url.path):
            self._speak(RecordedRequest("elevenlabs", "POST", url.path, query, headers), body, match["voice"])
        else:
            self._json(404, {"error": {"message": f"Invalid URL (POST {url.path})", "type": "invalid_request_error"}})

    # --- OpenAI
    def _transcribe(self, rec: RecordedRequest, body: bytes) -> None:
        try:
            rec.fields, rec.files = _parse_multipart(rec.headers.get("content-type", ""), body)
            malformed = ""
        except ValueError as exc:
            malformed = str(exc)
        script = self.fake._record(rec)
        if rec.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return self._openai_error(rec, 401)
        if self._fault(rec, self._openai_error):
            return
        if malformed:
            return self._openai_error(rec, 400, malformed)
        if not rec.fields.get("model"):
            return self._openai_error(rec, 400, "you must provide a model parameter")
        upload = rec.files.get("file")
        if upload is None:
            return self._openai_error(rec, 400, "1 validation error for Request\nbody -> file\n  field required")
        try:
            with wave.open(io.BytesIO(upload.data)) as w:
                seconds = w.getnframes() / w.getframerate()
        except (wave.Error, EOFError, ZeroDivisionError):
            return self._openai_error(rec, 400, "Invalid file format. Supported formats: ['flac', 'mp3', 'wav', ...]")
        if seconds < 0.1:
            too_short = "Audio file is too short. Minimum audio length is 0.1 seconds."
            return self._openai_error(rec, 400, too_short, "audio_too_short")
        text, logprob = self.fake._next_transcript(script)
        if self.fake.transcribe_delay:
            time.sleep(self.fake.transcribe_delay)
        if self.fake.hold_transcriptions:
            self.fake._release_asr.wait(self.fake.hang_seconds)
        model, response_format = rec.fields["model"], rec.fields.get("response_format", "json")
        usage = {"type": "duration", "seconds": math.ceil(seconds)}
        if response_format == "text":
            return self._send(rec, 200, text.encode(), "text/plain; charset=utf-8")
        if response_format == "verbose_json":
            if not model.startswith("whisper"):
                return self._openai_error(rec, 400, f"response_format 'verbose_json' is not compatible with model '{model}'")
            words = text.split()
            segments = [{
                "id": 0, "seek": 0, "start": 0.0, "end": round(seconds, 2), "text": " " + text,
                "tokens": [50364 + i for i in range(len(words) + 1)], "temperature": 0.0, "avg_logprob": logprob,
                "compression_ratio": 0.9, "no_speech_prob": self.fake.no_speech_prob,
            }] if text else []
            body = {"task": "transcribe", "language": "english", "duration": round(seconds, 2), "text": text,
                    "segments": segments, "usage": usage}
            return self._json(200, body, rec)
        body = {"text": text, "usage": usage}
        if "logprobs" in (rec.fields.get("include[]"), rec.fields.get("include")):
            if model.startswith("whisper"):
                return self._openai_error(rec, 400, "logprobs are only supported for gpt-4o transcription models")
            body["logprobs"] = [{"token": w, "logprob": logprob, "bytes": list(w.encode())} for w in text.split()]
        self._json(200, body, rec)

    def _openai_error(self, rec: RecordedRequest, status: int, message: str = "", code: str | None = None) -> None:
        kind, default_code = _OPENAI_ERRORS.get(status, ("server_error", None))
        if status == 401 and not message:
            message = f"Incorrect API key provided: {rec.headers.get('authorization', '').removeprefix('Bearer ')}."
        message = message or "The server had an error while processing your request. Sorry about that!"
        error = {"message": message, "type": kind, "param": None, "code": code or default_code}
        self._json(status, {"error": error}, rec)

    # --- ElevenLabs
    def _speak(self, rec: RecordedRequest, body: bytes, voice_id: str) -> None:
        try:
            rec.json = json.loads(body or b"null")
        except ValueError:
            rec.json = None
        script = self.fake._record(rec)
        if rec.headers.get("xi-api-key") != ELEVENLABS_KEY:
            return self._elevenlabs_error(rec, 401)
        if self._fault(rec, self._elevenlabs_error):
            return
        text = rec.json.get("text") if isinstance(rec.json, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self._elevenlabs_error(rec, 422, "field required: text")
        fmt = rec.query.get("output_format", "mp3_44100_128")
        rate = int(fmt.removeprefix("pcm_")) if re.fullmatch(r"pcm_\d+", fmt) else 0
        if rate not in PCM_RATES:
            return self._elevenlabs_error(rec, 400, f"this fake streams pcm_<rate> only, not {fmt}")
        self._stream_audio(rec, script, _speech(text, rate), rate, voice_id)

    def _stream_audio(self, rec: RecordedRequest, script: _Script, pcm: bytes, rate: int, voice_id: str) -> None:
        if script.odd_tail:
            pcm += b"\x00"
        piece = int(rate * self.fake.chunk_ms / 1000) * 2 + 1  # odd on purpose, as networks cut
        if self.fake.first_audio_delay:
            time.sleep(self.fake.first_audio_delay)
        self.send_response(200)
        self.send_header("Content-Type", "audio/pcm")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", uuid.uuid4().hex)
        self.send_header("history-item-id", f"{voice_id[:8]}{uuid.uuid4().hex[:12]}")
        self.send_header("x-character-count", str(len(rec.json["text"])))
        self.end_headers()
        rec.status = 200
        try:
            for start in range(0, len(pcm), piece):
                if rec.fault == "cut" and rec.pieces_sent >= self.fake.cut_after_pieces:
                    self.close_connection = True  # no terminating chunk: the client sees a broken body
                    return
                data = pcm[start : start + piece]
                # Counted before the write, like the end below: the client may read the
                # piece and the test look at this record before this thread runs again.
                rec.pieces_sent += 1
                self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
                if rec.pieces_sent == self.fake.hold_after_pieces:
                    self.fake._hold()
                time.sleep(self.fake.chunk_delay)
            rec.completed = True
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away (barge-in closes the stream)
            rec.completed = False
            self.close_connection = True
        finally:
            rec.finished_at = time.monotonic()

    def _elevenlabs_error(self, rec: RecordedRequest, status: int, message: str = "") -> None:
        if status == 401 and not message:
            message = f"Invalid API key: {rec.headers.get('xi-api-key', '')}"
        name = _ELEVENLABS_ERRORS.get(status, "internal_server_error")
        detail = {"status": name, "message": message or "Server error"}
        self._json(status, {"detail": detail}, rec)

    # --- shared plumbing
    def _fault(self, rec: RecordedRequest, error: Any) -> bool:
        """Act out a scripted failure that replaces the answer; True if there was one."""
        if rec.fault is None or rec.fault == "cut":  # "cut" happens while streaming
            return False
        if rec.fault == "hang":
            self.fake._hang()
            self.close_connection = True
            rec.finished_at = time.monotonic()
        elif rec.fault == "drop":
            self.close_connection = True
            rec.finished_at = time.monotonic()
        elif rec.fault == "garbage":
            self._send(rec, 502, GARBAGE, "application/json")  # says JSON, is not even text
        else:
            error(rec, int(rec.fault))
        return True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json(self, status: int, payload: Any, rec: RecordedRequest | None = None) -> None:
        self._send(rec, status, json.dumps(payload).encode(), "application/json")

    def _send(self, rec: RecordedRequest | None, status: int, data: bytes, content_type: str) -> None:
        if rec is not None:  # recorded before the client can see the answer (tests read it at once)
            rec.status = status
            rec.completed = status < 400
            rec.finished_at = time.monotonic()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
        self.end_headers()
        self.wfile.write(data)


_PARAM = re.compile(r';\s*([\w*-]+)="?([^";]*)"?')


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """multipart/form-data as RFC 7578 frames it (what the OpenAI SDK sends through httpx).

    A plain split on the boundary rather than the `email` package: under the load bench
    (bench/load) this server parses dozens of uploads a second beside the server it
    measures, and the `email` parser spent about 5 ms of CPU on each answer's WAV."""
    if not content_type.startswith("multipart/form-data"):
        raise ValueError(f"expected multipart/form-data, got {content_type or 'no content type'}")
    boundary = dict(_PARAM.findall(content_type)).get("boundary")
    parts = body.split(b"--" + boundary.encode()) if boundary else []
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        raise ValueError("could not parse multipart form")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    for part in parts[1:-1]:
        head, sep, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep or not data.endswith(b"\r\n"):
            raise ValueError("could not parse multipart form")
        data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        params = dict(_PARAM.findall(headers.get("content-disposition", "")))
        name = params.get("name", "")
        if "filename" in params:
            kind = headers.get("content-type", "application/octet-stream").split(";")[0].strip()
            files[name] = UploadedFile(params["filename"], kind, data)
        else:
            fields[name] = data.decode()
    return fields, files


_speech_cache: dict[tuple[str, int], bytes] = {}


def _speech(text: str, rate: int) -> bytes:
    """`text` spoken by espeak-ng at `rate`; a plain tone of similar length if espeak-ng is missing."""
    key = (text, rate)
    if key not in _speech_cache:
        try:
            from devtools.speech import say

            _speech_cache[key] = say(text, rate=rate)
        except (OSError, subprocess.SubprocessError, ValueError):
            seconds = max(0.5, 0.06 * len(text))
            t = np.arange(int(rate * seconds)) / rate
            _speech_cache[key] = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()
    return _speech_cache[key]


_shared: FakeCloud | None = None
_shared_lock = threading.Lock()


def shared_fake_cloud() -> FakeCloud:
    """The process-wide fake server, started on first use and closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeCloud()
            atexit.register(_shared.close)
        return _shared


__all__ = [
    "ELEVENLABS_KEY",
    "OPENAI_KEY",
    "FakeCloud",
    "RecordedRequest",
    "UploadedFile",
    "shared_fake_cloud",
]
