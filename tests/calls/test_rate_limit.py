"""The call rate limit (django-ratelimit on the shared cache): keyed on the real
client behind trusted proxies, and failing open (logged) when the cache is down."""
from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import socket

import pytest
from django.core.cache import caches

pytestmark = pytest.mark.django_db


def post_call(client, **meta):
    return client.post("/api/calls/", data=json.dumps({"bot": "quickrupee-loan"}), content_type="application/json", **meta)


@pytest.fixture
def limit_of_two(settings):
    settings.CALL_RATE_LIMIT = 2
    settings.CALL_RATE_WINDOW = 3600
    caches["default"].clear()


def test_a_spoofed_forwarded_for_does_not_move_the_key(client, loan_bot, settings, limit_of_two):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for spoof in ("1.1.1.1", "2.2.2.2"):
        assert post_call(client, HTTP_X_FORWARDED_FOR=f"{spoof}, 198.51.100.7", **proxy).status_code == 201
    limited = post_call(client, HTTP_X_FORWARDED_FOR="3.3.3.3, 198.51.100.7", **proxy)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    # Another real client behind the same proxy is not locked out.
    assert post_call(client, HTTP_X_FORWARDED_FOR="3.3.3.3, 198.51.100.8", **proxy).status_code == 201


def test_without_trusted_proxies_a_forwarded_for_is_ignored(client, loan_bot, limit_of_two):
    for spoof in ("1.1.1.1", "2.2.2.2"):
        assert post_call(client, HTTP_X_FORWARDED_FOR=spoof).status_code == 201
    assert post_call(client, HTTP_X_FORWARDED_FOR="9.9.9.9").status_code == 429


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("blackhole", [False, True], ids=["refused", "black-holed"])
def test_a_dead_cache_fails_open_with_a_log_line_not_an_html_500(client, loan_bot, settings, limit_of_two, caplog, blackhole):
    listener = None
    if blackhole:  # accepts the TCP connection and never answers
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
    else:
        port = _closed_port()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    try:
        with caplog.at_level(logging.WARNING, logger="calls.http.ratelimit"):
            for _ in range(3):  # beyond the limit of two: not enforced while the cache is down
                response = post_call(client)
                assert response.status_code == 201, response.content[:200]
        assert "rate limit calls.start not enforced" in caplog.text
    finally:
        if listener is not None:
            listener.close()


RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:6379/14"  # a logical database no other test uses (clear() empties it)


@pytest.fixture
def redis_rate_limit(settings):
    """The rate limit on the shipped Redis cache configuration (Redis runs in every test
    run, whatever REDIS_URL the run has), fresh: no cache object made before the test."""
    from config.settings import (
        REDIS_CONNECT_TIMEOUT_S,
        REDIS_HEALTH_CHECK_S,
        REDIS_TIMEOUT_S,
        redis_cache,
    )

    settings.CALL_RATE_LIMIT = 1000
    settings.CALL_RATE_WINDOW = 3600
    settings.CACHES = {"default": redis_cache(RATE_LIMIT_REDIS_URL, REDIS_CONNECT_TIMEOUT_S, REDIS_TIMEOUT_S, REDIS_HEALTH_CHECK_S)}
    caches["default"].clear()


def _redis_connections_received() -> int:
    import redis

    client = redis.Redis.from_url(RATE_LIMIT_REDIS_URL)
    try:
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


@pytest.mark.django_db(transaction=True)  # the view runs on another thread's connection
async def test_call_starts_share_one_redis_connection_for_the_rate_limit(async_client, loan_bot, redis_rate_limit):
    """Each request under ASGI has a cache object of its own (Django keeps them per
    context, and the server starts every request in a fresh one, as here); they must not
    each open a Redis connection (they did: one TCP connect and handshake per call started)."""
    before = _redis_connections_received()
    for _ in range(6):
        request = async_client.post("/api/calls/", data={"bot": "quickrupee-loan"}, content_type="application/json")
        response = await asyncio.create_task(request, context=contextvars.Context())
        assert response.status_code == 201
    # one for the shared pool and one for this count; none per call
    assert _redis_connections_received() - before <= 2
