"""The lead list's query and how a call reads to a sales agent.

Shared by the list view, the CSV export and the live WebSocket row, so that a
row pushed live looks exactly like the one the page rendered, and the export
holds exactly the rows the agent filtered.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.template.loader import render_to_string
from django.utils import timezone

from calls.models import Call

# What a sales agent needs (the "Sales agents" group has both; calls migration 0004).
VIEW_PERM = "calls.view_call"
CHANGE_PERM = "calls.change_call"
# Hearing a call's recording is granted on its own (not part of the "Sales agents" group).
LISTEN_PERM = "calls.listen_recording"


def lead_queryset() -> QuerySet[Call]:
    """Qualified leads first, then newest first; the bot comes in the same query.

    Calls created but never connected whose token has expired are not leads:
    nobody can join them any more."""
    expired = timezone.now() - timedelta(seconds=settings.CALL_TOKEN_MAX_AGE)
    return (
        Call.objects.select_related("bot")
        .exclude(status=Call.Status.CREATED, created_at__lt=expired)
        .annotate(
            qualified_first=Case(
                When(outcome=Call.Outcome.QUALIFIED, then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("qualified_first", "-created_at")
    )


@dataclass(frozen=True)
class Outcome:
    code: str  # "" while the call runs
    label: str
    transfer: bool


def outcome_of(call: Call) -> Outcome:
    """Qualified calls show the bot's own label ("hot lead"), others the outcome name."""
    if call.outcome == Call.Outcome.QUALIFIED:
        return Outcome(call.outcome, call.bot.qualified_label, call.bot.transfer_on_qualified)
    if call.outcome:
        return Outcome(call.outcome, call.get_outcome_display().lower(), False)
    return Outcome("", "in progress" if call.status == Call.Status.ACTIVE else "not started", False)


@dataclass(frozen=True)
class Callback:
    due_at: datetime
    text: str
    overdue: bool


def callback_of(call: Call, now: datetime | None = None) -> Callback | None:
    """The promised callback, only while nobody has picked the lead up (lead status new)."""
    if call.callback_due_at is None or call.lead_status != Call.LeadStatus.NEW:
        return None
    now = now or timezone.now()
    seconds = (call.callback_due_at - now).total_seconds()
    overdue = seconds < 0
    span = _minutes_text(math.floor(-seconds / 60) if overdue else math.ceil(seconds / 60))
    return Callback(call.callback_due_at, f"overdue by {span}" if overdue else f"due in {span}", overdue)


def _minutes_text(minutes: int) -> str:
    minutes = max(minutes, 1)
    if minutes < 90:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def render_row(call: Call) -> str:
    """The <tr> of one lead, as in the list page."""
    return render_to_string("dashboard/_lead_row.html", {"call": call})
