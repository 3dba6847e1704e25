"""Fixed-window rate limits on the shared cache: calls started per client, dials per staff account.

One function for every limit so each one behaves the same way: django-ratelimit's
fixed window on the default cache (Redis with several workers, so every worker counts
the same calls). When the cache is down the limit is not enforced for that request
(logged): refusing every caller because Redis blinked is worse. Blocking (the cache
client is synchronous): async code calls it through a thread.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

log = logging.getLogger(__name__)

# Groups: what is counted (a key is counted separately in each).
WEB_CALLS = "calls.start"  # POST /api/calls/, per client address
PHONE_CALLS = "calls.phone"  # phone calls, per caller number (or per source when it is withheld)
STAFF_DIALS = "calls.dial"  # outbound dials, per staff account or API key


def wait_seconds(group: str, key: str, limit: int, window_s: int) -> int:
    """Count one more for `key` in `group`; the seconds it must wait before another
    when that was over `limit` per `window_s`, else 0."""
    try:
        usage = get_usage(
            None, group=group, key=lambda _group, _request: key, rate=f"{limit}/{window_s}s", method=ALL, increment=True,
        )
    except Exception as exc:  # redis.ConnectionError, TimeoutError, ...
        log.warning("rate limit %s not enforced: the cache is unavailable (%s: %s)", group, type(exc).__name__, exc)
        return 0
    if usage is None or not usage["should_limit"]:
        return 0
    return max(1, int(usage["time_left"]))


def call_wait_seconds(group: str, key: str) -> int:
    """The call rate limit (CALL_RATE_LIMIT calls per CALL_RATE_WINDOW) for one caller."""
    return wait_seconds(group, key, settings.CALL_RATE_LIMIT, settings.CALL_RATE_WINDOW)
