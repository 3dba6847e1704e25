"""/readyz says when a worker may take callers; /healthz stays liveness."""
from __future__ import annotations

import gc
import os
import socket

import pytest

from config import readiness, warmup


@pytest.fixture
def warm_state(settings):
    """The warm-up state of this process, restored afterwards."""
    settings.SPEECH_WARMUP = True
    saved = (warmup.state.engines, warmup.state.prompt_cache)
    yield warmup.state
    warmup.state.engines, warmup.state.prompt_cache = saved


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: nothing listens there


@pytest.mark.django_db
@pytest.mark.parametrize(("engines", "prompts"), [("pending", "pending"), ("ready", "pending"), ("failed", "failed")])
def test_not_ready_until_engines_and_prompts_are_warm(client, warm_state, settings, engines, prompts):
    settings.REDIS_URL = ""
    warm_state.engines, warm_state.prompt_cache = engines, prompts
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["checks"] == {"calls": "ok", "speech_engines": engines, "prompt_cache": prompts, "database": "ok"}
    assert client.get("/healthz").status_code == 200  # alive all the same


@pytest.mark.django_db
def test_a_not_ready_answer_is_not_logged_as_a_server_error(client, warm_state, settings, caplog):
    settings.REDIS_URL = ""
    warm_state.engines = warm_state.prompt_cache = "pending"
    with caplog.at_level("INFO", logger="django.request"):
        assert client.get("/readyz").status_code == 503
    assert not [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.django_db
def test_ready_once_warm_and_the_database_answers(client, warm_state, settings):
    settings.REDIS_URL = ""
    warm_state.engines = warm_state.prompt_cache = "ready"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True, "checks": {"calls": "ok", "speech_engines": "ready", "prompt_cache": "ready", "database": "ok"}
    }
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_redis_that_does_not_answer_is_reported_but_does_not_hold_readiness(client, warm_state, settings):
    """Issue 31 C2: calls do not need Redis, and one failed ping of a Redis all workers
    share would take every one of them out of rotation."""
    warm_state.engines = warm_state.prompt_cache = "ready"
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["ready"] is True
    assert response.json()["checks"]["redis"] == "unavailable"
    assert "127.0.0.1" not in response.content.decode()  # no error detail leaks


@pytest.mark.django_db
def test_redis_that_answers_is_ready(client, warm_state, settings):
    warm_state.engines = warm_state.prompt_cache = "ready"
    settings.REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"  # make test starts it
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["redis"] == "ok"


@pytest.mark.django_db
def test_probes_share_one_redis_connection_and_survive_a_dropped_one(client, warm_state, settings):
    """A load balancer probes every 2 s: each probe must not open a connection of its own,
    and a connection Redis dropped (a restart) must not leave the worker unready."""
    import redis as redis_py

    warm_state.engines = warm_state.prompt_cache = "ready"
    settings.REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    admin = redis_py.Redis.from_url(settings.REDIS_URL)

    def named_probe_connections() -> set[str]:
        return {c["id"] for c in admin.client_list() if c.get("name") == readiness.REDIS_CLIENT_NAME}

    readiness._redis_client.cache_clear()  # a client made by an earlier test counts as another's
    others = named_probe_connections()  # other workers on this Redis (a `make run` beside the tests)

    def probe_connections() -> set[str]:
        return named_probe_connections() - others

    try:
        for _ in range(5):
            assert client.get("/readyz").json()["checks"]["redis"] == "ok"
        (ours,) = probe_connections()
        admin.client_kill_filter(_id=ours)
        assert client.get("/readyz").json()["checks"]["redis"] == "ok"
        assert len(probe_connections()) == 1 and ours not in probe_connections()
    finally:
        admin.close()


@pytest.mark.django_db
def test_warm_up_switched_off_does_not_hold_readiness(client, settings):
    settings.SPEECH_WARMUP = False
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["speech_engines"] == "off"


@pytest.mark.speech
async def test_warm_up_marks_engines_then_prompts_ready(warm_state, settings):
    """The real warm-up with nothing to synthesize: engines load, the cache step finishes."""
    warm_state.engines = warm_state.prompt_cache = "pending"
    gc.unfreeze()
    try:
        await warmup.warm([])
        assert (warm_state.engines, warm_state.prompt_cache) == ("ready", "ready")
        # What start-up loaded is out of the collector's full passes (config.heap).
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_a_database_that_hangs_is_unavailable_within_the_timeout_and_checked_once(monkeypatch):
    """A database that does not answer (a connection waiting for the pool's timeout, or for
    TCP's) makes /readyz say "unavailable" after DATABASE_TIMEOUT_S, and the probes that
    follow wait on the same check instead of each holding a thread of their own."""
    import threading

    release, started = threading.Event(), []

    def hangs() -> str:
        started.append(1)
        release.wait(30)
        return readiness.OK

    monkeypatch.setattr(readiness, "_select_one", hangs)
    monkeypatch.setattr(readiness, "DATABASE_TIMEOUT_S", 0.05)
    monkeypatch.setattr(readiness, "_database_check", None)
    try:
        assert readiness.database() == readiness.UNAVAILABLE
        assert readiness.database() == readiness.UNAVAILABLE
        assert started == [1]  # one check waiting, not one per probe
    finally:
        release.set()
    readiness._database_check.result(timeout=5)
    assert readiness.database() == readiness.OK  # the hung check is over: the next probe asks again
