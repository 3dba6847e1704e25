"""Print latency percentiles per pipeline stage: overall, per bot, provider, call mode and channel.

The stored LatencySample rows are the ground truth for "is the bot fast
enough": this command turns them into p50/p95/p99 without a BI tool, in a
terminal table, JSON (for scripts and CI) or CSV (for spreadsheets), and can
plot the distributions with matplotlib. Push-to-talk and hands-free calls have
different floors (hands-free waits for the end of speech), hence the split by
mode and `--mode`. The database computes the percentiles (calls.persistence.latency_stats).

    manage.py latency_report --since 24h --bot quickrupee-loan
    manage.py latency_report --mode vad --since 7d
    manage.py latency_report --since 2025-01-01 --until 2025-02-01 --format json
    manage.py latency_report --plot var/latency.png
"""
from __future__ import annotations

import csv
import json
import re
from datetime import datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from bots.models import Bot
from calls.models import Call
from calls.persistence.latency_stats import (
    STAGES,
    Report,
    Sample,
    StageSummaries,
    database_report,
    filtered,
    load_samples,
)

RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
METRICS = ("count", "mean", "p50", "p95", "p99")


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """`24h`, `7d`, `30m`, `2w` (ago), an ISO date (its midnight) or an ISO datetime."""
    now = now or timezone.now()
    if match := RELATIVE.match(text):
        amount, unit = match.groups()
        return now - timedelta(**{UNITS[unit.lower()]: int(amount)})
    try:
        moment = parse_datetime(text)
        if moment is None and (day := parse_date(text)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError as exc:  # well-formed but impossible, e.g. 2025-02-30
        raise CommandError(f"{text!r} is not a valid date: {exc}") from exc
    if moment is None:
        raise CommandError(f"{text!r} is neither a date/datetime (ISO 8601) nor a relative time like 24h or 7d.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = ("Latency percentiles (count, mean, p50, p95, p99) per stage: overall, per bot, provider, "
            "call mode (push-to-talk / hands-free) and channel (web / phone); computed in the database.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Start: ISO date/datetime, or relative like 24h, 7d.")
        parser.add_argument("--until", help="End (exclusive): ISO date/datetime, or relative like 1h.")
        parser.add_argument("--bot", metavar="SLUG", help="Only calls of this bot.")
        parser.add_argument("--mode", choices=Call.Mode.values,
                            help="Only calls in this mode (hands-free 'vad' includes endpointing in its response time).")
        parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
        parser.add_argument("--plot", metavar="FILE", help="Also save a box plot per stage (.png, .svg, .pdf).")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        since = parse_moment(options["since"], now) if options["since"] else None
        until = parse_moment(options["until"], now) if options["until"] else None
        if since and until and since >= until:
            raise CommandError("--since must be before --until.")
        bot = None
        if options["bot"]:
            bot = Bot.objects.filter(slug=options["bot"]).first()
            if bot is None:
                known = ", ".join(Bot.objects.order_by("slug").values_list("slug", flat=True))
                raise CommandError(f"Unknown bot {options['bot']!r}. Known bots: {known or 'none'}.")

        selection = dict(since=since, until=until, bot_id=bot.pk if bot else None, mode=options["mode"])
        report = database_report(filtered(**selection))
        filters = {
            "since": since.isoformat(timespec="seconds") if since else None,
            "until": until.isoformat(timespec="seconds") if until else None,
            "bot": bot.slug if bot else None,
            "mode": options["mode"],
        }
        if not report.count:
            message = "No latency samples match " + describe_filters(filters) + "."
            if options["format"] == "table":
                self.stdout.write(message)
            else:
                self.stderr.write(message)
        writer = {"table": self.write_table, "json": self.write_json, "csv": self.write_csv}[options["format"]]
        if report.count or options["format"] != "table":
            writer(report, filters)
        if options["plot"]:
            if report.count:  # a box plot needs the samples themselves
                plot(load_samples(**selection), options["plot"], title="Latency per stage " + describe_filters(filters))
                self.stderr.write(f"Plot saved to {options['plot']}")
            else:
                self.stderr.write("Nothing to plot.")

    # --- output formats

    def write_table(self, report: Report, filters: dict[str, str | None]) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(
            f"Latency report: {report.count} samples {describe_filters(filters)}"
        ))
        self.stdout.write("All values in milliseconds.")
        sections = [("Overall", {"": report.overall}), ("By bot", report.by_bot), ("By provider", report.by_provider),
                    ("By mode", report.by_mode), ("By channel", report.by_channel)]
        for heading, groups in sections:
            self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(heading))
            for name, stages in groups.items():
                if name:
                    self.stdout.write(f"  {name}")
                self.stdout.write(format_table(stages, indent="    " if name else "  "))

    def write_json(self, report: Report, filters: dict[str, str | None]) -> None:
        def as_json(stages: StageSummaries) -> dict[str, dict[str, float]]:
            return {stage: summary.as_dict() for stage, summary in stages.items()}

        data = {
            "unit": "ms",
            "filters": filters,
            "count": report.count,
            "overall": as_json(report.overall),
            "by_bot": {name: as_json(stages) for name, stages in report.by_bot.items()},
            "by_provider": {name: as_json(stages) for name, stages in report.by_provider.items()},
            "by_mode": {name: as_json(stages) for name, stages in report.by_mode.items()},
            "by_channel": {name: as_json(stages) for name, stages in report.by_channel.items()},
        }
        self.stdout.write(json.dumps(data, indent=2))

    def write_csv(self, report: Report, filters: dict[str, str | None]) -> None:
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["group", "name", "stage", "count", "mean_ms", "p50_ms", "p95_ms", "p99_ms"])
        rows = [("overall", "all", report.overall)]
        rows += [("bot", name, stages) for name, stages in report.by_bot.items()]
        rows += [("provider", name, stages) for name, stages in report.by_provider.items()]
        rows += [("mode", name, stages) for name, stages in report.by_mode.items()]
        rows += [("channel", name, stages) for name, stages in report.by_channel.items()]
        for group, name, stages in rows:
            for stage, s in stages.items():
                writer.writerow([group, name, stage, s.count, *(f"{v:.2f}" for v in (s.mean, s.p50, s.p95, s.p99))])


def describe_filters(filters: dict[str, str | None]) -> str:
    parts = [f"since {filters['since']}" if filters["since"] else "from the start"]
    parts.append(f"until {filters['until']}" if filters["until"] else "until now")
    if filters["bot"]:
        parts.append(f"for bot {filters['bot']}")
    if filters.get("mode"):
        parts.append(f"mode {filters['mode']}")
    return "(" + ", ".join(parts) + ")"


def format_table(stages: StageSummaries, indent: str = "  ") -> str:
    """Right-aligned fixed columns so a terminal lines the numbers up."""
    header = f"{'stage':<16}{'count':>8}" + "".join(f"{name + ' ms':>11}" for name in METRICS[1:])
    lines = [indent + header, indent + "-" * len(header)]
    for stage, s in stages.items():
        numbers = "".join(f"{v:>11.1f}" for v in (s.mean, s.p50, s.p95, s.p99))
        lines.append(f"{indent}{stage:<16}{s.count:>8}{numbers}")
    return "\n".join(lines)


def plot(samples: list[Sample], path: str, *, title: str) -> None:
    """Box plot per stage (whiskers at p5/p95), saved to `path`; format from the extension."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    values = {stage: [s.ms for s in samples if s.stage == stage] for stage in STAGES}
    stages = [stage for stage in STAGES if values[stage]]
    figure, axes = pyplot.subplots(figsize=(8, 4.5), layout="constrained")
    try:
        axes.boxplot([values[s] for s in stages], whis=(5, 95), showmeans=True)
        axes.set_xticks(range(1, len(stages) + 1), [f"{s}\n(n={len(values[s])})" for s in stages])
        axes.set_ylabel("milliseconds")
        axes.set_title(title, fontsize=9)
        axes.grid(axis="y", alpha=0.3)
        figure.savefig(path)
    finally:
        pyplot.close(figure)
