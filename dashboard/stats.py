"""Per-bot numbers for the stats page: the qualification funnel and latency over time.

The funnel answers "where do callers drop out?": of the calls that started,
how many passed question 1, then question 2, ... and finally qualified. The
dialogue stops at the first answer that does not qualify, so "passed question
n" is the number of calls whose answer to question n qualifies. All steps come
from one aggregate query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from bots.models import Bot
from calls.models import Call, LatencySample
from calls.persistence.latency_stats import (
    Bucket,
    StageSummaries,
    TimeBucket,
    by_stage,
    load_samples,
    over_time,
)


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    percent: float  # of calls started


def funnel(bot: Bot, since: datetime | None = None) -> list[FunnelStep]:
    """The bot's calls started -> passed each question (in script order) -> qualified."""
    calls = Call.objects.filter(bot=bot).exclude(status=Call.Status.CREATED)
    if since is not None:
        calls = calls.filter(created_at__gte=since)
    return funnel_of(bot, calls)


def funnel_of(bot: Bot, calls: QuerySet[Call], first_label: str = "Calls started") -> list[FunnelStep]:
    """`calls` (of `bot`) -> passed each of its questions -> qualified, in one aggregate query.
    The bot page passes its calls of a period, a campaign page the calls its leads answered."""
    questions = list(bot.questions.order_by("order", "id").values_list("key", "prompt"))
    passed = {
        f"q{i}": Count("pk", filter=Q(answers__question_key=key, answers__qualifies=True), distinct=True)
        for i, (key, _prompt) in enumerate(questions)
    }
    totals = calls.aggregate(
        started=Count("pk", distinct=True),
        qualified=Count("pk", filter=Q(outcome=Call.Outcome.QUALIFIED), distinct=True),
        **passed,
    )
    started = totals["started"]
    labelled = [(first_label, started)]
    labelled += [(f"Passed Q{i + 1}: {key}", totals[f"q{i}"]) for i, (key, _prompt) in enumerate(questions)]
    labelled.append((bot.qualified_label.capitalize(), totals["qualified"]))
    return [FunnelStep(label, count, 100 * count / started if started else 0.0) for label, count in labelled]


@dataclass(frozen=True)
class LatencyOverview:
    start: datetime
    end: datetime
    bucket: Bucket
    buckets: list[TimeBucket]
    stages: StageSummaries


def latency_overview(bot: Bot, days: int, now: datetime | None = None) -> LatencyOverview:
    """Response-time p50/p95 per bucket (hourly up to two days, daily beyond) and stage summaries."""
    end = now or timezone.now()
    start = end - timedelta(days=days)
    bucket: Bucket = "hour" if days <= 2 else "day"
    samples = load_samples(since=start, until=end, bot_id=bot.pk)
    response = [s for s in samples if s.stage == LatencySample.Stage.RESPONSE]
    return LatencyOverview(
        start=start, end=end, bucket=bucket, buckets=over_time(response, bucket), stages=by_stage(samples)
    )
