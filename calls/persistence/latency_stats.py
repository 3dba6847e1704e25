"""Latency percentiles shared by `manage.py latency_report` and the dashboard.

The report computes its percentiles in the database, so a year of samples is
never loaded into Python: PostgreSQL with `percentile_cont`, SQLite (which has
no percentile function) with window functions that pick the two ranked samples
around each percentile and interpolate between them. Both interpolate linearly
like numpy.percentile's default, and `calls.percentile` does the same in Python
for the dashboard's small windows, so every figure matches what anyone computes from
an export of the same rows.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import connection
from django.db.models import CharField, F, QuerySet, Value
from django.utils import timezone

from calls.models import LatencySample
from calls.percentile import percentile

#: Pipeline order, which is also the order every report lists stages in.
STAGES: tuple[str, ...] = tuple(LatencySample.Stage.values)

Bucket = Literal["hour", "day"]


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


def filtered(
    queryset: QuerySet[LatencySample] | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    bot_id: int | None = None,
    stages: Sequence[str] | None = None,
    mode: str | None = None,
) -> QuerySet[LatencySample]:
    """The samples matching the filters (`mode`: the call's mode)."""
    qs = LatencySample.objects.all() if queryset is None else queryset
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if bot_id is not None:
        qs = qs.filter(call__bot_id=bot_id)
    if stages is not None:
        qs = qs.filter(stage__in=stages)
    if mode is not None:
        qs = qs.filter(call__mode=mode)
    return qs


def load_samples(queryset: QuerySet[LatencySample] | None = None, **filters: Any) -> list[Sample]:
    """Fetch the matching samples in a single query (no per-call lookups): for small windows and plots."""
    rows = filtered(queryset, **filters).order_by().values_list("stage", "ms", "provider", "call__bot__slug", "created_at")
    return [Sample(*row) for row in rows]


StageSummaries = dict[str, Summary]


def by_stage(samples: Iterable[Sample]) -> StageSummaries:
    """Stage -> Summary, in pipeline order, leaving out stages with no samples."""
    values: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        values[sample.stage].append(sample.ms)
    return {stage: summary for stage in _ordered_stages(values) if (summary := summarize(values[stage]))}


@dataclass(frozen=True)
class Report:
    """Everything `latency_report` prints: overall, then per bot, provider, call mode and channel."""

    overall: StageSummaries
    by_bot: dict[str, StageSummaries]
    by_provider: dict[str, StageSummaries]
    by_mode: dict[str, StageSummaries]
    by_channel: dict[str, StageSummaries]

    @property
    def count(self) -> int:
        return sum(summary.count for summary in self.overall.values())


#: Report section -> the sample's field it groups by (None: all samples together).
GROUPINGS: dict[str, str | None] = {
    "overall": None,
    "by_bot": "call__bot__slug",
    "by_provider": "provider",
    "by_mode": "call__mode",
    "by_channel": "call__channel",
}
QUANTILES = (0.5, 0.95, 0.99)


def database_report(queryset: QuerySet[LatencySample]) -> Report:
    """The report of `queryset`, one aggregate query per section, percentiles computed by the database."""
    sections = {name: summaries_in_database(queryset, field) for name, field in GROUPINGS.items()}
    overall = sections.pop("overall").get("", {})
    if "by_provider" in sections and "" in sections["by_provider"]:
        sections["by_provider"]["(unknown)"] = sections["by_provider"].pop("")
    return Report(overall=overall, **sections)


def summaries_in_database(queryset: QuerySet[LatencySample], field: str | None) -> dict[str, StageSummaries]:
    """Group (by `field`) -> stage -> Summary; groups sorted by name, stages in pipeline order."""
    group = F(field) if field else Value("", output_field=CharField())
    base = queryset.order_by().annotate(grp=group, stg=F("stage"), val=F("ms")).values_list("grp", "stg", "val")
    sql, params = base.query.sql_with_params()
    query = _PERCENTILE_CONT_SQL if connection.vendor == "postgresql" else _WINDOW_SQL
    with connection.cursor() as cursor:
        cursor.execute(query.format(base=sql), params)
        rows = cursor.fetchall()
    found: dict[str, dict[str, Summary]] = defaultdict(dict)
    for grp, stage, count, mean, p50, p95, p99 in rows:
        found[grp or ""][stage] = Summary(count=int(count), mean=float(mean), p50=float(p50), p95=float(p95), p99=float(p99))
    return {name: {stage: found[name][stage] for stage in _ordered_stages(found[name])} for name in sorted(found)}


_PERCENTILE_CONT_SQL = (
    "SELECT grp, stg, COUNT(*), AVG(val), "
    + ", ".join(f"percentile_cont({q}) WITHIN GROUP (ORDER BY val)" for q in QUANTILES)
    + " FROM ({base}) AS samples GROUP BY grp, stg"
)


def _window_percentile(q: float) -> str:
    """Linear interpolation between the samples ranked floor((n-1)q) and the next one
    (SQLite's CAST truncates, which is floor for these non-negative positions)."""
    position = f"((MAX(n) - 1) * {q})"
    low = f"MAX(CASE WHEN i = CAST((n - 1) * {q} AS INTEGER) THEN val END)"
    high = f"COALESCE(MAX(CASE WHEN i = CAST((n - 1) * {q} AS INTEGER) + 1 THEN val END), {low})"
    return f"{low} + ({high} - {low}) * ({position} - CAST({position} AS INTEGER))"


_WINDOW_SQL = (
    "SELECT grp, stg, MAX(n), AVG(val), "
    + ", ".join(_window_percentile(q) for q in QUANTILES)
    + " FROM (SELECT grp, stg, val,"
    " ROW_NUMBER() OVER (PARTITION BY grp, stg ORDER BY val) - 1 AS i,"
    " COUNT(*) OVER (PARTITION BY grp, stg) AS n"
    " FROM ({base}) AS samples) AS ranked GROUP BY grp, stg"
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
