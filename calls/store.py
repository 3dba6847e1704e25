"""A call's database writes: in order, off the event loop, batched and retried.

Why not `database_sync_to_async`: that runs everything on asgiref's one
thread-sensitive thread, so every call in the process queues behind every other
call's writes (and Channels' per-message connection clean-up). Here writes run
on a small pool of writer threads of their own (`DB_WRITER_THREADS`), each
keeping its database connection open between batches, so a write costs a
round trip, not a new connection.

A call's writes are queued as they happen (bounded: `STORE_MAX_PENDING`) and a
per-call task hands everything queued so far to a writer thread as one batch in
one transaction, so a turn's rows (transcript, answer, bot line, latency) land
together. A transient error (connection lost, `database is locked`) closes the
connection and retries the batch with backoff; a row that fails for good is
logged and the rest of its batch still lands. `flush()` waits for everything
queued (before `call.ended`, and when the socket drops).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

log = logging.getLogger(__name__)

Write = tuple[Callable[..., Any], tuple[Any, ...]]

TRANSIENT = (OperationalError, InterfaceError)


class WriterPool:
    """The process's database writer threads; each keeps its own connection open."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.threads = 0

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self.threads = settings.DB_WRITER_THREADS
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="db-writer")
            return self._executor

    def close_connections(self) -> None:
        """Close every writer thread's connection (tests, before the test database goes;
        a draining server). Each thread runs exactly one close: they meet at a barrier."""
        with self._lock:
            executor, threads = self._executor, self.threads
        if executor is None:
            return
        barrier = threading.Barrier(threads)

        def close() -> None:
            connection.close()
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass

        for future in [executor.submit(close) for _ in range(threads)]:
            future.result()


writers = WriterPool()


def _run_batch(batch: Sequence[Write]) -> list[tuple[Write, Exception]]:
    """Runs in a writer thread: the batch in one transaction. A transient error
    propagates (the caller retries the whole batch); other failures are retried
    row by row so one bad row does not cost the others. Returns the rows that failed."""
    try:
        with transaction.atomic():
            for fn, args in batch:
                fn(*args)
        return []
    except TRANSIENT:
        connection.close()  # it may be broken; the retry reconnects
        raise
    except DatabaseError:
        if len(batch) == 1:
            raise
    failed: list[tuple[Write, Exception]] = []
    for write in batch:
        try:
            with transaction.atomic():
                write[0](*write[1])
        except TRANSIENT:
            connection.close()
            raise
        except Exception as exc:
            failed.append((write, exc))
    return failed


class Store:
    """One call's writes. `put()` never blocks; `flush()` waits until they landed."""

    def __init__(
        self,
        *,
        max_pending: int | None = None,
        attempts: int | None = None,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        pool: WriterPool | None = None,
    ) -> None:
        self.max_pending = max_pending or settings.STORE_MAX_PENDING
        self.attempts = attempts or settings.STORE_ATTEMPTS
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._pool = pool or writers
        self._pending: deque[Write] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.lost = 0  # rows given up on (logged)

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a write. Past `max_pending` waiting writes (a database stuck for
        long) the write is dropped and counted in `lost` rather than grow without bound."""
        if len(self._pending) >= self.max_pending:
            self.lost += 1
            log.error("store: %d writes already waiting; dropping %s", len(self._pending), getattr(fn, "__name__", fn))
            return
        self._pending.append((fn, args))
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-store")

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = list(self._pending)
                self._pending.clear()
                await self._write(batch)
            self._idle.set()

    async def _write(self, batch: list[Write]) -> None:
        # sync_to_async (not a bare executor) so that async_to_sync inside a write
        # (the dashboard broadcast on commit) runs on this event loop.
        run = sync_to_async(_run_batch, thread_sensitive=False, executor=self._pool.executor())
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                failed = await run(batch)
                break
            except TRANSIENT as exc:
                if attempt == self.attempts:
                    failed = [(write, exc) for write in batch]
                    break
                log.warning("store: transient database error (attempt %d/%d): %s", attempt, self.attempts, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            except Exception as exc:
                failed = [(write, exc) for write in batch]
                break
        for (fn, _args), exc in failed:
            self.lost += 1
            log.error("storing %s failed: %r", getattr(fn, "__name__", fn), exc, exc_info=exc)

    async def flush(self) -> None:
        if self._task is not None:
            await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            self._task = None
