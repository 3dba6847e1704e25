"""Graceful drain: how a worker stops without cutting calls.

A rolling deploy stops workers one at a time. A worker told to stop (SIGTERM,
see `config.server`) stops taking new calls at once (`/readyz` answers 503, so
the load balancer sends new callers elsewhere; a call that still reaches it is
refused "busy" as protocol §3 says), lets the calls it is running finish for up
to DRAIN_S seconds, ends any left as `incomplete`/`shutdown` with everything
stored, and only then exits.

`live_calls` is the process's registry of running pipelines: a pipeline adds
itself when it starts and leaves when it shuts down.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

BUSY_MESSAGE = "This server is restarting and takes no new calls; try again."
RETRY_AFTER_S = 1  # another worker is ready at once


class Drainable(Protocol):
    """A running call that can be ended on shutdown (`calls.pipeline.CallPipeline`)."""

    async def end_for_shutdown(self) -> None: ...


@dataclass(frozen=True)
class DrainResult:
    finished: int  # calls that ended by themselves during the drain
    ended: int  # calls still running at the deadline, ended as incomplete/shutdown


class LiveCalls:
    """The calls running in this process, and whether it is draining."""

    def __init__(self) -> None:
        self._calls: set[Drainable] = set()
        self._changed: asyncio.Event | None = None
        self.draining = False

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, call: Drainable) -> None:
        self._calls.add(call)
        self._notify()

    def discard(self, call: Drainable) -> None:
        self._calls.discard(call)
        self._notify()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def drain(self, timeout: float) -> DrainResult:
        """Refuse new calls, wait up to `timeout` seconds for the running ones to
        finish, then end the rest (incomplete, reason `shutdown`), stored."""
        self.draining = True
        started = len(self._calls)
        log.info("draining: %d call(s) in progress, waiting up to %.0f s", started, timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._changed = asyncio.Event()
        try:
            while self._calls and (left := deadline - loop.time()) > 0:
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except TimeoutError:
                    break
        finally:
            self._changed = None
        remaining = list(self._calls)
        if remaining:
            log.warning("drain deadline: ending %d call(s) as incomplete/shutdown", len(remaining))
            results = await asyncio.gather(*(call.end_for_shutdown() for call in remaining), return_exceptions=True)
            for call, result in zip(remaining, results):
                if isinstance(result, BaseException):
                    log.error("ending %r on shutdown failed", call, exc_info=result)
        result = DrainResult(finished=started - len(remaining), ended=len(remaining))
        log.info("drained: %d call(s) finished, %d ended on shutdown", result.finished, result.ended)
        return result


live_calls = LiveCalls()
