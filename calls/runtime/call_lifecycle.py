"""The life of one call in this process: running → leaving → finishing → closed, and one way out.

Why one: a call used to end along seven paths (the dialogue's closing line, a
fatal error, the time limit, a hang-up, a dropped socket, a drain, an operator),
each stopping its own subset of the call's parts, and when sending `call.ended`
or closing the socket raised (a socket already gone, a carrier's REST hang-up
failing) the rest of the teardown was skipped: the call stayed in the worker's
registry, `voicebot_calls_active` stayed up, its timers ran on. Now every path
goes through `finish()`, whose teardown runs in one `finally` whatever the output
does: every task and timer of the call stops (`CallTasks.close`), the gauge goes
down, the call leaves the registry, and its records are closed (flushed, bounded).

- RUNNING: the call takes input.
- LEAVING (`leave`): the caller hung up or the socket dropped. No more input; the
  turns they already gave are finished (recognised, answered, stored; nothing more
  is said) within LEAVE_GRACE_S, then the call finishes. This runs as a task of the
  call, so a socket handler cancelled meanwhile (daphne, a test client) loses nothing.
- FINISHING (`finish`): the end is stored, then `call.ended` and the close are sent.
- CLOSED: torn down; `wait_closed()` returns.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bots.dialogue import REASON_TIMEOUT, Dialogue
from calls import metrics
from calls.runtime.ports import CallContext, CallRecords, CallRegistry, Clock, Output, Running
from calls.runtime.tasks import CallTasks

log = logging.getLogger(__name__)

LEAVE_GRACE_S = 5.0  # after a hangup or a dropped socket, the last words are recognised and stored within this


class CallState(enum.IntEnum):
    RUNNING = 0
    LEAVING = 1
    FINISHING = 2
    CLOSED = 3


class CallLifecycle:
    """The state of call `ctx` and its one `finish()`."""

    def __init__(
        self,
        ctx: CallContext,
        out: Output,
        records: CallRecords,
        dialogue: Dialogue,
        tasks: CallTasks,
        registry: CallRegistry | None = None,
    ) -> None:
        self.ctx = ctx
        self.out = out
        self.records = records
        self.dialogue = dialogue
        self.tasks = tasks
        self.registry = registry
        self.state = CallState.RUNNING
        self.started_at: float | None = None  # on the call's clock: 0:00 of its recording
        self.on_finish: list[Callable[[], None]] = []  # run as the call ends, before anything is sent
        self._call: Running | None = None
        self._counted = False  # in voicebot_calls_active
        self._leaving: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    def begin(self, call: Running, clock: Clock, seconds: float) -> None:
        """The call is live here: counted, in the worker's registry, and ended `seconds` from now at the latest."""
        metrics.call_started(self.ctx.bot_slug, self.ctx.channel)
        self.started_at = clock.now()
        self._counted = True
        self._call = call
        if self.registry is not None:
            self.registry.add(call)
        self.tasks.later(clock, seconds, self._time_is_up, "deadline")

    @property
    def taking_input(self) -> bool:
        """False once the caller has left or the call is ending."""
        return self.state is CallState.RUNNING

    @property
    def caller_left(self) -> bool:
        """The caller hung up or the socket dropped (their last turns may still be finishing)."""
        return self._leaving is not None

    @property
    def finished(self) -> bool:
        return self.state >= CallState.FINISHING

    async def wait_closed(self) -> None:
        """Until the call is torn down."""
        await self._closed.wait()

    # ------------------------------------------------------------------ ways to the end
    async def leave(self, reason: str, last_turns: Callable[[], Awaitable[None]]) -> None:
        """The caller hung up or went (`reason`): `last_turns()` finishes what they said
        (bounded by the caller), then the call finishes with the outcome already decided,
        else `incomplete`/`reason`. Waiting here never cancels it."""
        if self.finished:
            return
        if self._leaving is None:
            self.state = CallState.LEAVING
            self._leaving = self.tasks.spawn(self._leave(reason, last_turns), "leaving")
        await asyncio.wait([self._leaving])

    async def _leave(self, reason: str, last_turns: Callable[[], Awaitable[None]]) -> None:
        try:
            await last_turns()
        finally:
            decision = self.dialogue.hangup(reason)  # an outcome already decided stands
            await self.finish(decision.outcome or "incomplete", decision.reason or reason)

    async def fatal(self, code: str, message: str, close_code: int) -> None:
        """The call cannot go on: a fatal `error` event, then the end (outcome `error`, reason `code`)."""
        if self.finished:
            return
        event = {"type": "error", "code": code, "message": message, "fatal": True}
        await self._try("the fatal error", self.out.send_event, event)
        await self.finish("error", code, close_code=close_code)

    def _time_is_up(self) -> Awaitable[None] | None:
        if self.finished:
            return None
        self.dialogue.hangup(REASON_TIMEOUT)
        return self.finish("incomplete", REASON_TIMEOUT)

    async def finish(self, outcome: str, reason: str, *, close_code: int = 1000) -> None:
        """End the call (once; later calls return at once): store the end, tell the
        client, close its socket, and tear the call down whatever those raise."""
        if self.finished:
            return
        self.state = CallState.FINISHING
        try:
            for hook in self.on_finish:
                try:
                    hook()
                except Exception:
                    log.exception("call %s: a hook at the end of the call failed", self.ctx.call_id)
            if outcome == "incomplete":
                self.dialogue.hangup(reason)
            self.records.end(outcome, reason)
            await self._try("storing the end", self.records.flush)
            await self._try("call.ended", self.out.send_event, {"type": "call.ended", "outcome": outcome, "reason": reason})
            await self._try("closing the socket", self.out.close, close_code)
        finally:
            await self._teardown()

    async def _teardown(self) -> None:
        """Every task and timer of the call stops, the gauge goes down, the call leaves
        the registry, and its records are closed. Each step runs whatever the others do."""
        try:
            self.tasks.close()
            if self._counted:
                self._counted = False
                metrics.call_left(self.ctx.bot_slug, self.ctx.channel)
            if self.registry is not None and self._call is not None:
                try:
                    self.registry.discard(self._call)
                except Exception:
                    log.exception("call %s: leaving the registry failed", self.ctx.call_id)
            await self._try("closing its records", self.records.close)
        finally:
            self.state = CallState.CLOSED
            self._closed.set()

    async def _try(self, what: str, step: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """One step of the end whose failure must not stop the rest (a socket already gone)."""
        try:
            await step(*args)
        except Exception:
            log.warning(
                "call %s: %s failed at the end of the call", self.ctx.call_id, what, exc_info=True,
                extra={"event": "call.end_failed", "call_id": self.ctx.call_id},
            )
