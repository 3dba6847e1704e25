"""Keep stored data bounded: delete old calls, or only what the caller said in them.

    manage.py prune_calls --older-than 90d                      # calls, turns, answers, latency
    manage.py prune_calls --older-than 30d --transcripts-only   # keep the calls, drop the caller's words
    manage.py prune_calls --older-than 90d --dry-run            # count only

Recordings: the calls deleted take their recording files with them (from the
recordings store, `calls.persistence.recordings`), and on every run the
recordings of calls older than RECORDING_RETENTION_DAYS are deleted (the calls
stay). A file the store would not delete keeps its call for the next run, and
the command exits non-zero saying so.

A call is old when it was created before the cutoff. `--transcripts-only` keeps
every call, outcome, answer value and latency figure (the reports and the lead
dashboard still work) and blanks what was derived from the caller's audio: the
caller's turns and each answer's transcript. Work goes in batches, each in its
own transaction, so a big backlog never holds one long lock.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from calls.management.commands.latency_report import parse_moment
from calls.models import Answer, Call, LatencySample, Turn
from calls.persistence.recordings import delete_recordings

BATCH = 500


class Command(BaseCommand):
    help = "Delete calls older than a cutoff (or, with --transcripts-only, only the caller's transcripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, metavar="AGE",
                            help="e.g. 90d, 12w, 36h (ago), or an ISO date: calls created before it.")
        parser.add_argument("--transcripts-only", action="store_true",
                            help="Keep the calls; blank the caller's turns and answer transcripts.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")
        parser.add_argument("--batch", type=int, default=BATCH, help=f"Calls per transaction (default {BATCH}).")

    def handle(self, *args: Any, **options: Any) -> None:
        self.kept_recordings = 0
        self._handle(**options)
        if self.kept_recordings:
            raise CommandError(f"{self.kept_recordings} recording(s) could not be deleted from the store (see the "
                               "log); they and their calls were kept for the next run, everything else was done.")

    def _handle(self, **options: Any) -> None:
        now = timezone.now()
        cutoff = parse_moment(options["older_than"], now)
        if cutoff >= now:
            raise CommandError("--older-than must be in the past.")
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1.")
        self._expire_recordings(now, options["dry_run"])
        old = Call.objects.filter(created_at__lt=cutoff)
        when = cutoff.isoformat(timespec="seconds")
        if options["transcripts_only"]:
            turns = Turn.objects.filter(call__in=old, speaker=Turn.Speaker.CALLER).exclude(text="")
            answers = Answer.objects.filter(call__in=old).exclude(transcript="")
            if options["dry_run"]:
                self.stdout.write(f"Would blank {turns.count()} caller turns and {answers.count()} answer "
                                  f"transcripts of calls created before {when}.")
                return
            blanked_turns = blanked_answers = 0
            for ids in self._batches(old, options["batch"]):
                with transaction.atomic():
                    blanked_turns += turns.filter(call_id__in=ids).update(text="")
                    blanked_answers += answers.filter(call_id__in=ids).update(transcript="")
            self.stdout.write(f"Blanked {blanked_turns} caller turns and {blanked_answers} answer transcripts "
                              f"of calls created before {when}.")
            return
        counts = {
            "calls": old.count(),
            "turns": Turn.objects.filter(call__in=old).count(),
            "answers": Answer.objects.filter(call__in=old).count(),
            "latency samples": LatencySample.objects.filter(call__in=old).count(),
            "recordings": old.exclude(recording="").count(),
        }
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        if options["dry_run"]:
            self.stdout.write(f"Would delete {summary} (calls created before {when}).")
            return
        kept: list[str] = []
        for ids in self._batches(old, options["batch"]):
            _, failed = delete_recordings(Call.objects.filter(pk__in=ids))
            kept += failed
            with transaction.atomic():
                Call.objects.filter(pk__in=ids).exclude(pk__in=failed).delete()
        self.kept_recordings += len(kept)
        self.stdout.write(f"Deleted {summary} (calls created before {when}).")

    def _expire_recordings(self, now: datetime, dry_run: bool) -> None:
        """Recordings older than RECORDING_RETENTION_DAYS go; their calls stay."""
        days = settings.RECORDING_RETENTION_DAYS
        if not days:
            return
        expired = Call.objects.filter(created_at__lt=now - timedelta(days=days)).exclude(recording="")
        if dry_run:
            self.stdout.write(f"Would delete {expired.count()} recordings older than {days} days.")
            return
        deleted, failed = delete_recordings(expired)
        self.stdout.write(f"Deleted {deleted} recordings older than {days} days.")
        self.kept_recordings += len(failed)

    @staticmethod
    def _batches(calls: QuerySet[Call], size: int) -> Iterator[list[Any]]:
        """Lists of at most `size` call ids, in id order (keyset pages: deleting rows does not shift them)."""
        last = None
        while True:
            page = calls.order_by("pk") if last is None else calls.filter(pk__gt=last).order_by("pk")
            ids = list(page.values_list("pk", flat=True)[:size])
            if not ids:
                return
            last = ids[-1]
            yield ids
