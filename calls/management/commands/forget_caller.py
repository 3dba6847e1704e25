"""Forget one caller: every call from or to a phone number, with its recording, transcript and answers.

    manage.py forget_caller +91 98765 43210
    manage.py forget_caller +919876543210 --dry-run     # count only

Callers have the right to have what they said erased (the Indian DPDP Act, GDPR).
The number is matched by its digits: spaces, dashes, brackets, dots and a leading
"+" are ignored on both sides ("+91 98765-43210" is "919876543210"), nothing else
is guessed (a national "098765 43210" is another number). Every matching call is
deleted with everything in it: the recording file in the store (and any still on
this host's disk), the transcript, the answers and the latency figures. The
command says what it removed; a recording the store would not delete keeps its
call, so running the command again finishes the job.
"""
from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import F, Func, QuerySet, Value

from calls.models import Answer, Call, LatencySample, Turn
from calls.persistence.recordings import delete_recordings

log = logging.getLogger(__name__)

IGNORED = (" ", "-", "(", ")", ".", "+")


def digits_of(number: str) -> str:
    for char in IGNORED:
        number = number.replace(char, "")
    return number


def calls_of(number: str) -> QuerySet[Call]:
    """Calls whose caller_phone has the same digits as `number`."""
    stored: Any = F("caller_phone")
    for char in IGNORED:
        stored = Func(stored, Value(char), Value(""), function="REPLACE")
    return Call.objects.alias(phone_digits=stored).filter(phone_digits=digits_of(number))


class Command(BaseCommand):
    help = "Delete every call, recording, transcript and answer of one phone number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", nargs="+", help="The phone number, e.g. +91 98765 43210.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be removed; remove nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        number = " ".join(options["number"])
        digits = digits_of(number)
        if not digits.isdigit() or len(digits) < 6:
            raise CommandError(f"{number!r} is not a phone number (digits, spaces, dashes, brackets and + only).")
        calls = calls_of(number)
        counts = {
            "calls": calls.count(),
            "recordings": calls.exclude(recording="").count(),
            "transcript lines": Turn.objects.filter(call__in=calls).count(),
            "answers": Answer.objects.filter(call__in=calls).count(),
            "latency samples": LatencySample.objects.filter(call__in=calls).count(),
        }
        if not counts["calls"]:
            self.stdout.write(f"No calls from or to {number}: nothing to remove.")
            return
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        if options["dry_run"]:
            self.stdout.write(f"Would remove, for {number}: {summary}.")
            return
        _, failed = delete_recordings(calls)
        with transaction.atomic():
            calls.exclude(pk__in=failed).delete()
        log.info("forget_caller removed %d calls (%d kept: their recordings could not be deleted)",
                 counts["calls"] - len(failed), len(failed), extra={"event": "caller.forgotten"})
        if failed:
            raise CommandError(
                f"Removed part of it; {len(failed)} recording(s) could not be deleted from the store, so their "
                f"calls were kept: run the command again when the store answers."
            )
        self.stdout.write(f"Removed, for {number}: {summary}.")
