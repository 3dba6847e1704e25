"""The runner as it runs in production: a thread of the server process woken when a
call's end commits, and several workers on one PostgreSQL sharing the rows without
ever sending the same attempt twice at once."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection, transaction

from calls.delivery.models import Delivery
from calls.outbox import runner as outbox
from devtools.webhook_receiver import Reply
from tests.delivery.support import add_destination, ended_call

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_server_s_runner_sends_as_soon_as_the_end_commits(loan_bot, receivers, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.OUTBOX_WORKER = True
    settings.OUTBOX_POLL_S = 600  # a delivery within the test's bound is the commit's wake-up, not a poll
    hook = receivers()
    add_destination(loan_bot, hook.url)
    runner = outbox.start_runner()
    try:
        assert runner is not None and outbox.start_runner() is None  # once per process
        call = ended_call(loan_bot)
        received = hook.wait_for(2, timeout=30)
        assert [r.webhook_id for r in received] == list(
            Delivery.objects.filter(event__call=call).order_by("id").values_list("event__webhook_id", flat=True))
    finally:
        assert outbox.stop_runner(15)
        outbox._runner = outbox._stop = None
    connection.close()


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(name: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "VAR_DIR"}}
    env.update(DATABASE_URL=_database_url(), DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY="x" * 50,
               WEBHOOK_ALLOW_PRIVATE="1", OUTBOX_POLL_S="0.1", OUTBOX_CONCURRENCY="4", PYTHONUNBUFFERED="1",
               SPEECH_WARMUP="0", DB_POOL_SIZE="0")
    return subprocess.Popen([sys.executable, "manage.py", "run_outbox", "--owner", name], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


@pytest.mark.allow_skip("two worker processes on one PostgreSQL: runs in the PostgreSQL pass")
def test_two_workers_on_one_postgresql_never_send_an_attempt_twice_at_once(loan_bot, receivers):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    hook = receivers(default=Reply(200, delay_s=0.05))  # answers take a while: attempts overlap
    add_destination(loan_bot, hook.url)
    workers = [_worker("worker-a"), _worker("worker-b")]
    try:
        for worker in workers:
            line = worker.stdout.readline()
            assert "serving webhooks" in line, line + worker.stdout.read()
        with transaction.atomic():  # 100 qualified calls end at once: 200 events
            calls = [ended_call(loan_bot) for _ in range(100)]
        received = hook.wait_for(200, timeout=120)
        deliveries = Delivery.objects.select_related("event")
        for _ in range(600):  # the last results are recorded just after their answers
            if deliveries.filter(status="done").count() == 200:
                break
            hook.changed.acquire()
            hook.changed.wait(0.1)
            hook.changed.release()
        assert deliveries.filter(status="done").count() == 200
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    counts = Counter(r.webhook_id for r in received)
    assert len(counts) == 200 and set(counts.values()) == {1}  # each event sent once
    assert max(hook.max_in_flight.values()) == 1
    assert set(deliveries.values_list("lease_owner", flat=True)) == {"worker-a", "worker-b"}
    arrival = {r.webhook_id: r.at for r in received}
    for call in calls:  # and in order per call
        ended, qualified = (d.event.webhook_id for d in deliveries.filter(event__call=call).order_by("id"))
        assert arrival[ended] < arrival[qualified]
