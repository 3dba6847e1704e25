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

import functools
import logging
from typing import Any

from django.conf import settings
from django.db import connection

from config import warmup

log = logging.getLogger(__name__)

OK = "ok"
DRAINING = "draining"
UNAVAILABLE = "unavailable"
REDIS_TIMEOUT_S = 1.0
REDIS_CLIENT_NAME = "voicebot-readyz"  # how the probe's connection shows in Redis' CLIENT LIST


def database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return OK
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True, extra={"event": "readyz.database"})
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
