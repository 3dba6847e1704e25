"""What every call socket shares, browser and phone alike: frames first, claiming, teardown.

`FramesFirst` takes a client frame straight off the server's queue, stamped with
when it was received; `CallSocket` claims the call (or resumes it after a drop),
opens its `CallPipeline` with the call's `QueuedCallRecords` and the worker's
registry, and when the socket goes ends the call and frees its line. The
browser socket (`calls.transport.browser`) and the phone streams
(`calls.transport.phone.streams`) are thin consumers over it.

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

import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from calls import metrics
from calls.persistence import lifecycle, recordings
from calls.persistence.records import QueuedCallRecords
from calls.persistence.write_queue import WriteQueue
from calls.runtime.call_lifecycle import LEAVE_GRACE_S
from calls.runtime.pipeline import CallPipeline
from calls.runtime.ports import SYSTEM_CLOCK, Clock
from calls.worker.registry import LiveCall, live_calls

log = logging.getLogger(__name__)


NO_CHANNEL_LAYER = "none"  # an alias CHANNEL_LAYERS does not define: get_channel_layer() gives None


class FramesFirst:
    """Consumer mixin: a client frame goes straight to `receive()`, stamped `received_at`.

    Other messages (connect, disconnect, channel-layer events) take Channels' usual path.
    A consumer without a channel layer also skips Channels' receive loop
    (`await_many_dispatch`: a task and an `asyncio.wait` per message, so a message
    took three trips round the event loop). Here the next message is awaited
    straight off the server's queue: frames already queued are taken at once, and
    a call keeps up with its 50 frames a second however long a loaded worker's loop
    turn is (bench/load, 300 calls: frames had waited 1-2 s inside the server)."""

    received_at: float = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any) -> None:
        if get_channel_layer(self.channel_layer_alias) is not None:  # type: ignore[attr-defined]
            await super().__call__(scope, receive, send)  # type: ignore[misc]
            return
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.receive":
            if getattr(self, "closed", False):  # refused or over: a frame still in flight is not taken
                return
            # The production server stamps the frame when it was read off the socket
            # (config.server); other servers: now.
            self.received_at = message.get("received_at") or time.perf_counter()
            await self.receive(text_data=message.get("text"), bytes_data=message.get("bytes"))  # type: ignore[attr-defined]
        else:
            await super().dispatch(message)  # type: ignore[misc]


UNAVAILABLE_MESSAGE = "The server cannot reach its database just now; try again shortly."

# The stores of calls whose socket went, by call id (gone with their pipeline): a socket
# that reconnects waits for the last one's writes, its end among them.
_dropped: weakref.WeakValueDictionary[str, WriteQueue] = weakref.WeakValueDictionary()


class CallSocket(FramesFirst):
    """Consumer mixin: open a call's pipeline on this socket, and close it down when the
    socket goes. The consumer provides `refuse(code, event)` and the pipeline's Output."""

    pipeline: CallPipeline | None = None
    records: QueuedCallRecords | None = None
    call_id: str | None = None
    line: LiveCall | None = None  # this call's line in the worker's registry (calls.worker.registry)
    closed = False
    clock: Clock = SYSTEM_CLOCK  # paces bot audio; tests put a fake clock here

    async def join(self, call_id: str) -> bool:
        """Claim call `call_id`, or resume it after a drop. A socket of this call that
        dropped a moment ago may still be finishing its last turn and storing it (the end
        among it): wait for that (bounded), so the call is picked up from everything said."""
        dropped = _dropped.get(call_id)
        if dropped is not None:
            await dropped.wait_closed(LEAVE_GRACE_S + settings.STORE_FLUSH_S)
        return await self.open_call(lifecycle.claim_call, call_id)

    async def open_call(self, claim: Callable[..., lifecycle.CallContext], *args: Any, **kwargs: Any) -> bool:
        """Run `claim` (a calls.persistence.lifecycle function returning the CallContext) and start the
        pipeline. The socket is refused, saying why, when the call cannot be had."""
        try:
            ctx = await database_sync_to_async(claim)(*args, **kwargs)
        except lifecycle.CallUnavailable as exc:
            await self.refuse(exc.code)
            return False
        except DatabaseError as exc:
            log.warning("cannot claim a call: database unavailable (%s)", exc)
            metrics.refused("unavailable")
            await self.refuse(1013, {"type": "error", "code": "unavailable", "message": UNAVAILABLE_MESSAGE, "fatal": True})
            return False
        self.call_id = ctx.call_id
        if self.line is None:
            self.line = live_calls.enter(ctx.call_id)
        elif self.line.call_id != ctx.call_id:  # a phone stream's line, taken before its call had an id
            placeholder, self.line = self.line, live_calls.enter(ctx.call_id)
            live_calls.release(placeholder)
        self.records = QueuedCallRecords(ctx.call_id)
        recording = recordings.start_recording(ctx, self.clock)  # None unless the call is recorded
        self.pipeline = await CallPipeline.open(
            ctx, self, records=self.records, registry=live_calls, clock=self.clock, recording=recording
        )
        return self.pipeline is not None

    async def refuse(self, code: int, event: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    async def disconnect(self, code: int) -> None:
        """The socket went (caller left, network dropped, or we closed it). A call still
        running ends `incomplete`/`caller_disconnected`: resumable for CALL_RESUME_S."""
        self.closed = True
        try:
            if self.pipeline is not None and self.records is not None:
                _dropped[self.pipeline.ctx.call_id] = self.records.queue
                await self.pipeline.on_disconnect()
        finally:
            if self.line is not None:
                live_calls.release(self.line)


