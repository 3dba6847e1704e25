"""Latency percentiles shared by `manage.py latency_report` and the dashboard.

Percentiles are computed in Python from raw samples fetched in one query, not
in SQL: SQLite has no percentile function and PostgreSQL's percentile_cont
would need a second code path that could drift from the first. Interpolation
is numpy.percentile's default ("linear"), so the figures match what anyone
computes from an export of the same rows.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db.models import QuerySet
from django.utils import timezone

from calls.models import LatencySample

#: Pipeline order, which is also the order every report lists stages in.
STAGES: tuple[str, ...] = tuple(LatencySample.Stage.values)

Bucket = Literal["hour", "day"]


def percentile(values: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """The q-th percentile (0-100) with linear interpolation, like numpy.percentile."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    ordered = values if presorted else sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """Distribution of one stage's latencies, in milliseconds."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(values: Iterable[float]) -> Summary | None:
    """Count, mean and p50/p95/p99 of `values`; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return Summary(
        count=len(ordered),
        mean=sum(ordered) / len(ordered),
        p50=percentile(ordered, 50, presorted=True),
        p95=percentile(ordered, 95, presorted=True),
        p99=percentile(ordered, 99, presorted=True),
    )


@dataclass(frozen=True)
class Sample:
    stage: str
    ms: float
    provider: str
    bot: str
    created_at: datetime


def load_samples(
    queryset: QuerySet[LatencySample] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    bot_id: int | None = None,
    stages: Sequence[str] | None = None,
) -> list[Sample]:
    """Fetch the matching samples in a single query (no per-call lookups)."""
    qs = LatencySample.objects.all() if queryset is None else queryset
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if bot_id is not None:
        qs = qs.filter(call__bot_id=bot_id)
    if stages is not None:
        qs = qs.filter(stage__in=stages)
    rows = qs.order_by().values_list("stage", "ms", "provider", "call__bot__slug", "created_at")
    return [Sample(*row) for row in rows]


StageSummaries = dict[str, Summary]


def by_stage(samples: Iterable[Sample]) -> StageSummaries:
    """Stage -> Summary, in pipeline order, leaving out stages with no samples."""
    values: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        values[sample.stage].append(sample.ms)
    return {stage: summary for stage in _ordered_stages(values) if (summary := summarize(values[stage]))}


def grouped(samples: Iterable[Sample], key: Callable[[Sample], str]) -> dict[str, StageSummaries]:
    """Group name -> stage summaries, groups sorted by name."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[key(sample)].append(sample)
    return {name: by_stage(groups[name]) for name in sorted(groups)}


@dataclass(frozen=True)
class Report:
    """Everything `latency_report` prints: overall, per bot and per provider."""

    overall: StageSummaries
    by_bot: dict[str, StageSummaries]
    by_provider: dict[str, StageSummaries]

    @property
    def count(self) -> int:
        return sum(summary.count for summary in self.overall.values())


def build_report(samples: Sequence[Sample]) -> Report:
    return Report(
        overall=by_stage(samples),
        by_bot=grouped(samples, lambda s: s.bot),
        by_provider=grouped(samples, lambda s: s.provider or "(unknown)"),
    )


@dataclass(frozen=True)
class TimeBucket:
    start: datetime
    count: int
    p50: float
    p95: float


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """Start of the hour or (local) day containing `moment`."""
    local = timezone.localtime(moment)
    if bucket == "day":
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.replace(minute=0, second=0, microsecond=0)


def bucket_width(bucket: Bucket) -> timedelta:
    return timedelta(days=1) if bucket == "day" else timedelta(hours=1)


def over_time(samples: Iterable[Sample], bucket: Bucket) -> list[TimeBucket]:
    """p50/p95 per hour or day bucket, oldest first; empty buckets are left out."""
    values: dict[datetime, list[float]] = defaultdict(list)
    for sample in samples:
        values[bucket_start(sample.created_at, bucket)].append(sample.ms)
    result = []
    for start in sorted(values):
        ordered = sorted(values[start])
        result.append(
            TimeBucket(
                start=start,
                count=len(ordered),
                p50=percentile(ordered, 50, presorted=True),
                p95=percentile(ordered, 95, presorted=True),
            )
        )
    return result


def _ordered_stages(names: Iterable[str]) -> list[str]:
    """Known stages in pipeline order, then any unknown ones alphabetically."""
    present = set(names)
    return [s for s in STAGES if s in present] + sorted(present - set(STAGES))
