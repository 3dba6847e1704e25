"""Admission control (protocol §3): a full server says "busy" instead of slowing every call.

Each worker process keeps a `Registry` of its live calls, at most
`MAX_CALLS_PER_WORKER`. A socket that reaches a full worker gets
`error {code: busy, fatal: true}` and close 1013; its call stays unclaimed, so
the same `ws_url` works when the client tries again. `POST /api/calls/` answers
503 with Retry-After when no worker has a free slot.

Across workers (`make serve`): every worker publishes its live count, capacity
and whether it admits into one Redis hash (`capacity_key()`, per database, so
deployments sharing a Redis do not mix), on every change and every
`HEARTBEAT_S`; a worker that stopped publishing for `STALE_S` no longer counts.
Without REDIS_URL the process is the whole server and its own registry decides.

A draining worker (calls.drain, on SIGTERM) admits nothing and publishes no free
slots; `registry.stop_admitting()` does the same by hand, and
`registry.live_calls()` lists the running pipelines.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from calls.pipeline import CallPipeline

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


class Registry:
    """This worker's live calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, CallPipeline | None] = {}
        self._admitting = True
        self._publisher: _Publisher | None = None

    @property
    def admitting(self) -> bool:
        """False once told to stop, or while the worker drains (calls.drain, SIGTERM)."""
        from calls.drain import live_calls

        return self._admitting and not live_calls.draining

    @admitting.setter
    def admitting(self, value: bool) -> None:
        self._admitting = value
        self._changed()

    @property
    def capacity(self) -> int:
        return settings.MAX_CALLS_PER_WORKER

    def admit(self, call_id: str) -> bool:
        """Take a slot for `call_id`; False when this worker is full or draining."""
        with self._lock:
            if not self.admitting or len(self._calls) >= self.capacity:
                return False
            self._calls[call_id] = None
        self._changed()
        return True

    def attach(self, call_id: str, pipeline: CallPipeline | None) -> None:
        with self._lock:
            if call_id in self._calls:
                self._calls[call_id] = pipeline

    def release(self, call_id: str) -> None:
        with self._lock:
            found = self._calls.pop(call_id, 0) != 0
        if found:
            self._changed()

    def stop_admitting(self) -> None:
        """Take no new calls (the calls in progress go on)."""
        self.admitting = False

    def live_calls(self) -> list[CallPipeline]:
        with self._lock:
            return [p for p in self._calls.values() if p is not None]

    @property
    def live(self) -> int:
        return len(self._calls)

    def load(self) -> WorkerLoad:
        return WorkerLoad(self.live, self.capacity, self.admitting, time.time())

    # ------------------------------------------------------------------ across workers
    def _changed(self) -> None:
        if settings.REDIS_URL:
            self._ensure_publisher().poke()

    def _ensure_publisher(self) -> _Publisher:
        with self._lock:
            if self._publisher is None or not self._publisher.is_alive():
                self._publisher = _Publisher(self)
                self._publisher.start()
            return self._publisher

    def server_free_slots(self) -> int:
        """Free call slots on the whole server (all workers), for POST /api/calls/."""
        if not settings.REDIS_URL:
            return self.load().free
        self._ensure_publisher()
        loads = read_loads()
        loads[worker_id()] = self.load()  # this process as it is now, not as last published
        return sum(w.free for w in loads.values())


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
            load = WorkerLoad(**json.loads(raw))
        except (ValueError, TypeError):
            stale.append(name)
            continue
        if now - load.at > STALE_S:
            stale.append(name)
        else:
            loads[name.decode()] = load
    if stale:
        client.hdel(key, *stale)
    return loads


class _Publisher(threading.Thread):
    """Writes this worker's load to Redis on change (coalesced) and every HEARTBEAT_S."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(name="admission-publisher", daemon=True)
        self.registry = registry
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
                load = self.registry.load()
                _shared_client().hset(capacity_key(), me, json.dumps(load.__dict__))
            except Exception as exc:  # Redis down: this worker still guards its own slots
                log.warning("admission: cannot publish load to Redis: %s", exc)
                time.sleep(1)


registry = Registry()
