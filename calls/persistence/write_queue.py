"""A call's database writes: in order, off the event loop, batched, retried, and
kept through a database outage.

Why not `database_sync_to_async`: that runs everything on asgiref's one
thread-sensitive thread, so every call in the process queues behind every other
call's writes (and Channels' per-message connection clean-up). Here writes run
on a small pool of writer threads of their own (`DB_WRITER_THREADS`), each
keeping its database connection open between batches, so a write costs a
round trip, not a new connection.

A call's writes are queued as they happen (bounded: `STORE_MAX_PENDING`) and a
per-call task hands everything queued so far to a writer thread as one batch in
one transaction, so a turn's rows (transcript, answer, bot line, latency) land
together. A row that fails for good is logged and the rest of its batch still
lands.

Why the outage handling: "every answer is stored as it happens" (protocol §2) must
hold when the database restarts or the network to it blips. A transient error
(connection lost or refused, `database is locked`) closes the connection and
retries the batch with backoff (`STORE_ATTEMPTS` quick tries from 50 ms, doubling
to 2 s); if the database is still down the batch is held and retried every 2 s for
up to `STORE_OUTAGE_S`, while the call goes on and its new writes queue behind it
(the same bound). When the database is back everything is written in order.

`flush()` waits for what is queued, but at most `STORE_FLUSH_S`: the caller gets
`call.ended` on time whatever the database does, and the writes go on in the
background after the call (`settle()` waits for them: a stopping server, tests).

Nothing is lost silently: a write dropped because the queue is full, given up
after the outage window or refused by the database is counted in `lost`, in
`voicebot_records_lost_total{what}` (`write_overflow`, `write_outage`,
`write_failed`) and logged with the call's id (event `records.lost`).
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
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)

from calls import metrics

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


class WriteQueue:
    """One call's writes. `put()` never blocks; `flush()` waits (bounded) until they landed."""

    def __init__(
        self,
        call_id: str = "",
        *,
        max_pending: int | None = None,
        attempts: int | None = None,
        outage_s: float | None = None,
        flush_s: float | None = None,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        pool: WriterPool | None = None,
    ) -> None:
        self.call_id = call_id  # for the log
        self.max_pending = max_pending or settings.STORE_MAX_PENDING
        self.attempts = attempts or settings.STORE_ATTEMPTS
        self.outage_s = settings.STORE_OUTAGE_S if outage_s is None else outage_s
        self.flush_s = settings.STORE_FLUSH_S if flush_s is None else flush_s
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._pool = pool or writers
        self._pending: deque[Write] = deque()
        self._in_flight = 0  # writes of the batch being written (or held through an outage)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = asyncio.Event()  # close() was called: no more writes are coming
        self.lost = 0  # rows given up on (logged)

    def put(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue a write. Past `max_pending` waiting writes (a database down for long)
        the write is dropped and counted in `lost` rather than grow without bound."""
        if self.pending >= self.max_pending:
            self._lose("write_overflow", _name(fn), f"{self.pending} writes already waiting")
            return
        self._pending.append((fn, args))
        self._idle.clear()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="call-store")
            _running.add(self)

    @property
    def pending(self) -> int:
        """Writes not stored yet (queued, or in the batch being written)."""
        return len(self._pending) + self._in_flight

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    batch = list(self._pending)
                    self._pending.clear()
                    self._in_flight = len(batch)
                    try:
                        await self._write(batch)
                    finally:
                        self._in_flight = 0
                self._idle.set()
                if self._closing:
                    return
        finally:
            _running.discard(self)

    async def _write(self, batch: list[Write]) -> None:
        # sync_to_async (not a bare executor) so that async_to_sync inside a write
        # (the dashboard broadcast on commit) runs on this event loop.
        run = sync_to_async(_run_batch, thread_sensitive=False, executor=self._pool.executor())
        loop = asyncio.get_running_loop()
        delay, down_since, attempt = self.backoff, 0.0, 0
        while True:
            attempt += 1
            try:
                failed = await run(batch)
                break
            except TRANSIENT as exc:
                now = loop.time()
                down_since = down_since or now
                if attempt >= self.attempts and now - down_since >= self.outage_s:
                    why = f"database unreachable for {now - down_since:.0f} s ({exc})"
                    self._lose("write_outage", f"{len(batch)} writes", why, count=len(batch))
                    return
                if attempt == self.attempts:
                    log.error(
                        "store: database unreachable (%s); %d writes held, retried every %.0f s for up to %.0f s",
                        exc, self.pending, self.max_backoff, self.outage_s,
                    )
                elif attempt < self.attempts:
                    log.warning("store: transient database error (attempt %d/%d): %s", attempt, self.attempts, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            except Exception as exc:
                failed = [(write, exc) for write in batch]
                break
        if attempt > self.attempts:
            log.warning("store: database back after %.1f s; writing the %d held writes", loop.time() - down_since, self.pending)
        for (fn, _args), exc in failed:
            self._lose("write_failed", _name(fn), repr(exc), exc=exc)

    def _lose(self, what: str, writes: str, why: str, *, count: int = 1, exc: BaseException | None = None) -> None:
        """Writes given up on: counted here and in the metric, and logged with the call id."""
        self.lost += count
        metrics.records_lost(what, count)
        log.error(
            "call %s: %s dropped (%s): %s", self.call_id or "?", writes, what, why, exc_info=exc,
            extra={"event": "records.lost", "call_id": self.call_id, "what": what},
        )

    async def flush(self, timeout: float | None | object = ...) -> bool:
        """Wait until everything queued so far landed, at most `timeout` seconds
        (default STORE_FLUSH_S; None: no limit). True when it all landed; on False
        the writes go on in the background."""
        if self._task is None or self._idle.is_set():
            return True
        limit = self.flush_s if timeout is ... else timeout
        try:
            await asyncio.wait_for(asyncio.shield(self._idle.wait()), limit)  # type: ignore[arg-type]
            return True
        except TimeoutError:
            log.warning("store: %d writes not stored after %s s; they go on in the background", self.pending, limit)
            return False

    async def close(self, timeout: float | None | object = ...) -> bool:
        """No more writes are coming: flush (bounded, as `flush`); whatever has not
        landed by then keeps being written in the background (`settle` waits for it)."""
        self._closing = True
        self._closed.set()
        landed = await self.flush(timeout)
        self._wake.set()  # an idle writer task sees `_closing` and ends
        return landed

    async def wait_closed(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until the call closed this store and its writes landed:
        a socket that reconnects to a call picks it up from everything the last one stored."""
        try:
            async with asyncio.timeout(timeout):
                await self._closed.wait()
                await self._idle.wait()
            return True
        except TimeoutError:
            return False


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", fn))


# Stores with writes under way, including those of calls already over (a database
# outage outlasting the call): a strong reference keeps their tasks alive.
_running: set[WriteQueue] = set()


async def settle(timeout: float) -> bool:
    """Wait (at most `timeout` s) until every store's queued writes landed (a stopping
    server, tests). True when nothing is left."""
    return await _wait_idle(list(_running), timeout)


async def _wait_idle(stores: list[WriteQueue], timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    waits = [s._idle.wait() for s in stores if s._task is not None and s._task.get_loop() is loop and not s._idle.is_set()]
    if not waits:
        return True
    try:
        await asyncio.wait_for(asyncio.gather(*waits), timeout)
        return True
    except TimeoutError:
        return False
