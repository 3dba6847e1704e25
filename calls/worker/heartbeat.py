"""Keeps the database's view of which calls are alive honest, from each worker.

- The calls this process is running are `calls.worker.registry.live_calls` (the one
  registry, shared with admission control and the drain).
- A daemon thread (`start_janitor`, started by config.asgi) stamps their
  heartbeat every CALL_HEARTBEAT_S (one UPDATE for all of them) and, at start and
  every STALE_SWEEP_S, ends calls whose worker died (lifecycle.close_stale_calls).

Whether another worker died is not read from its stamps alone: a database outage
longer than CALL_LEASE_S stops every worker's stamps, and the first worker to reach
the database again would end every other worker's live calls. A worker that still
publishes its load in Redis (calls.worker.admission, the registry of live workers)
is alive: its calls are left to it (it ends its own orphans). If Redis does not
answer, the sweep ends only calls too old to be running. Without Redis (one
process) the stamps decide, as before.

A thread, not an event-loop task: its work is database work and it must go on
while the event loop is busy.
"""
from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from calls.worker import admission
from calls.worker.registry import live_calls

log = logging.getLogger(__name__)

_started = False


def tick(*, sweep: bool, worker: str = "") -> int:
    """One round of the janitor: heartbeat, and optionally the stale-call sweep."""
    from calls.persistence import lifecycle

    lifecycle.heartbeat(live_calls.call_ids())  # first: this worker's own live calls are never stale
    if not sweep:
        return 0
    try:
        alive = admission.other_live_workers()
    except Exception as exc:
        log.warning("stale-call sweep: cannot tell which workers are alive (Redis: %s); ending only calls too old to run", exc)
        return lifecycle.close_stale_calls(worker=worker, lease=False)
    return lifecycle.close_stale_calls(worker=worker, live_workers=alive)


def _run(stop: threading.Event) -> None:
    beat, sweep_every = settings.CALL_HEARTBEAT_S, settings.STALE_SWEEP_S
    started = False  # the start-up sweep (this worker's own leftovers) is retried until it ran
    since_sweep = 0.0
    while True:
        sweep = not started or since_sweep >= sweep_every
        close_old_connections()
        try:
            tick(sweep=sweep, worker="" if started else settings.WORKER_ID)
            if sweep:
                started, since_sweep = True, 0.0
        except Exception:  # the database is down: try again next round
            log.warning("call heartbeat / stale-call sweep failed; retrying in %s s", beat, exc_info=True)
        finally:
            connection.close()
        if stop.wait(beat):
            return
        since_sweep += beat


def start_janitor() -> threading.Event | None:
    """Start the janitor thread once per process (STALE_SWEEP_S=0 turns it off)."""
    global _started
    if _started or not settings.STALE_SWEEP_S:
        return None
    _started = True
    stop = threading.Event()
    threading.Thread(target=_run, args=(stop,), name="call-janitor", daemon=True).start()
    return stop
