"""Calls a dead worker left behind are closed; calls never connected stop being leads."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from calls.models import Call
from calls.persistence import lifecycle
from calls.worker import heartbeat
from calls.worker.registry import live_calls

pytestmark = pytest.mark.django_db


def active(bot, *, started: timedelta, heartbeat: timedelta | None, worker: str = "w-other") -> Call:
    now = timezone.now()
    call = Call.objects.create(bot=bot, status=Call.Status.ACTIVE)
    Call.objects.filter(pk=call.pk).update(
        started_at=now - started, heartbeat_at=None if heartbeat is None else now - heartbeat, worker=worker
    )
    return call


def test_calls_of_a_dead_worker_become_incomplete_server_restart(loan_bot, settings):
    settings.CALL_LEASE_S = 45
    alive = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(seconds=5))
    dead = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(seconds=60))
    ancient = active(loan_bot, started=timedelta(seconds=settings.CALL_MAX_SECONDS + settings.CALL_RESUME_S + 5), heartbeat=None)
    ended = Call.objects.create(bot=loan_bot, status=Call.Status.ENDED, outcome="qualified")
    labels = {"bot": loan_bot.slug, "outcome": "incomplete", "reason": "server_restart"}
    counted = REGISTRY.get_sample_value("voicebot_calls_total", labels) or 0.0
    assert lifecycle.close_stale_calls() == 2
    assert REGISTRY.get_sample_value("voicebot_calls_total", labels) == counted + 2  # nothing ends uncounted
    for call in (alive, dead, ancient, ended):
        call.refresh_from_db()
    assert alive.status == "active"
    assert (dead.status, dead.outcome, dead.end_reason) == ("ended", "incomplete", "server_restart")
    assert (ancient.status, ancient.outcome, ancient.end_reason) == ("ended", "incomplete", "server_restart")
    assert ended.outcome == "qualified"
    assert lifecycle.close_stale_calls() == 0  # idempotent


def test_a_restarting_worker_closes_what_it_was_running_at_once(loan_bot, settings):
    settings.WORKER_ID = "web-1"
    mine = active(loan_bot, started=timedelta(seconds=3), heartbeat=timedelta(seconds=1), worker="web-1")
    theirs = active(loan_bot, started=timedelta(seconds=3), heartbeat=timedelta(seconds=1), worker="web-2")
    assert heartbeat.tick(sweep=True, worker="web-1") == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.outcome, mine.end_reason) == ("incomplete", "server_restart")
    assert theirs.status == "active"


def test_the_heartbeat_keeps_registered_calls_alive(loan_bot, settings):
    settings.CALL_LEASE_S = 45
    call = active(loan_bot, started=timedelta(minutes=5), heartbeat=timedelta(minutes=4))
    line = live_calls.enter(str(call.pk))
    try:
        heartbeat.tick(sweep=True)
    finally:
        live_calls.release(line)
    call.refresh_from_db()
    assert call.status == "active" and timezone.now() - call.heartbeat_at < timedelta(seconds=30)


# ---------------------------------------------------------------------------- the registry of live workers (issue 31 B2)
def test_a_live_workers_calls_are_not_ended_for_old_stamps(loan_bot, settings):
    settings.CALL_LEASE_S = 45
    theirs = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-alive")
    dead = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-dead")
    ancient = active(loan_bot, started=timedelta(hours=1), heartbeat=timedelta(minutes=1), worker="w-alive")
    assert lifecycle.close_stale_calls(live_workers={"w-alive"}) == 2
    for call in (theirs, dead, ancient):
        call.refresh_from_db()
    assert theirs.status == "active"  # its worker publishes: it stamps again once it can write
    assert (dead.outcome, dead.end_reason, dead.end_provisional) == ("incomplete", "server_restart", True)
    assert ancient.status == "ended"  # no call lasts that long, whoever runs it


def test_when_nobody_can_tell_which_workers_are_alive_only_too_old_calls_end(loan_bot, settings):
    settings.CALL_LEASE_S = 45
    unstamped = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1))
    ancient = active(loan_bot, started=timedelta(hours=1), heartbeat=timedelta(minutes=1))
    assert lifecycle.close_stale_calls(lease=False) == 1
    unstamped.refresh_from_db()
    ancient.refresh_from_db()
    assert (unstamped.status, ancient.status) == ("active", "ended")


@pytest.fixture
def registry(settings):
    """The registry of live workers in a redis-server of the test's own."""
    from tests.faults import RedisServer

    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    yield server
    server.close()


def test_the_janitor_asks_the_registry_which_workers_are_alive(loan_bot, settings, registry):
    import json
    import time

    import redis

    from calls.worker import admission

    settings.CALL_LEASE_S = 45
    settings.WORKER_ID = "w-me"
    published = {"live": 1, "capacity": 8, "admitting": True, "at": time.time()}
    redis.Redis.from_url(registry.url).hset(admission.capacity_key(), "w-alive", json.dumps(published))
    theirs = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-alive")
    dead = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-dead")
    mine = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-me")  # not live here
    assert heartbeat.tick(sweep=True) == 2
    for call in (theirs, dead, mine):
        call.refresh_from_db()
    assert (theirs.status, dead.status, mine.status) == ("active", "ended", "ended")  # a worker ends its own orphans

    registry.stop()  # Redis down: nothing is ended for an old stamp alone
    unstamped = active(loan_bot, started=timedelta(minutes=2), heartbeat=timedelta(minutes=1), worker="w-dead")
    assert heartbeat.tick(sweep=True) == 0
    unstamped.refresh_from_db()
    assert unstamped.status == "active"
