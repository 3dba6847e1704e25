"""A protocol client over Channels' WebsocketCommunicator, for end-to-end call tests.

It starts calls through the real HTTP API and speaks the wire protocol
exactly as an outside client would; nothing of ours is replaced.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import AsyncClient


def application():
    from config.asgi import application as app

    return app


async def create_call(bot: str, mode: str = "vad", caller: dict | None = None) -> dict[str, Any]:
    response = await AsyncClient().post(
        "/api/calls/",
        data=json.dumps({"bot": bot, "mode": mode, "caller": caller or {"name": "Test Caller", "phone": "555"}}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


class CallClient:
    def __init__(self, ws_url: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.comm = WebsocketCommunicator(application(), ws_url, headers=headers or [])
        self.events: list[dict[str, Any]] = []
        self.audio = bytearray()
        self.audio_frames: list[bytes] = []
        self.close_code: int | None = None

    @classmethod
    async def start(cls, bot: str, mode: str = "vad") -> CallClient:
        created = await create_call(bot, mode)
        client = cls(created["ws_url"])
        client.call_id = created["call_id"]
        connected, _ = await client.comm.connect(timeout=30)
        assert connected
        return client

    async def next_event(self, timeout: float = 30) -> dict[str, Any] | None:
        """The next JSON event (audio frames are collected on the way); None once closed."""
        while self.close_code is None:
            message = await self.comm.receive_output(timeout=timeout)
            if message["type"] == "websocket.close":
                self.close_code = message.get("code", 1000)
                return None
            if message.get("bytes") is not None:
                self.audio += message["bytes"]
                self.audio_frames.append(message["bytes"])
                continue
            event = json.loads(message["text"])
            self.events.append(event)
            return event
        return None

    async def until(self, kind: str, timeout: float = 30, **match: Any) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next_event(timeout=max(0.1, deadline - loop.time()))
            if event is None:
                raise AssertionError(f"closed ({self.close_code}) before {kind}; events: {self.types()}")
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    async def drain(self, timeout: float = 30) -> int:
        """Read until the server closes; return the close code."""
        while self.close_code is None:
            await self.next_event(timeout=timeout)
        return self.close_code

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def send(self, **message: Any) -> None:
        await self.comm.send_to(text_data=json.dumps(message))

    async def say_text(self, text: str) -> None:
        """Answer by typing, once the bot has finished its line."""
        await self.until("bot.speech.ended")
        await self.send(type="text", text=text)

    async def send_audio(self, pcm: bytes, *, frame_ms: int = 20, rate: int = 16000, pace: float = 0.0) -> None:
        step = rate * 2 * frame_ms // 1000
        for i in range(0, len(pcm), step):
            await self.comm.send_to(bytes_data=pcm[i : i + step])
            if pace:
                await asyncio.sleep(frame_ms / 1000 * pace)

    async def close(self) -> None:
        await self.comm.disconnect()
