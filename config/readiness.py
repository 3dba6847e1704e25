"""Readiness of this worker for callers (`/readyz`), as opposed to liveness (`/healthz`).

Ready means: the worker is not draining (calls.worker.drain: from SIGTERM on it takes no
new calls), the speech engines are loaded and warmed, the scripted prompt lines
are in the cache (config.warmup) and the database answers. Each check reports a
short word, never an error message (which could name hosts or users), and the
whole answer is 200 only when those are ok.

Redis (when REDIS_URL is set) is checked and reported, but does not hold readiness:
calls do not need it (admission falls back to the worker's own lines, the rate limit
fails open, calls use no channel layer), and Redis is shared, so one failed ping
would take every worker out of rotation at once. A blip of the database is the
platform's to ride out: its probe needs several failures in a row (deploy/k8s
`failureThreshold`, HAProxy's `fall`).
"""
from __future__ import annotations

import concurrent.futures
import functools
import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connection

from config import warmup

log = logging.getLogger(__name__)

OK = "ok"
DRAINING = "draining"
UNAVAILABLE = "unavailable"
REDIS_TIMEOUT_S = 1.0
DATABASE_TIMEOUT_S = 2.0  # under a platform's probe timeout (deploy/k8s: 2 s)
REDIS_CLIENT_NAME = "voicebot-readyz"  # how the probe's connection shows in Redis' CLIENT LIST


def _select_one() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True, extra={"event": "readyz.database"})
        return UNAVAILABLE
    finally:
        connection.close()  # back to the pool (this thread is not a request's: nobody else closes it)


_database_checker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz-database")
_database_lock = threading.Lock()
_database_check: concurrent.futures.Future[str] | None = None


def database() -> str:
    """`SELECT 1`, answered within DATABASE_TIMEOUT_S. With the database down a query
    can wait much longer (the connection pool's timeout, TCP's), so the check runs on
    a thread of its own and a probe that has waited long enough reads "unavailable";
    while one check is still waiting, the next probes wait on the same one instead of
    stacking a thread each."""
    global _database_check
    with _database_lock:
        if _database_check is None or _database_check.done():
            _database_check = _database_checker.submit(_select_one)
        check = _database_check
    try:
        return check.result(timeout=DATABASE_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        log.warning("readiness: the database has not answered within %s s", DATABASE_TIMEOUT_S, extra={"event": "readyz.database"})
        return UNAVAILABLE


@functools.lru_cache(maxsize=1)
def _redis_client(url: str) -> Any:
    """One client (and connection pool) per process: a load balancer probes every
    worker every 2 s, and a new client per probe opened a connection and read the
    package metadata redis-py sends with it, each time."""
    import redis as redis_py

    return redis_py.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S, client_name=REDIS_CLIENT_NAME
    )


def redis() -> str:
    try:
        _redis_client(settings.REDIS_URL).ping()
        return OK
    except Exception:
        log.warning("readiness: Redis does not answer", exc_info=True, extra={"event": "readyz.redis"})
        return UNAVAILABLE


def checks() -> dict[str, str]:
    """Check name -> ok, draining, off (warm-up switched off), pending, failed or unavailable."""
    from calls.worker.registry import live_calls

    results = {"calls": DRAINING if live_calls.draining else OK, **warmup.state.as_dict()}
    results["database"] = database()
    if settings.REDIS_URL:
        results["redis"] = redis()
    return results


REPORTED_ONLY = ("redis",)  # checks that are shown but do not hold readiness


def is_ready(results: dict[str, str]) -> bool:
    return all(value in (OK, warmup.READY, warmup.OFF) for name, value in results.items() if name not in REPORTED_ONLY)
