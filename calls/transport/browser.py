"""The browser's call socket (protocol §2): a thin adapter between the socket and the pipeline.

`connect` checks the token, refuses when the worker drains or is full (protocol
§3: the call stays unclaimed, so the same `ws_url` works on a retry), and joins
the call (or picks it up again after a drop, within CALL_RESUME_S); frames go
straight to `CallPipeline`. No ORM or provider code here.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from calls import metrics
from calls.http.tokens import token_matches
from calls.transport.sockets import NO_CHANNEL_LAYER, CallSocket
from calls.worker import admission
from calls.worker.drain import BUSY_MESSAGE
from calls.worker.registry import live_calls


class CallConsumer(CallSocket, AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER

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
            await self.refuse(1013, {"type": "error", "code": "busy", "message": BUSY_MESSAGE, "fatal": True})
            return
        # Before claiming: a busy caller keeps an unclaimed call and may retry the same URL.
        self.line = admission.admit(call_id)
        if self.line is None:
            metrics.refused("busy")
            await self.refuse(
                1013, {"type": "error", "code": "busy", "message": "This server is full; try again shortly.", "fatal": True}
            )
            return
        await self.join(call_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.pipeline is None:
            return
        if bytes_data is not None:
            await self.pipeline.on_audio(bytes_data, self.received_at or None)
        elif text_data is not None:
            await self.pipeline.on_message(text_data, self.received_at or None)

    async def refuse(self, code: int, event: dict[str, Any] | None = None) -> None:
        if event is not None:
            await self.send_event(event)
        await self.close(code=code)

    # -- calls.runtime.ports.Output ----------------------------------------------
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
        if self.line is not None:  # the call is over: its slot is free now, not when the socket goes
            live_calls.release(self.line)
