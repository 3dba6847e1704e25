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
    """Free call slots on the whole server (all workers), for POST /api/calls/."""
    if not settings.REDIS_URL:
        return load().free
    _ensure_publisher()
    loads = read_loads()
    loads[worker_id()] = load()  # this process as it is now, not as last published
    return sum(w.free for w in loads.values())


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


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


_client_lock = threading.Lock()
_client: Any = None


def _shared_client() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            _client = _redis()
        return _client


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
            try:
                _shared_client().hset(capacity_key(), me, json.dumps(load().__dict__))
            except Exception as exc:  # Redis down: this worker still guards its own slots
                log.warning("admission: cannot publish load to Redis: %s", exc)
                time.sleep(1)


live_calls.watch(_on_change)  # every change to this worker's calls is published
