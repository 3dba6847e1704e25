"""Call rows under load (calls/store.py): none lost on SQLite, retried when the database hiccups."""
from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from calls import services
from calls.models import Call, Turn
from calls.store import Store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls_to_write(loan_bot):
    return [str(Call.objects.create(bot=loan_bot).pk) for _ in range(40)]


async def test_a_burst_of_concurrent_writes_loses_no_row(settings, calls_to_write, loan_bot):
    """40 calls write 10 turns each at once on 4 writer threads, while new calls are
    created and claimed on the request thread: every row lands (WAL + busy timeout
    + retries; on SQLite this was `database is locked`)."""
    from calls.store import writers

    settings.DB_WRITER_THREADS = 4
    writers.close_connections()
    writers._executor = None  # a fresh pool with 4 threads

    async def one_call(call_id: str) -> int:
        store = Store()
        for i in range(10):
            store.put(services.add_turn, call_id, i, "caller" if i % 2 else "bot", f"line {i}")
            await asyncio.sleep(0)
        store.put(services.end_call, call_id, "incomplete", "hangup")
        await store.close()
        return store.lost

    create = database_sync_to_async(lambda: [Call.objects.create(bot=loan_bot).pk for _ in range(30)])
    lost = await asyncio.gather(*(one_call(c) for c in calls_to_write), create())
    assert lost[:-1] == [0] * len(calls_to_write)
    counts = await database_sync_to_async(
        lambda: [Turn.objects.filter(call_id=c).count() for c in calls_to_write]
    )()
    assert counts == [10] * len(calls_to_write)
    ended = await database_sync_to_async(lambda: Call.objects.filter(status="ended").count())()
    assert ended == len(calls_to_write)
    writers.close_connections()
    writers._executor = None


async def test_a_transient_error_is_retried_and_the_batch_lands_once(call):
    attempts = []

    def flaky(call_id: str) -> None:
        attempts.append(1)
        Turn.objects.create(call_id=call_id, index=len(attempts), speaker="caller", text="hi")
        if len(attempts) < 3:
            raise OperationalError("database is locked")

    store = Store(backoff=0.001)
    store.put(flaky, str(call.pk))
    store.put(services.add_turn, str(call.pk), 99, "bot", "after")
    await store.close()
    assert store.lost == 0 and len(attempts) == 3
    # The failed attempts rolled back: one row from the flaky write, plus the next.
    rows = await database_sync_to_async(lambda: list(Turn.objects.filter(call=call).values_list("index", flat=True)))()
    assert sorted(rows) == [3, 99]


async def test_a_bad_row_does_not_cost_the_rest_of_its_batch(call):
    store = Store()
    store.put(services.add_turn, str(call.pk), 1, "caller", "kept")
    store.put(services.add_turn, "00000000-0000-0000-0000-000000000000", 2, "caller", "no such call")
    store.put(services.add_turn, str(call.pk), 3, "bot", "kept too")
    await store.close()
    assert store.lost == 1
    rows = await database_sync_to_async(lambda: sorted(Turn.objects.filter(call=call).values_list("index", flat=True)))()
    assert rows == [1, 3]


async def test_the_queue_is_bounded(call):
    store = Store(max_pending=10)
    for i in range(15):
        store.put(services.add_turn, str(call.pk), i, "caller", "x")
    assert store.lost == 5
    await store.close()
