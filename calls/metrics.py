"""Prometheus metrics of the voice bot: the families operators alert on, and tiny hooks to feed them.

Every figure is recorded at a boundary that already exists (a call starts or ends,
a latency sample is stored, a provider fails or falls back, a circuit breaker
opens or closes, a call is refused), through one of the small functions below,
so the product code gains one line per boundary and no metric logic.

Several workers: `make serve` runs N server processes behind a load balancer, and
a scrape through the balancer reaches any one of them. So the metrics run in
prometheus-client's *multiprocess mode* when `PROMETHEUS_MULTIPROC_DIR` is set:
each process writes its values to memory-mapped files in that (per host, local)
directory, and `/metrics` on any worker reads them all, so one scrape target per
host sees every worker. Counters and histograms of a worker that died keep
counting (a total must not go down); its live gauges (calls in progress, breaker
state) are removed at the next scrape, because a gauge of a dead process is a lie.
Wipe the directory when the whole service (re)starts, before the workers start.
Without the setting (`make run`, one process, tests) the process's own registry
is served.

The value backend is chosen by prometheus-client when it is first imported, from
the environment variable, which is why this is an environment variable and not
only a Django setting.
"""
from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

#: 5, 10, 25 ms for the fast stages, then every 50 ms up to 1 s (the response
#: target), then coarser up to 30 s (a cloud timeout plus the local fallback).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025,
    *(round(0.05 * i, 2) for i in range(1, 21)),
    1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0,
)
DURATION_BUCKETS: tuple[float, ...] = (5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900)

REFUSAL_REASONS = ("busy", "rate_limited", "too_many_calls", "bad_token")
FAILURE_KINDS = ("transient", "permanent", "circuit_open")

CALLS_ACTIVE = Gauge(
    "voicebot_calls_active", "Calls in progress.", ["bot", "channel"], multiprocess_mode="livesum"
)
CALLS = Counter("voicebot_calls", "Calls ended, by outcome and end reason.", ["bot", "outcome", "reason"])
REFUSED = Counter("voicebot_calls_refused", "Calls refused before they started.", ["reason"])
TURN_LATENCY = Histogram(
    "voicebot_turn_latency_seconds",
    "Per-turn latency by pipeline stage (response: end of the caller's words to the first bot audio).",
    ["stage", "mode", "provider"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_FAILURES = Counter(
    "voicebot_provider_failures", "Speech provider requests that failed (after their retry).", ["provider", "kind"]
)
PROVIDER_FALLBACKS = Counter(
    "voicebot_provider_fallbacks", "Turns a fallback engine served after a provider failed.", ["provider", "fallback"]
)
BREAKER_OPEN = Gauge(
    "voicebot_breaker_open",
    "1 while a cloud vendor's circuit breaker is open in some worker (from opening until a request succeeds).",
    ["vendor"],
    multiprocess_mode="livemax",
)
CALL_DURATION = Histogram(
    "voicebot_call_duration_seconds", "Length of ended calls, from connect to end.", ["bot", "outcome"],
    buckets=DURATION_BUCKETS,
)
OUTCOMES_REPLACED = Counter(
    "voicebot_call_outcomes_replaced",
    "Provisional ends (carrier callback, stale-call sweep, drain) replaced by the call's own end; "
    "the call also counts in voicebot_calls_total under each.",
    ["from_outcome", "to_outcome"],
)
ANSWERS = Counter("voicebot_answers", "Answers heard, by question and whether they were understood.",
                  ["bot", "question", "understood"])

#: What can be lost, each logged with its call id where it happens (GUIDE: nothing is lost silently):
#: a caller turn dropped because MAX_QUEUED_TURNS were waiting (calls/runtime/turns.py); a row
#: dropped because STORE_MAX_PENDING writes were waiting, given up after STORE_OUTAGE_S of
#: database outage, or refused by the database (calls/persistence/write_queue.py).
LOST_KINDS = ("caller_turn", "write_overflow", "write_outage", "write_failed")
RECORDS_LOST = Counter(
    "voicebot_records_lost", "Caller turns and call rows dropped (see the log, event records.lost, for the call).", ["what"]
)

SECOND_LISTENS = Counter(
    "voicebot_second_listens", "Second listens before a re-ask or a check, by whether the turn waited for them.",
    ["result"],
)

WEBHOOK_RESULTS = ("delivered", "retried", "failed", "gone", "refused")
WEBHOOK_DELIVERIES = Counter(
    "voicebot_webhook_deliveries",
    "Lead webhook attempts by result: delivered (2xx), retried (failed, tried again later), failed (the "
    "last retry failed), gone (410: destination disabled), refused (private address, no URL).",
    ["result"],
)
CAMPAIGN_DIALS = Counter(
    "voicebot_campaign_dials",
    "Outbound campaign dials by how they were placed: placed (Twilio took it), recovered (found at Twilio after "
    "a restart), refused (Twilio said no), network (Twilio not reached), uncertain (not dialled: could not tell "
    "whether an interrupted dial reached Twilio), outside_hours (the window closed first).",
    ["result"],
)
WEBHOOK_OLDEST_UNDELIVERED = Gauge(
    "voicebot_webhook_oldest_undelivered_seconds",
    "Age of the oldest lead webhook event still waiting for an active destination (0: none).",
    multiprocess_mode="livemax",
)
WEBHOOK_DESTINATION_FAILING = Gauge(
    "voicebot_webhook_destination_failing_seconds",
    "Seconds since an active webhook destination's first failed attempt after its last success (0: healthy).",
    ["destination"],
    multiprocess_mode="livemax",
)

for _result in WEBHOOK_RESULTS:
    WEBHOOK_DELIVERIES.labels(_result)

# Call recordings (calls/runtime/recorder.py, calls/persistence/recordings.py).
RECORDING_DROPPED = Counter(
    "voicebot_recording_dropped_seconds",
    "Seconds of call recordings left out as silence (the encoder thread was full).",
)
RECORDINGS_STORED = Counter(
    "voicebot_recordings_stored", "Recording files moved to the recordings store, by result.", ["result"]
)
RECORDINGS_WAITING = Gauge(
    "voicebot_recordings_waiting",
    "Recording files on this host's disk waiting for the recordings store (it is down, or they are uploading).",
    multiprocess_mode="livemax",
)
for _result in ("stored", "failed", "orphaned"):
    RECORDINGS_STORED.labels(_result)

for _reason in REFUSAL_REASONS:  # present at 0 from the start, so rate() and alerts see them
    REFUSED.labels(_reason)
for _what in LOST_KINDS:
    RECORDS_LOST.labels(_what)


# ---------------------------------------------------------------- hooks


def call_started(bot: str, channel: str) -> None:
    CALLS_ACTIVE.labels(bot, channel).inc()


def call_left(bot: str, channel: str) -> None:
    """The call's pipeline stopped in this process (pairs with `call_started`)."""
    CALLS_ACTIVE.labels(bot, channel).dec()


def call_ended(bot: str, outcome: str, reason: str, duration_s: float | None) -> None:
    """The call's outcome was stored (once per call; twice when a provisional end was
    replaced by the call's own, see `outcome_replaced`)."""
    CALLS.labels(bot, outcome, _reason_label(reason)).inc()
    if duration_s is not None:
        CALL_DURATION.labels(bot, outcome).observe(max(0.0, duration_s))


def outcome_replaced(from_outcome: str, to_outcome: str) -> None:
    """A provisional end was replaced by the call's own end (calls.persistence.lifecycle.replaces)."""
    OUTCOMES_REPLACED.labels(from_outcome, to_outcome).inc()


def refused(reason: str) -> None:
    """A call was refused: `busy`, `rate_limited`, `too_many_calls`, `bad_token` or `unavailable` (no database)."""
    REFUSED.labels(reason).inc()


def turn_latency(mode: str, stages_ms: Mapping[str, float | None], providers: Mapping[str, str]) -> None:
    """One turn's stage latencies in milliseconds (as stored in LatencySample)."""
    for stage, ms in stages_ms.items():
        if ms is not None:
            TURN_LATENCY.labels(stage, mode, providers.get(stage, "") or "none").observe(ms / 1000)


def provider_failed(provider: str, kind: str, fallback: str | None = None) -> None:
    """A provider request failed (`kind`: ProviderError.kind); `fallback` names the engine taking over, if any."""
    PROVIDER_FAILURES.labels(provider, kind).inc()
    if fallback:
        PROVIDER_FALLBACKS.labels(provider, fallback).inc()


def breaker_state(vendor: str, is_open: bool) -> None:
    BREAKER_OPEN.labels(vendor).set(1 if is_open else 0)


def second_listen(result: str) -> None:
    """A turn took a second listen (`used`) or did not wait for it past its budget (`late`)."""
    SECOND_LISTENS.labels(result).inc()


def records_lost(what: str, count: int = 1) -> None:
    """`count` caller turns or call rows were dropped (`what`: one of LOST_KINDS)."""
    RECORDS_LOST.labels(what).inc(count)


def answer_heard(bot: str, question: str, understood: bool) -> None:
    ANSWERS.labels(bot, question, "true" if understood else "false").inc()


def webhook_delivery(result: str) -> None:
    """A webhook attempt was recorded (`result`: one of WEBHOOK_RESULTS)."""
    WEBHOOK_DELIVERIES.labels(result).inc()


def campaign_dial(result: str) -> None:
    """A campaign dial was recorded (see CAMPAIGN_DIALS)."""
    CAMPAIGN_DIALS.labels(result).inc()


def webhook_oldest_undelivered(seconds: float) -> None:
    WEBHOOK_OLDEST_UNDELIVERED.set(max(0.0, seconds))


def webhook_destination_failing(destination: str, seconds: float) -> None:
    WEBHOOK_DESTINATION_FAILING.labels(destination[:60]).set(max(0.0, seconds))

def recording_dropped(seconds: float) -> None:
    RECORDING_DROPPED.inc(seconds)


def recording_upload(result: str, waiting: int | None = None) -> None:
    """A recording file's upload: `stored`, `failed` (retried later) or `orphaned` (its call is gone)."""
    RECORDINGS_STORED.labels(result).inc()
    if waiting is not None:
        RECORDINGS_WAITING.set(waiting)


def _reason_label(reason: str) -> str:
    """End reasons as stored ("not_qualified:budget"); cut to 40 characters like the column."""
    return (reason or "none")[:40]


# ---------------------------------------------------------------- exposition


def multiproc_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def remove_dead_workers(path: str) -> list[int]:
    """Drop the live gauges of worker processes that no longer exist; returns their pids."""
    dead = set()
    for name in glob.glob(os.path.join(path, "gauge_live*_*.db")):
        match = _LIVE_FILE.match(os.path.basename(name))
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, path)
    return sorted(dead)


def exposition(path: str | None = None) -> tuple[bytes, str]:
    """The metrics page: every worker's values in multiprocess mode, else this process's."""
    path = multiproc_dir() if path is None else path
    if path:
        remove_dead_workers(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
