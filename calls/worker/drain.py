"""Graceful drain: how a worker stops without cutting calls.

A rolling deploy stops workers one at a time. A worker told to stop (SIGTERM,
see `config.server`) stops taking new calls at once (`/readyz` answers 503, so
the load balancer sends new callers elsewhere; a call that still reaches it is
refused "busy" as protocol §3 says), lets the calls it is running finish for up
to DRAIN_S seconds, ends any left as `incomplete`/`shutdown` with everything
stored, and only then exits.

Which calls are running is `calls.worker.registry.live_calls`, the process's one registry
(re-exported here; a call joins and leaves it through its lifecycle, `calls.runtime.call_lifecycle`).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from calls.worker.registry import LiveCalls, live_calls

__all__ = ["BUSY_MESSAGE", "RETRY_AFTER_S", "DrainResult", "drain", "live_calls"]

log = logging.getLogger(__name__)

BUSY_MESSAGE = "This server is restarting and takes no new calls; try again."
RETRY_AFTER_S = 1  # another worker is ready at once


@dataclass(frozen=True)
class DrainResult:
    finished: int  # calls that ended by themselves during the drain
    ended: int  # calls still running at the deadline, ended as incomplete/shutdown


async def drain(timeout: float, calls: LiveCalls = live_calls) -> DrainResult:
    """Refuse new calls, wait up to `timeout` seconds for the running ones to
    finish, then end the rest (incomplete, reason `shutdown`), stored."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    unwatch = calls.watch(lambda: loop.call_soon_threadsafe(changed.set))
    calls.draining = True
    seen = {id(p): p for p in calls.running()}  # every call that ran during the drain, counted once
    log.info("draining: %d call(s) in progress, waiting up to %.0f s", len(seen), timeout)
    deadline = loop.time() + timeout
    try:
        while (running := calls.running()) and (left := deadline - loop.time()) > 0:
            seen.update((id(p), p) for p in running)
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                break
    finally:
        unwatch()
    remaining = calls.running()
    seen.update((id(p), p) for p in remaining)
    if remaining:
        log.warning("drain deadline: ending %d call(s) as incomplete/shutdown", len(remaining))
        results = await asyncio.gather(*(call.end_for_shutdown() for call in remaining), return_exceptions=True)
        for call, result in zip(remaining, results):
            if isinstance(result, BaseException):
                log.error("ending %r on shutdown failed", call, exc_info=result)
    result = DrainResult(finished=len(seen) - len(remaining), ended=len(remaining))
    log.info("drained: %d call(s) finished, %d ended on shutdown", result.finished, result.ended)
    return result
