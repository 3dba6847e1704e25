"""The phone-line WebSockets (docs/protocol.md §4): thin adapters between a carrier's media
stream and the same `CallPipeline` the browser socket drives.

Each adapter authenticates the stream, claims (or creates) the call, decodes caller
audio to PCM for the pipeline and turns the pipeline's output into the carrier's
messages: bot audio as whole frames (`calls.transport.phone.media`), sent as the pipeline
paces it; a `mark` after each bot line, whose echo means the caller heard the line;
`clear` on barge-in. A call that the bot ends is hung up once its last line has
played (Twilio: through the REST API; Exotel: closing the stream moves its flow on).
No ORM or provider code here: database work is in `calls.persistence.lifecycle`, REST in
`calls.transport.phone.twilio_rest`.

At the edge: a carrier that is not configured (TWILIO_AUTH_TOKEN, EXOTEL_STREAM_KEY)
has no stream (the handshake is refused); a stream that sends no `start` within
PHONE_START_TIMEOUT_S is closed (4408); a call that may not start (the worker drains
or is full, the caller over the call rate limit: `calls.transport.phone.limits`)
hears "all lines are busy" and is hung up.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from calls import metrics
from calls.http.tokens import token_call_id
from calls.persistence import lifecycle
from calls.transport.phone import limits, twilio_rest
from calls.transport.phone.busy import busy_audio
from calls.transport.phone.media import (
    EXOTEL_PCM,
    PHONE_RATE,
    TWILIO_MULAW,
    Codec,
    PhoneAudioOut,
)
from calls.transport.sockets import NO_CHANNEL_LAYER, CallSocket
from calls.worker.registry import live_calls

log = logging.getLogger(__name__)

MARK_PREFIX = "turn-"
BUSY_MARK = "busy"
PLAYED_GRACE_S = 3.0  # how long past its audio we wait for the last line's mark before hanging up anyway
NO_START = 4408  # close code: no valid `start` in time


class PhoneStreamConsumer(CallSocket, AsyncWebsocketConsumer):
    """What Twilio's and Exotel's streams share; subclasses name the fields and the start.
    Claiming the call and the bookkeeping when the stream goes are `CallSocket`'s."""

    channel_layer_alias = NO_CHANNEL_LAYER  # a Redis fault must not touch a call (see calls.transport.sockets)
    codec: Codec = TWILIO_MULAW
    sid_field = "streamSid"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.closed = False
        self.stream_sid = ""
        self.call_sid = ""
        self.caller_left = False
        self.audio_out: PhoneAudioOut | None = None
        self._line_seconds = 0.0  # audio sent of the current bot line
        self._cleared: set[int] = set()
        self._marks: dict[str, asyncio.Event] = {}
        self._last_mark = ""
        self._start_deadline: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ opening
    def configured(self) -> bool:
        """Whether this carrier is set up at all (its credential is set)."""
        raise NotImplementedError

    def authenticated(self) -> bool:
        """Whether the stream's URL carries the carrier's credential (checked before `start`)."""
        return True

    async def connect(self) -> None:
        if not self.configured():  # no such endpoint: the handshake is refused (daphne: HTTP 403)
            self.closed = True
            await super().close()
            return
        # Accept first so the carrier sees the protocol's close codes, not an HTTP 403.
        await self.accept()
        if not self.authenticated():
            await self.refuse(4401)
            return
        loop = asyncio.get_running_loop()
        self._start_deadline = loop.call_later(settings.PHONE_START_TIMEOUT_S, self._no_start)

    def _no_start(self) -> None:
        """A socket that never says which call it is holds a worker's socket for nothing."""
        if self.pipeline is None and not self.closed:
            log.info("phone stream: no valid start within %.1f s; closing", settings.PHONE_START_TIMEOUT_S)
            metrics.refused("no_start")
            self._closing = asyncio.ensure_future(self.refuse(NO_START))

    async def take_line(self, key: str, caller: str | None = None) -> bool:
        """Before the call is touched: the drain, the caller's rate limit (when `caller` is
        given: a Twilio call was counted at its webhook) and one of this worker's lines.
        A caller who may not start hears the busy line and is hung up (False)."""
        refused = False
        if caller is not None:
            source = (self.scope.get("client") or ("",))[0]
            refused = bool(await asyncio.to_thread(limits.refusal, caller, source, lines_anywhere=False))
        if not refused:
            self.line = limits.take_line(key)  # none while the worker drains
            refused = self.line is None
        if refused:  # in a task of its own: the line's mark comes back through receive()
            self._closing = asyncio.ensure_future(self.refuse_busy())
        return not refused

    async def refuse_busy(self) -> None:
        """Say the busy line, wait (bounded) for it to play, hang up and close."""
        pcm, rate = await busy_audio()
        if pcm and not self.closed:
            out = PhoneAudioOut(rate, self.codec)
            await self._send_media(out.push(pcm) + out.end_of_line())
            await self._send_mark(BUSY_MARK)
            await self._wait_played()
        if not (self.closed or self.caller_left):
            await self.hang_up()
        await self.refuse(1000)

    # ------------------------------------------------------------------ carrier -> us
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return  # both carriers send JSON text frames only
        try:
            msg = json.loads(text_data)
        except ValueError:
            log.warning("phone stream %s: a frame that is not JSON", self.stream_sid or "?")
            return
        if not isinstance(msg, dict):
            return
        event = msg.get("event")
        if event == "mark":  # also the busy line's, before any call
            self.on_mark(str((msg.get("mark") or {}).get("name", "")))
        elif event == "start" and self.pipeline is None and self._closing is None:
            if self._start_deadline is not None:
                self._start_deadline.cancel()
                self._start_deadline = None
            await self.on_start(msg)
        elif self.pipeline is None:
            if event == "stop":  # hung up while hearing the busy line
                self.caller_left = True
                for played in self._marks.values():
                    played.set()
            return  # "connected", or anything before a good "start"
        elif event == "media":
            await self.on_media(msg.get("media") or {})
        elif event == "dtmf":
            digit = str((msg.get("dtmf") or {}).get("digit", ""))
            if digit:
                await self.pipeline.on_dtmf(digit)
        elif event == "stop":
            self.caller_left = True
            await self.pipeline.on_message('{"type": "hangup"}')

    async def on_start(self, msg: dict[str, Any]) -> None:
        raise NotImplementedError

    async def start_pipeline(self) -> None:
        """The call is claimed: phone audio comes at 8 kHz."""
        if self.pipeline is not None:
            await self.pipeline.on_message(json.dumps({"type": "start", "sample_rate": PHONE_RATE}))

    async def on_media(self, media: dict[str, Any]) -> None:
        if media.get("track", "inbound") not in ("inbound", "inbound_track"):
            return
        try:
            data = base64.b64decode(media.get("payload", ""), validate=True)
        except (binascii.Error, ValueError, TypeError):
            log.warning("phone stream %s: media payload is not base64", self.stream_sid)
            return
        if data and self.pipeline is not None:
            await self.pipeline.on_audio(self.codec.decode(data), self.received_at or None)

    def on_mark(self, name: str) -> None:
        event = self._marks.get(name)
        if event is not None:
            event.set()
        if name.startswith(MARK_PREFIX) and self.pipeline is not None:
            try:
                self.pipeline.played(int(name[len(MARK_PREFIX):]))
            except ValueError:
                pass

    async def disconnect(self, code: int) -> None:
        if self._start_deadline is not None:
            self._start_deadline.cancel()
        for event in self._marks.values():  # nobody will hear the last line now
            event.set()
        await super().disconnect(code)

    # ------------------------------------------------------------------ us -> carrier (calls.runtime.ports.Output)
    async def send_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "call.started":
            self.audio_out = PhoneAudioOut(int(event["output_sample_rate"]), self.codec)
        elif kind == "bot.speech.started":
            self._line_seconds = 0.0
        elif kind == "bot.speech.ended":
            turn = int(event["turn"])
            if turn in self._cleared:
                return
            if self.audio_out is not None:
                await self._send_media(self.audio_out.end_of_line())
            await self._send_mark(f"{MARK_PREFIX}{turn}")
        elif kind == "playback.clear":
            self._cleared.add(int(event["turn"]))
            if self.audio_out is not None:
                self.audio_out.clear()
            await self._send_json({"event": "clear", self.sid_field: self.stream_sid})

    async def send_audio(self, pcm: bytes) -> None:
        if self.audio_out is not None:
            await self._send_media(self.audio_out.push(pcm))

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.closed:
            return
        try:
            if code in (None, 1000) and not self.caller_left and self.pipeline is not None:
                await self._wait_played()
                await self.hang_up()
        finally:  # a hang-up that failed still closes the stream (the carrier then ends the call)
            self.closed = True
            await super().close(code=code)

    async def hang_up(self) -> None:
        """End the phone call itself once the bot's last line has played (carrier specific)."""

    async def refuse(self, code: int, event: dict[str, Any] | None = None) -> None:
        """Close at once, before any call is touched (bad token or key, unknown or taken
        call, no database). Carriers do not read our `error` events: `event` is not sent."""
        if self.closed:
            return
        if code == 4401:
            metrics.refused("bad_token")
        self.closed = True
        if self.line is not None and self.pipeline is None:  # no call began: its line is free now
            live_calls.release(self.line)
        await super().close(code=code)

    # ------------------------------------------------------------------ helpers
    async def _wait_played(self) -> None:
        event = self._marks.get(self._last_mark)
        if event is None:
            return
        try:
            await asyncio.wait_for(event.wait(), timeout=self._line_seconds + PLAYED_GRACE_S)
        except asyncio.TimeoutError:
            log.warning("phone stream %s: mark %s never came back; hanging up", self.stream_sid, self._last_mark)

    async def _send_media(self, frames: bytes) -> None:
        if not frames:
            return
        self._line_seconds += len(frames) / self.codec.bytes_per_sample / PHONE_RATE
        for payload in self.payloads(frames):
            await self._send_json(
                {"event": "media", self.sid_field: self.stream_sid, "media": {"payload": base64.b64encode(payload).decode()}}
            )

    def payloads(self, frames: bytes) -> list[bytes]:
        return [frames]

    async def _send_mark(self, name: str) -> None:
        self._marks[name] = asyncio.Event()
        self._last_mark = name
        await self._send_json({"event": "mark", self.sid_field: self.stream_sid, "mark": {"name": name}})

    async def _send_json(self, message: dict[str, Any]) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(message))


class TwilioStreamConsumer(PhoneStreamConsumer):
    """Twilio Media Streams (bidirectional, from <Connect><Stream>): µ-law 8 kHz, camelCase."""

    codec = TWILIO_MULAW
    sid_field = "streamSid"

    def configured(self) -> bool:
        return twilio_rest.inbound_enabled()

    async def on_start(self, msg: dict[str, Any]) -> None:
        start = msg.get("start") or {}
        params = start.get("customParameters") or {}
        call_id = token_call_id(str(params.get("token", "")))
        if call_id is None:  # no valid token: no call is touched
            await self.refuse(4401)
            return
        self.stream_sid = str(msg.get("streamSid") or start.get("streamSid") or "")
        self.call_sid = str(start.get("callSid", ""))
        # The webhook counted the caller and found a line somewhere; this worker may be full.
        if await self.take_line(call_id) and await self.join(call_id):
            await self.start_pipeline()

    async def hang_up(self) -> None:
        if self.call_sid:
            await asyncio.to_thread(twilio_rest.hang_up, self.call_sid)


class ExotelStreamConsumer(PhoneStreamConsumer):
    """Exotel's Voicebot applet stream: 16-bit PCM 8 kHz in 100 ms chunks, snake_case.
    Authenticated by `key` in the URL; the call is created when the stream starts."""

    codec = EXOTEL_PCM
    sid_field = "stream_sid"

    def configured(self) -> bool:
        return bool(settings.EXOTEL_STREAM_KEY)

    def authenticated(self) -> bool:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.bot_slug = query.get("bot", [""])[0]
        key = query.get("key", [""])[0]
        return hmac.compare_digest(key.encode(), settings.EXOTEL_STREAM_KEY.encode())

    async def on_start(self, msg: dict[str, Any]) -> None:
        start = msg.get("start") or {}
        self.stream_sid = str(msg.get("stream_sid") or start.get("stream_sid") or "")
        self.call_sid = str(start.get("call_sid", ""))
        caller = str(start.get("from", ""))
        # The call has no id yet: the line is held under the stream's until it has.
        if not await self.take_line(f"exotel:{self.call_sid or self.stream_sid}", caller=caller):
            return
        opened = await self.open_call(lifecycle.open_phone_call, self.bot_slug, caller_phone=caller, provider_call_id=self.call_sid)
        if opened:
            await self.start_pipeline()

    def payloads(self, frames: bytes) -> list[bytes]:
        size = self.codec.frame_bytes
        return [frames[i : i + size] for i in range(0, len(frames), size)]
