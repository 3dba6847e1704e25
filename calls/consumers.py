"""The call WebSocket (protocol.md §2): a thin adapter between the socket and the pipeline.

`connect` authenticates the token and claims the call; frames go straight to
`CallPipeline`. No ORM or provider code here.

A call socket never touches the channel layer: it needs no group and no inbox,
and a Redis restart or network cut must not tear down live calls (channels'
consumer `__call__` would otherwise open a layer channel and wait on it).

Caller frames skip Channels' generic dispatch: `AsyncConsumer.dispatch` awaits
`aclose_old_connections()` (a hop onto the one database thread) before every
message, so with many calls every audio frame queued behind every database
write in the process. Frames are stamped with the time they were received, so
`response_ms` includes any time they waited inside the server (protocol §3).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from calls import admission, metrics, services
from calls.drain import BUSY_MESSAGE
from calls.live import LiveCall, live_calls
from calls.pipeline import CallPipeline
from calls.tokens import token_matches

log = logging.getLogger(__name__)


NO_CHANNEL_LAYER = "none"  # an alias CHANNEL_LAYERS does not define: get_channel_layer() gives None


class FramesFirst:
    """Consumer mixin: a client frame goes straight to `receive()`, stamped `received_at`.

    Other messages (connect, disconnect, channel-layer events) take Channels' usual path."""

    received_at: float = 0.0

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            self.received_at = time.perf_counter()
            await self.receive(text_data=message.get("text"), bytes_data=message.get("bytes"))  # type: ignore[attr-defined]
        else:
            await super().dispatch(message)  # type: ignore[misc]


class CallConsumer(FramesFirst, AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER
    pipeline: CallPipeline | None = None
    closed = False
    call_id: str | None = None
    admitted: LiveCall | None = None  # this call's line in the worker's registry (calls.live)

    async def connect(self) -> None:
        call_id = str(self.scope["url_route"]["kwargs"]["call_id"])
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [""])[0]
        # Accept first so the client sees the protocol's close codes, not an HTTP 403.
        await self.accept()
        if not token_matches(token, call_id):
            metrics.refused("bad_token")
            await self.close(code=4401)
            return
        if live_calls.draining:  # protocol §3; the call stays unclaimed for another worker
            metrics.refused("busy")
            await self.send_event({"type": "error", "code": "busy", "message": BUSY_MESSAGE, "fatal": True})
            await self.close(code=1013)
            return
        # Before claiming: a busy caller keeps an unclaimed call and may retry the same URL.
        self.admitted = admission.admit(call_id)
        if self.admitted is None:
            metrics.refused("busy")
            await self.send_event(
                {"type": "error", "code": "busy", "message": "This server is full; try again shortly.", "fatal": True}
            )
            await self.close(code=1013)
            return
        try:
            ctx = await database_sync_to_async(services.claim_call)(call_id)
        except services.CallUnavailable as exc:
            await self.close(code=exc.code)
            return
        self.call_id = ctx.call_id
        self.pipeline = await CallPipeline.open(ctx, self)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.pipeline is None:
            return
        if bytes_data is not None:
            await self.pipeline.on_audio(bytes_data, self.received_at or None)
        elif text_data is not None:
            await self.pipeline.on_message(text_data, self.received_at or None)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        try:
            if self.pipeline is not None:
                await self.pipeline.on_disconnect()
        finally:
            if self.admitted is not None:
                live_calls.release(self.admitted)

    # -- calls.pipeline.Output ------------------------------------------
    async def send_event(self, event: dict[str, Any]) -> None:
        if not self.closed:
            await self.send(text_data=json.dumps(event))

    async def send_audio(self, pcm: bytes) -> None:
        if not self.closed:
            await self.send(bytes_data=pcm)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if not self.closed:
            self.closed = True
            await super().close(code=code)
        if self.admitted is not None:  # the call is over: its slot is free now, not when the socket goes
            live_calls.release(self.admitted)
