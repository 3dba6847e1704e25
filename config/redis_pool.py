"""One Redis connection pool per process for Django's cache (the call rate limit).

Django keeps a cache object per request context (an asgiref `Local`), and its Redis
backend makes a connection pool per cache object. Under ASGI every API request
has a context of its own, so every `POST /api/calls/` opened a new Redis connection
for the rate limit and dropped it after: a TCP connect, the HELLO and CLIENT
SETINFO round trips, and redis-py reading its own package metadata, each time
(about 1.3 ms against 0.1 ms for a command on a pooled connection; during a
`python -m bench.load` run Redis counted one new connection per call started). redis-py's
pools are thread-safe and reset themselves in a forked child, so the whole process
can share one pool per URL and options; Django's `pool_class` option points here.
"""
from __future__ import annotations

import threading
from typing import Any

import redis


class SharedConnectionPool(redis.ConnectionPool):
    """`from_url` gives the same pool for the same URL and options, process-wide."""

    _shared: dict[tuple[str, str], redis.ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:
        key = (url, repr(sorted(kwargs.items(), key=lambda item: item[0])))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
            return pool

