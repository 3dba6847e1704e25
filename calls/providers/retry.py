"""One failure policy for every cloud speech call, so OpenAI and ElevenLabs behave alike.

A caller is waiting on the line, so a cloud hiccup gets exactly one quick second
chance and then the pipeline's local fallback takes over; SDK-level retries are
switched off because their backoff (half a second and more, growing) is tuned
for batch jobs, not for a conversation.

- Transient (429, 5xx, timeouts, connection and protocol errors): retry once
  after a short backoff, then `ProviderError(permanent=False)`.
- Permanent (any other 4xx, a bad key, a malformed response):
  `ProviderError(permanent=True)` at once.
- A stream is retried only while nothing has been yielded: once the caller has
  heard audio, replaying the sentence from the start would repeat it.
- Circuit breaker: after `CLOUD_BREAKER_FAILURES` failed requests in a row the
  vendor is skipped for `CLOUD_BREAKER_COOLDOWN` seconds, so during an outage
  every turn goes straight to the local engine instead of first waiting out a
  timeout and a retry; the first request after the pause tries the vendor
  again and one success closes the circuit.

Each vendor module supplies a `Classifier` that turns its SDK's exceptions into
a `Failure`; everything else here is vendor-neutral. Messages name the vendor,
the operation and the status, never the request or response bodies, because
vendors echo (partly masked) API keys back in error bodies; configured secrets
are redacted from the message as a last line of defence, and the SDK exception
is not chained, so a logged traceback cannot leak a key either.

`PerLoopClient` lives here too: SDK clients wrap an httpx connection pool,
which is bound to the event loop that opened its connections, while the
provider registry shares one provider between the warm-up thread's loop and the
server's loop.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings

from calls import metrics
from calls.providers.base import ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RETRIES = 1
DEFAULT_BACKOFF = 0.25  # seconds before the single retry


@dataclass(frozen=True)
class Failure:
    """What went wrong, in words safe to show: `detail` never contains a body or a key."""

    transient: bool
    detail: str


Classifier = Callable[[BaseException], "Failure | None"]
"""Maps a vendor SDK exception to a Failure; None means "not a vendor failure", re-raise it."""


def http_failure(status: int | None, code: str = "") -> Failure:
    """The policy for an HTTP error status: 429 and 5xx are worth one more try, other 4xx are not."""
    suffix = f" ({code})" if code else ""
    if status is None:
        return Failure(transient=True, detail=f"HTTP error without a status{suffix}")
    return Failure(transient=status == 429 or status >= 500, detail=f"HTTP {status}{suffix}")


def timeout_failure(seconds: float) -> Failure:
    return Failure(transient=True, detail=f"no answer within {seconds:g} s")


def connection_failure(exc: BaseException) -> Failure:
    return Failure(transient=True, detail=f"connection failed ({type(exc).__name__})")


@dataclass(frozen=True)
class RetryPolicy:
    """Timeout per attempt (seconds), number of retries and the pause before each."""

    timeout: float
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF

    @classmethod
    def from_settings(cls, timeout: float | None = None, *, backoff: float | None = None) -> RetryPolicy:
        return cls(
            timeout=float(settings.CLOUD_TIMEOUT if timeout is None else timeout),
            backoff=DEFAULT_BACKOFF if backoff is None else float(backoff),
        )


class CircuitBreaker:
    """Counts one vendor's failed requests in a row; open = skip the vendor for a while.

    Shared by every call of the process (the provider is a singleton), guarded by
    a lock because the warm-up thread's loop and the server's loop both use it.
    Opening and closing are reported as `voicebot_breaker_open{vendor}`.
    """

    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic, *, vendor: str = ""
    ) -> None:
        self.threshold = max(int(failures), 0)  # 0 turns the breaker off
        self.cooldown = float(cooldown)
        self.vendor = vendor
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._last_failure = 0.0

    @classmethod
    def from_settings(cls, vendor: str = "") -> CircuitBreaker:
        return cls(settings.CLOUD_BREAKER_FAILURES, settings.CLOUD_BREAKER_COOLDOWN, vendor=vendor)

    def retry_in(self) -> float:
        """Seconds until the vendor is tried again; 0 when the circuit is closed."""
        with self._lock:
            if not self.threshold or self._failures < self.threshold:
                return 0.0
            return max(0.0, self._last_failure + self.cooldown - self._clock())

    def success(self) -> None:
        with self._lock:
            closed = bool(self.threshold) and self._failures >= self.threshold
            self._failures = 0
        if closed:
            metrics.breaker_state(self.vendor.lower(), False)
            log.info("cloud circuit closed: %s answers again", self.vendor, extra={"event": "breaker.closed"})

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._last_failure = self._clock()
            opened = self.threshold and self._failures == self.threshold
        if opened:
            metrics.breaker_state(self.vendor.lower(), True)
            log.error("cloud circuit for %s opened after %d failed requests in a row; local engines for %g s",
                      self.vendor, self.threshold, self.cooldown, extra={"event": "breaker.opened"})


class CloudCall:
    """Runs one vendor's requests under a RetryPolicy and turns failures into ProviderError."""

    def __init__(
        self,
        *,
        provider: str,
        vendor: str,
        policy: RetryPolicy,
        classify: Classifier,
        secrets: Iterable[str] = (),
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.provider = provider
        self.vendor = vendor
        self.policy = policy
        self.breaker = breaker or CircuitBreaker.from_settings(vendor)
        self.breaker.vendor = self.breaker.vendor or vendor
        self._classify = classify
        self._secrets = tuple(s for s in secrets if s)

    def _check_circuit(self, what: str) -> None:
        wait = self.breaker.retry_in()
        if wait > 0:
            raise ProviderError(
                f"{self.vendor} {what} skipped: {self.breaker.threshold} failed requests in a row, "
                f"trying again in {wait:.0f} s",
                provider=self.provider,
                permanent=False,
                skipped=True,
            )

    def _failure(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, TimeoutError):  # our own asyncio.timeout ceiling
            return timeout_failure(self.policy.timeout)
        return self._classify(exc)

    def _error(self, what: str, failure: Failure, attempts: int, *, permanent: bool, note: str = "") -> ProviderError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"{self.vendor} {what} failed{tries}: {failure.detail}{note}"
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return ProviderError(message, provider=self.provider, permanent=permanent)

    async def _before_retry(self, what: str, failure: Failure) -> None:
        log.warning(
            "%s %s: %s; retrying in %.2f s", self.vendor, what, failure.detail, self.policy.backoff
        )
        await asyncio.sleep(self.policy.backoff)

    async def run(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await `attempt()` with a hard deadline of `policy.timeout` per try (the SDK
        timeouts are per network read, this bounds the whole request)."""
        self._check_circuit(what)
        for number in range(1, self.policy.retries + 2):
            try:
                async with asyncio.timeout(self.policy.timeout):
                    result = await attempt()
                self.breaker.success()
                return result
            except Exception as exc:
                failure = self._failure(exc)
                if failure is None:
                    raise
                if not failure.transient or number > self.policy.retries:
                    self.breaker.failure()
                    raise self._error(what, failure, number, permanent=not failure.transient) from None
            await self._before_retry(what, failure)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream(self, what: str, open_stream: Callable[[], AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
        """Yield from `open_stream()`, reopening it once on a transient failure that
        happens before the first chunk. Closing this generator closes the SDK stream."""
        self._check_circuit(what)
        for number in range(1, self.policy.retries + 2):
            stream = open_stream()
            sent = 0
            try:
                async for chunk in stream:
                    if not sent:
                        self.breaker.success()  # the vendor answers
                    sent += len(chunk)
                    yield chunk
                return
            except Exception as exc:
                failure = self._failure(exc)
                if failure is None:
                    raise
                if sent:
                    note = f" after {sent} bytes of audio (not retried)"
                    raise self._error(what, failure, number, permanent=False, note=note) from None
                if not failure.transient or number > self.policy.retries:
                    self.breaker.failure()
                    raise self._error(what, failure, number, permanent=not failure.transient) from None
            finally:
                await stream.aclose()  # type: ignore[attr-defined]
            await self._before_retry(what, failure)


class PerLoopClient(Generic[T]):
    """Lazily builds one SDK client per running event loop (see the module docstring)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                client = self._clients[loop] = self._factory()
            return client
