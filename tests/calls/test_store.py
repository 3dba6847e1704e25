"""Call rows under load (calls/persistence/write_queue.py): none lost on SQLite, retried when the database hiccups,
held through an outage and written when it is over."""
from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from calls.models import Call, Turn
from calls.persistence import lifecycle
from calls.persistence.write_queue import WriteQueue, settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls_to_write(loan_bot):
    return [str(Call.objects.create(bot=loan_bot).pk) for _ in range(40)]


async def test_a_burst_of_concurrent_writes_loses_no_row(settings, calls_to_write, loan_bot):
    """40 calls write 10 turns each at once on 4 writer threads, while new calls are
    created and claimed on the request thread: every row lands (WAL + busy timeout
    + retries; on SQLite this was `database is locked`)."""
    from calls.persistence.write_queue import writers

    settings.DB_WRITER_THREADS = 4
    writers.close_connections()
    writers._executor = None  # a fresh pool with 4 threads

    async def one_call(call_id: str) -> int:
        store = WriteQueue()
        for i in range(10):
            store.put(lifecycle.add_turn, call_id, i, "caller" if i % 2 else "bot", f"line {i}")
            await asyncio.sleep(0)
        store.put(lifecycle.end_call, call_id, "incomplete", "hangup")
        await store.close(timeout=None)
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

    store = WriteQueue(backoff=0.001)
    store.put(flaky, str(call.pk))
    store.put(lifecycle.add_turn, str(call.pk), 99, "bot", "after")
    await store.close(timeout=None)
    assert store.lost == 0 and len(attempts) == 3
    # The failed attempts rolled back: one row from the flaky write, plus the next.
    rows = await database_sync_to_async(lambda: list(Turn.objects.filter(call=call).values_list("index", flat=True)))()
    assert sorted(rows) == [3, 99]


async def test_a_bad_row_does_not_cost_the_rest_of_its_batch(call):
    store = WriteQueue()
    store.put(lifecycle.add_turn, str(call.pk), 1, "caller", "kept")
    store.put(lifecycle.add_turn, "00000000-0000-0000-0000-000000000000", 2, "caller", "no such call")
    store.put(lifecycle.add_turn, str(call.pk), 3, "bot", "kept too")
    await store.close(timeout=None)
    assert store.lost == 1
    rows = await database_sync_to_async(lambda: sorted(Turn.objects.filter(call=call).values_list("index", flat=True)))()
    assert rows == [1, 3]


async def test_the_queue_is_bounded(call):
    store = WriteQueue(max_pending=10)
    for i in range(15):
        store.put(lifecycle.add_turn, str(call.pk), i, "caller", "x")
    assert store.lost == 5
    await store.close(timeout=None)


def _database_down_until(back: threading.Event, call_id: str):
    """A write that fails as a lost connection does until `back` is set (the outage)."""

    def write(index: int) -> None:
        if not back.is_set():
            raise OperationalError("server closed the connection unexpectedly")
        lifecycle.add_turn(call_id, index, "caller", f"line {index}")

    return write


async def test_writes_outlast_an_outage_and_land_in_order_when_the_database_is_back(call):
    back = threading.Event()
    write = _database_down_until(back, str(call.pk))
    store = WriteQueue(attempts=2, outage_s=60, backoff=0.001, max_backoff=0.01)
    store.put(write, 1)
    store.put(lifecycle.end_call, str(call.pk), "qualified", "all_answers_qualify")
    # The end of the call does not wait for the database: flush gives up in time.
    assert await store.flush(timeout=0.2) is False
    store.put(write, 2)  # the call goes on; its writes queue behind the held batch
    assert store.pending == 3
    assert await store.close(timeout=0.05) is False  # the socket goes; the writes go on
    back.set()
    assert await settle(10)
    assert store.lost == 0 and store.pending == 0
    rows = await database_sync_to_async(lambda: list(Turn.objects.filter(call=call).values_list("index", flat=True)))()
    assert rows == [1, 2]
    await database_sync_to_async(call.refresh_from_db)()
    assert (call.status, call.outcome) == ("ended", "qualified")


async def test_an_outage_longer_than_store_outage_s_gives_up_and_counts_the_loss(call):
    back = threading.Event()
    store = WriteQueue(attempts=2, outage_s=0.05, backoff=0.001, max_backoff=0.01)
    store.put(_database_down_until(back, str(call.pk)), 1)
    assert await store.close(timeout=5)
    assert store.lost == 1


async def test_a_reconnecting_socket_waits_for_the_writes_of_the_one_that_dropped(call):
    back = threading.Event()
    dropped = WriteQueue(attempts=1, outage_s=60, backoff=0.001, max_backoff=0.01)
    dropped.put(_database_down_until(back, str(call.pk)), 1)
    assert await dropped.wait_closed(0.05) is False  # the call has not closed it yet
    assert await dropped.close(timeout=0.01) is False
    assert await dropped.wait_closed(0.05) is False  # closed, its write still held
    back.set()
    assert await dropped.wait_closed(10) is True
