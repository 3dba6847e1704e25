"""Two server processes' dialers at once (two runners, two database connections, on
PostgreSQL where `FOR UPDATE SKIP LOCKED` and the Pacer row lock decide): no lead is
dialled twice at once, no attempt twice, and the campaign's lines are never exceeded."""
from __future__ import annotations

import threading
import time as wall
from collections import Counter
from datetime import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, connections

from calls.outbox.runner import Runner
from campaigns import clock
from campaigns.dialer import DialQueue
from campaigns.models import FINAL_STATES, Lead
from devtools.fakecallee import NO_ANSWER, Callees, django_sender
from tests.campaigns.support import campaign


@pytest.mark.allow_skip("two planners in two transactions at once: PostgreSQL (SQLite serialises writers)")
@pytest.mark.django_db(transaction=True)
def test_two_dialers_at_once_never_dial_a_lead_twice(dialling, loan_bot, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    clock.set_clock(None)
    settings.TWILIO_CPS = 200.0
    c = campaign(loan_bot, max_lines=10, max_attempts=3, retry_no_answer_min=0, hours_start=time(0),
                 hours_end=time(23, 59, 59), days=list(range(7)))
    numbers = [f"+9198765{i:05d}" for i in range(60)]
    Lead.objects.bulk_create(Lead(campaign=c, phone=n, next_try_at=clock.now()) for n in numbers)
    callees = Callees(dialling, django_sender(), ring_s=0.02)
    callees.default = NO_ANSWER
    callees.start()
    stop = threading.Event()
    errors: list[BaseException] = []

    def dialer(owner: str) -> None:
        runner = Runner([DialQueue()], owner=owner, concurrency=8)
        try:
            while not stop.is_set():
                runner.run_once()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dialer, args=(f"worker-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        deadline = wall.monotonic() + 120
        while Lead.objects.exclude(state__in=FINAL_STATES).exists() and wall.monotonic() < deadline and not errors:
            wall.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        callees.stop()
    assert not errors, errors
    assert set(Lead.objects.values_list("state", flat=True)) == {"no_answer"}
    assert not callees.violations, callees.violations[:3]
    assert callees.peak_live <= 10
    per_attempt = Counter(
        parse_qs(urlsplit(r.one("StatusCallback")).query)["attempt"][0]
        for r in dialling.requests if r.method == "POST" and r.path.endswith("/Calls.json")
    )
    assert max(per_attempt.values()) == 1 and len(per_attempt) == 180
    assert Counter(number for _, number, _ in callees.dials) == {n: 3 for n in numbers}
