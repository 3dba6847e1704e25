"""Claim due outbox rows, perform them on a thread pool, record what happened.

A queue (`OutboxQueue`) says which model holds its rows, how to perform one and how
long to wait before each retry. The `Runner` does the rest for every registered queue:

- **prepare**: a queue that plans its own work (the campaign dialer) writes the rows
  due now first (`OutboxQueue.prepare`), and may ask to be woken at a given time.
- **claim**: in one short transaction, the due rows (pending, `next_attempt_at` passed,
  no live lease, no earlier row of the same `order_key` pending or in flight) are
  selected `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite takes its one write lock for
  the transaction instead) and leased to this runner with a fresh token. Another
  worker never claims a leased row, so one attempt is never sent twice at once.
- **perform**: outside any transaction, on the pool's threads, with no database access
  (what it needs was loaded by the claim), so a slow receiver holds no connection.
- **record**: the result, only if the lease token still matches: done, failed, or
  pending again after the queue's next delay. A process that died mid-attempt leaves a
  lease that runs out (`lease_s`) or that its successor with the same WORKER_ID
  releases at start, and the row is attempted again: at least once.

In a server process `start_runner()` (config.asgi) runs `Runner.serve` on a daemon
thread, like the call janitor: woken at once when a transaction that wrote a row
commits (`wake_on_commit`), else every OUTBOX_POLL_S. Tests drive `Runner.run_once`
with an injected clock.
"""
from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from calls.outbox.items import OutboxItem, Result, Status

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OBSERVE_EVERY = timedelta(seconds=10)
COALESCE_S = 0.01

# What `Runner.record` did with an attempt's result.
DONE, RETRY, FAILED = "done", "retry", "failed"


class OutboxQueue(ABC):
    """One kind of durable work: its rows' model and how to perform one."""

    name: str
    model: type[OutboxItem]
    related: tuple[str, ...] = ()  # select_related of a claimed row: all `perform` may read
    lease_s: float = 60.0  # longer than any attempt can take

    @abstractmethod
    def retry_s(self) -> Sequence[float]:
        """Seconds to wait after failed attempt 1, 2, ...; after the last, the row fails."""

    def ready(self) -> Q:
        """Extra condition for a row to be claimed (e.g. its destination is active)."""
        return Q()

    @abstractmethod
    def perform(self, item: OutboxItem) -> Result:
        """Do the work of one row; no database access. Exceptions count as a retryable error."""

    def finished(self, item: OutboxItem, result: Result, outcome: str, now: datetime) -> None:
        """Called in the transaction that records an attempt (`outcome`: done, retry, failed)."""

    def observe(self, now: datetime) -> None:
        """Refresh the queue's gauges (every few seconds from the runner's thread)."""

    def prepare(self, now: datetime) -> datetime | None:
        """Before each claim: write the rows that are due now (a queue that plans its own
        work, like the campaign dialer). Returns when it wants to be asked again (the
        runner wakes then, or at its next poll if that is sooner), None for no particular time."""
        return None


_queues: dict[str, OutboxQueue] = {}


def register(queue: OutboxQueue) -> None:
    """Add a queue to the ones every runner serves (an app's `ready()`)."""
    _queues[queue.name] = queue


def registered() -> list[OutboxQueue]:
    return list(_queues.values())


class Runner:
    """Claims, performs and records the rows of `queues` as `owner`, `concurrency` at a time."""

    def __init__(
        self, queues: Iterable[OutboxQueue] | None = None, *, owner: str = "", concurrency: int = 0,
        clock: Clock = timezone.now, poll_s: float | None = None,
    ) -> None:
        self.queues = list(queues) if queues is not None else registered()
        self.owner = (owner or settings.WORKER_ID)[:64]
        self.concurrency = concurrency or settings.OUTBOX_CONCURRENCY
        self.clock = clock
        self.poll_s = settings.OUTBOX_POLL_S if poll_s is None else poll_s
        self.wakeup = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._busy = 0  # claimed and not yet recorded
        self._finished: list[tuple[OutboxQueue, OutboxItem, Result, datetime]] = []
        self._lock = threading.Lock()
        self._wake_at: datetime | None = None  # the soonest time a queue's `prepare` asked for

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="outbox")
        return self._pool

    # ------------------------------------------------------------ one row's life

    def claim(self, queue: OutboxQueue, now: datetime, limit: int) -> list[OutboxItem]:
        """Lease up to `limit` due rows of `queue` to this runner (one transaction)."""
        model = queue.model
        live_lease = Q(lease_until__gt=now)
        earlier = model.objects.filter(
            Q(status=Status.PENDING) | live_lease, order_key=OuterRef("order_key"), pk__lt=OuterRef("pk")
        )
        with transaction.atomic():
            due = (
                model.objects.filter(queue.ready(), status=Status.PENDING, next_attempt_at__lte=now)
                .exclude(live_lease)
                .filter(~Exists(earlier))
                .order_by("next_attempt_at", "pk")
                .select_for_update(skip_locked=True, of=("self",))
            )
            picked = list(due.select_related(*queue.related)[:limit])
            if not picked:
                return []
            lease = {"lease_until": now + timedelta(seconds=queue.lease_s), "lease_owner": self.owner,
                     "lease_token": uuid.uuid4().hex, "last_attempt_at": now}
            model.objects.filter(pk__in=[item.pk for item in picked]).update(attempts=F("attempts") + 1, **lease)
            for item in picked:
                item.attempts += 1
                for name, value in lease.items():
                    setattr(item, name, value)
            return sorted(picked, key=lambda item: item.pk)

    def attempt(self, queue: OutboxQueue, item: OutboxItem) -> Result:
        try:
            return queue.perform(item)
        except Exception as exc:  # a bug or an unexpected failure: retried like any error, and logged
            log.exception("outbox %s: attempt at row %s raised", queue.name, item.pk)
            return Result(ok=False, error=f"{type(exc).__name__}: {exc}", kind="error")

    def record(self, queue: OutboxQueue, item: OutboxItem, result: Result, now: datetime) -> str:
        """Store an attempt's result if this runner still holds the row; returns what it became
        (done, retry, failed; "" when the lease was lost or the row was cancelled meanwhile)."""
        delays = list(queue.retry_s())
        fields: dict[str, object] = {"lease_until": None, "lease_token": "", "last_error": result.error[:500],
                                     **result.fields}
        if result.ok:
            outcome = DONE
            fields.update(status=Status.DONE, done_at=now, last_error="")
        elif result.permanent or item.attempts > len(delays):
            outcome = FAILED
            fields.update(status=Status.FAILED)
        else:
            outcome = RETRY
            fields.update(next_attempt_at=now + timedelta(seconds=delays[item.attempts - 1]))
        mine = queue.model.objects.filter(pk=item.pk, lease_token=item.lease_token)
        with transaction.atomic():
            if not mine.filter(status=Status.PENDING).update(**fields):
                mine.update(lease_until=None, lease_token="")  # cancelled while in flight: just let go
                return ""
            queue.finished(item, result, outcome, now)
        return outcome

    # ------------------------------------------------------------ driving it

    def run_once(self) -> int:
        """Claim what is due now (by the clock), perform it, record it; how many rows ran.
        Claims and records happen on the calling thread (tests inside a transaction)."""
        now = self.clock()
        self._prepare(now)
        jobs = [(queue, item) for queue in self.queues for item in self.claim(queue, now, self.concurrency)]
        futures = [self.pool.submit(self.attempt, queue, item) for queue, item in jobs]
        for (queue, item), future in zip(jobs, futures):
            self.record(queue, item, future.result(), self.clock())
        return len(jobs)

    def release_own_leases(self) -> int:
        """At start: rows this owner (a previous life of this WORKER_ID) had in flight are due again."""
        return sum(
            queue.model.objects.filter(lease_owner=self.owner, lease_until__isnull=False).update(
                lease_until=None, lease_token=""
            )
            for queue in self.queues
        )

    def serve(self, stop: threading.Event) -> None:
        """The server process's loop (a daemon thread). This thread alone touches the
        database: it records finished attempts (all of them in one transaction) and
        claims new rows; the pool's threads only perform. Once `stop` is set it claims
        nothing more and returns when the attempts in flight are recorded."""
        released = False
        observed: datetime | None = None
        while True:
            self.wakeup.clear()  # before reading `stop`: a stop_runner() from now on ends the wait below
            stopping = stop.is_set()
            if stopping and self._in_flight() == 0:
                return
            claimed = 0
            close_old_connections()
            try:
                if not released:
                    released, count = True, self.release_own_leases()
                    if count:
                        log.info("outbox: %d row(s) this worker had in flight before it restarted are due again", count)
                self._record_finished()
                now = self.clock()
                if not stopping:
                    claimed = self._dispatch(now)
                if not stopping and (observed is None or now - observed >= OBSERVE_EVERY):
                    observed = now
                    for queue in self.queues:
                        queue.observe(now)
            except DatabaseError:
                log.warning("outbox: the database failed; retrying in %s s", self.poll_s, exc_info=True)
                connection.close()
            if stopping and self._in_flight() == 0:
                connection.close()
                return
            if claimed and self._free() > 0 and not stopping:
                continue  # there may be more due
            if self._in_flight() == 0:
                connection.close()  # idle: give the connection back (psycopg's pool) until there is work
            if self.wakeup.wait(self._wait_s()):
                # Woken by a finished attempt or a commit: the ones right behind it are taken
                # in the same round (one record transaction, one claim), not one round each.
                stop.wait(COALESCE_S)

    def _prepare(self, now: datetime) -> None:
        wake_at: list[datetime] = []
        for queue in self.queues:
            try:
                when = queue.prepare(now)
            except DatabaseError:
                raise
            except Exception:  # a bug in one queue's planning must not stop the others' work
                log.exception("outbox %s: prepare failed", queue.name)
                continue
            if when is not None:
                wake_at.append(when)
        self._wake_at = min(wake_at) if wake_at else None

    def _wait_s(self) -> float:
        """Until the next poll, or sooner when a queue asked to be prepared again."""
        if self._wake_at is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, (self._wake_at - self.clock()).total_seconds()))

    def _in_flight(self) -> int:
        with self._lock:
            return self._busy

    def _free(self) -> int:
        return self.concurrency - self._in_flight()

    def _dispatch(self, now: datetime) -> int:
        self._prepare(now)
        claimed = 0
        for queue in self.queues:
            free = self._free()
            if free <= 0:
                break
            for item in self.claim(queue, now, free):
                with self._lock:
                    self._busy += 1
                claimed += 1
                self.pool.submit(self._perform, queue, item)
        return claimed

    def _perform(self, queue: OutboxQueue, item: OutboxItem) -> None:
        result = self.attempt(queue, item)
        with self._lock:
            self._finished.append((queue, item, result, self.clock()))
        self.wakeup.set()

    def _record_finished(self) -> None:
        """Record every finished attempt in one transaction (kept for the next round if
        the database fails: the row's lease still holds it meanwhile)."""
        with self._lock:
            finished, self._finished = self._finished, []
        if not finished:
            return
        try:
            with transaction.atomic():
                for queue, item, result, at in finished:
                    self.record(queue, item, result, at)
        except DatabaseError:
            with self._lock:
                self._finished = finished + self._finished
            raise
        with self._lock:
            self._busy -= len(finished)


# ---------------------------------------------------------------- the server process's runner

_runner: Runner | None = None
_stop: threading.Event | None = None
_thread: threading.Thread | None = None


def start_runner() -> Runner | None:
    """Start this process's runner thread once (OUTBOX_WORKER=0 turns it off)."""
    global _runner, _stop, _thread
    if _runner is not None or not settings.OUTBOX_WORKER or not registered():
        return None
    _runner, _stop = Runner(), threading.Event()
    _thread = threading.Thread(target=_runner.serve, args=(_stop,), name="outbox-runner", daemon=True)
    _thread.start()
    return _runner


def stop_runner(timeout: float) -> bool:
    """Claim nothing more; wait up to `timeout` s for the attempts in flight to be recorded
    (a draining server). False if some were still running."""
    if _runner is None or _stop is None or _thread is None:
        return True
    _stop.set()
    _runner.wakeup.set()
    _thread.join(timeout)
    return not _thread.is_alive()


def wake() -> None:
    """New rows were committed: look now rather than at the next poll."""
    if _runner is not None:
        _runner.wakeup.set()


def wake_on_commit() -> None:
    transaction.on_commit(wake)
