"""Admission control (protocol §3): a full server says "busy" instead of slowing every call.

A worker takes at most `MAX_CALLS_PER_WORKER` lines in its registry of live
calls (`calls.worker.registry`; a phone stream's call takes one too, unchecked). A socket
that reaches a full worker gets `error {code: busy, fatal: true}` and close 1013; its call stays unclaimed, so
the same `ws_url` works when the client tries again. `POST /api/calls/` answers
503 with Retry-After when no worker has a free slot.

Across workers (`make serve`): every worker publishes its live count, capacity
and whether it admits into one Redis hash (`capacity_key()`, per database, so
deployments sharing a Redis do not mix), on every change and every
`HEARTBEAT_S`; a worker that stopped publishing for `STALE_S` no longer counts.
Without REDIS_URL the process is the whole server and its own registry decides.
Calls do not need Redis: while it does not answer, `POST /api/calls/` counts this
worker's own lines (for `REDIS_RETRY_S`, then asks Redis again).

The same hash is the registry of live workers (`other_live_workers`): the stale-call
sweep (calls.worker.heartbeat) never ends the calls of a worker that is publishing,
whatever its database stamps say.

A draining worker (calls.worker.drain, on SIGTERM) admits nothing and publishes no free
slots; `live_calls.stop_admitting()` does the same by hand.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from calls.worker.registry import LiveCall, live_calls

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
STALE_S = 15.0
REDIS_RETRY_S = HEARTBEAT_S  # after Redis failed a read, count this worker alone this long


def worker_id() -> str:
    return settings.WORKER_ID  # unique per process (host:pid unless set)


def capacity_key() -> str:
    db = settings.DATABASES["default"]
    return f"voicebot:capacity:{db.get('HOST') or 'local'}:{db.get('PORT') or ''}:{db['NAME']}"


@dataclass(frozen=True)
class WorkerLoad:
    live: int
    capacity: int
    admitting: bool
    at: float

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.live) if self.admitting else 0


def admit(call_id: str) -> LiveCall | None:
    """A line for `call_id` in this worker, or None when it is full or not admitting."""
    return live_calls.admit(call_id, settings.MAX_CALLS_PER_WORKER)


def load() -> WorkerLoad:
    """This worker as it is now."""
    return WorkerLoad(len(live_calls), settings.MAX_CALLS_PER_WORKER, live_calls.admitting, time.time())


def server_free_slots() -> int:
    """Free call slots on the whole server (all workers), for POST /api/calls/.
    Redis down: this worker's own (a socket that reaches a full worker is told busy)."""
    if not settings.REDIS_URL:
        return load().free
    _ensure_publisher()
    loads = _loads_unless_redis_is_down()
    if loads is None:
        return load().free
    loads[worker_id()] = load()  # this process as it is now, not as last published
    return sum(w.free for w in loads.values())


def other_live_workers() -> set[str] | None:
    """The other workers publishing their load (alive within STALE_S), for the stale-call
    sweep; None without REDIS_URL (no registry). Raises when Redis does not answer."""
    if not settings.REDIS_URL:
        return None
    return set(read_loads()) - {worker_id()}


_down_until: dict[str, float] = {}  # per REDIS_URL: monotonic time until which it is not asked


def _loads_unless_redis_is_down() -> dict[str, WorkerLoad] | None:
    """`read_loads()`, or None while Redis is failing (asked again every REDIS_RETRY_S)."""
    url = settings.REDIS_URL
    if time.monotonic() < _down_until.get(url, 0.0):
        return None
    try:
        loads = read_loads()
    except Exception as exc:
        if url not in _down_until:
            log.warning("admission: Redis does not answer (%s); counting this worker's own lines", exc)
        _down_until[url] = time.monotonic() + REDIS_RETRY_S
        return None
    if _down_until.pop(url, None) is not None:
        log.info("admission: Redis answers again; counting every worker's lines")
    return loads


# ---------------------------------------------------------------------- across workers
_publisher_lock = threading.Lock()
_publisher: _Publisher | None = None


def _ensure_publisher() -> _Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or not _publisher.is_alive():
            _publisher = _Publisher()
            _publisher.start()
        return _publisher


def _on_change() -> None:
    if settings.REDIS_URL:
        _ensure_publisher().poke()


def announce() -> None:
    """Publish this worker's free lines from now on (a no-op once publishing: the
    publisher writes on start, on every change and every HEARTBEAT_S, not per call of
    this). Called when the worker is ready: one that has had no call yet must count too,
    or a full worker answers "busy" to a POST although an idle one has every line free."""
    if settings.REDIS_URL:
        _ensure_publisher()


_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _shared_client() -> Any:
    """One client (and connection pool) per Redis URL for the process."""
    import redis

    url = settings.REDIS_URL
    with _client_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return _clients[url]


def read_loads() -> dict[str, WorkerLoad]:
    """Every worker's last published load that is still fresh (stale ones are removed)."""
    key = capacity_key()
    client = _shared_client()
    now = time.time()
    loads: dict[str, WorkerLoad] = {}
    stale: list[bytes] = []
    for name, raw in client.hgetall(key).items():
        try:
            worker = WorkerLoad(**json.loads(raw))
        except (ValueError, TypeError):
            stale.append(name)
            continue
        if now - worker.at > STALE_S:
            stale.append(name)
        else:
            loads[name.decode()] = worker
    if stale:
        client.hdel(key, *stale)
    return loads


class _Publisher(threading.Thread):
    """Writes this worker's load to Redis on change (coalesced) and every HEARTBEAT_S."""

    def __init__(self) -> None:
        super().__init__(name="admission-publisher", daemon=True)
        self._wake = threading.Event()
        self._wake.set()

    def poke(self) -> None:
        self._wake.set()

    def run(self) -> None:
        me = worker_id()
        while True:
            self._wake.wait(HEARTBEAT_S)
            self._wake.clear()
            if not settings.REDIS_URL:  # switched off (tests change settings)
                continue
            try:
                _shared_client().hset(capacity_key(), me, json.dumps(load().__dict__))
            except Exception as exc:  # Redis down: this worker still guards its own slots
                log.warning("admission: cannot publish load to Redis: %s", exc)
                time.sleep(1)


live_calls.watch(_on_change)  # every change to this worker's calls is published
