"""The client side of the call protocol (protocol §2): frames in, typed commands out.

A text frame becomes one of `Start`, `EndOfSpeech`, `Text`, `Hangup`, or a
`ProtocolError` saying what was wrong with it; a binary frame becomes `Audio`
or a `ProtocolError`. Parsing is pure, so the wire format is read in one place
and the coordinator only acts on commands. (`call_started` builds the one event
whose shape depends on the call, so it sits with the wire format too.)

`InputGuard` is what stands between a client and the call: the per-call abuse
limits (`calls.runtime.limits`: message rate, audio pace, one `start`), which it
reports as clear non-fatal errors and, once the client keeps it up, ends the
call with close 4400; and the count of protocol errors (more than
MAX_PROTOCOL_ERRORS bad frames: fatal `too_many_protocol_errors`, close 4400).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from calls.runtime.limits import ABUSE_LIMIT, CallLimits, Refusal
from calls.runtime.ports import CallContext, Output

log = logging.getLogger(__name__)

INPUT_RATES = (8000, 16000, 24000, 48000)
MAX_FRAME_BYTES = 64 * 1024
PROTOCOL_ERRORS = {"bad_json", "bad_message", "unknown_type", "bad_frame", "frame_too_large", "bad_sample_rate", "too_late"}
MAX_PROTOCOL_ERRORS = 50  # a client this broken gets a fatal error and close 4400
MAX_TEXT_CHARS = 2000  # a typed answer is cut here


@dataclass(frozen=True)
class ProtocolError:
    """A frame the protocol does not allow: `code` and `message` of the non-fatal `error` event."""

    code: str
    message: str


@dataclass(frozen=True)
class Start:
    sample_rate: Any  # as sent; `InputGuard.start` checks it


@dataclass(frozen=True)
class EndOfSpeech:
    received_at: float


@dataclass(frozen=True)
class Text:
    text: str  # stripped, at most MAX_TEXT_CHARS
    received_at: float


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # s16le mono at the call's input rate
    received_at: float


Command = Start | EndOfSpeech | Text | Hangup


def parse_text_frame(raw: str, received_at: float) -> Command | ProtocolError:
    """One JSON text frame from the client."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return ProtocolError("bad_json", "Text frames must be JSON objects.")
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        return ProtocolError("bad_message", 'A message must be a JSON object with a "type".')
    kind = msg["type"]
    if kind == "start":
        return Start(msg.get("sample_rate", 16000))
    if kind == "end_of_speech":
        return EndOfSpeech(received_at)
    if kind == "text":
        text = msg.get("text")
        if not isinstance(text, str) or not text.strip():
            return ProtocolError("bad_message", '"text" needs a non-empty "text" string.')
        return Text(text.strip()[:MAX_TEXT_CHARS], received_at)
    if kind == "hangup":
        return Hangup()
    return ProtocolError("unknown_type", f"Unknown message type {kind!r}.")


def frame_error(data: bytes) -> tuple[str, str] | None:
    """The protocol error (code, message) of a malformed audio frame, or None."""
    if len(data) > MAX_FRAME_BYTES:
        return "frame_too_large", f"Audio frames must be at most 64 KiB (got {len(data)} bytes)."
    if len(data) % 2:
        return "bad_frame", "Audio frames must hold whole 16-bit samples (even byte length)."
    return None


def parse_audio_frame(data: bytes, received_at: float) -> Audio | ProtocolError:
    """One binary frame: caller PCM, whole 16-bit samples, at most 64 KiB."""
    problem = frame_error(data)
    return Audio(data, received_at) if problem is None else ProtocolError(*problem)


def call_started(ctx: CallContext, input_rate: int, output_rate: int) -> dict[str, Any]:
    """The `call.started` event; a resumed call (docs/protocol.md §8) says so and lists what was answered."""
    event: dict[str, Any] = {
        "type": "call.started", "call_id": ctx.call_id, "bot": {"slug": ctx.bot_slug, "name": ctx.bot_name},
        "mode": ctx.mode, "input_sample_rate": input_rate, "output_sample_rate": output_rate,
    }
    if ctx.resumed is not None:
        event.update(resumed=True, answered=[a.key for a in ctx.resumed.answers if a.understood])
    return event


Fatal = Callable[[str, str, int], Awaitable[None]]  # (code, message, close code)


class InputGuard:
    """The limits and protocol-error count of one call. Non-fatal errors go to `out`;
    a fatal one to `fatal(code, message, close_code)`, which ends the call."""

    def __init__(self, out: Output, limits: CallLimits, fatal: Fatal) -> None:
        self.out = out
        self.limits = limits
        self.fatal = fatal
        self.protocol_errors = 0
        self.start_accepted = False

    async def message_allowed(self) -> bool:
        """A text/control message or keypad digit is within the call's rate (else refused)."""
        refusal = self.limits.message()
        if refusal is not None:
            await self.refuse(refusal)
        return refusal is None

    async def audio_allowed(self, seconds: float) -> bool:
        """`seconds` of caller audio are within the call's pace (else refused)."""
        refusal = self.limits.audio(seconds)
        if refusal is not None:
            await self.refuse(refusal)
        return refusal is None

    async def start(self, command: Start, audio_started: bool) -> int | None:
        """The input rate a `start` sets, or None when it is refused (once per call,
        before any audio, at a rate the protocol lists)."""
        rate = command.sample_rate
        if self.start_accepted:  # another start writes nothing
            await self.refuse(self.limits.duplicate_start())
        elif audio_started:
            await self.error(ProtocolError("too_late", '"start" must come before the first audio frame.'))
        elif rate not in INPUT_RATES:
            await self.error(ProtocolError("bad_sample_rate", f"sample_rate must be one of {list(INPUT_RATES)}."))
        else:
            self.start_accepted = True
            return int(rate)
        return None

    async def error(self, error: ProtocolError) -> None:
        """A non-fatal error for the client; past MAX_PROTOCOL_ERRORS bad frames, a fatal one."""
        if error.code in PROTOCOL_ERRORS:
            self.protocol_errors += 1
            if self.protocol_errors > MAX_PROTOCOL_ERRORS:
                await self.fatal("too_many_protocol_errors", f"More than {MAX_PROTOCOL_ERRORS} bad frames.", 4400)
                return
        await self.out.send_event({"type": "error", "code": error.code, "message": error.message, "fatal": False})

    async def refuse(self, refusal: Refusal) -> None:
        """Input the limits refused: a clear non-fatal error, or, once the client has kept
        it up (MAX_BREACHES), a fatal one and close 4400."""
        if self.limits.exhausted:
            log.warning(
                "call ended: %d refused messages or frames", self.limits.breaches, extra={"event": "call.abuse_limit"}
            )
            await self.fatal(ABUSE_LIMIT, self.limits.describe(ABUSE_LIMIT), 4400)
        elif refusal.report:
            await self.out.send_event(
                {"type": "error", "code": refusal.code, "message": self.limits.describe(refusal.code), "fatal": False}
            )
