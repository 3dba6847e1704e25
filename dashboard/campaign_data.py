"""The campaign pages' numbers and rows: progress by lead state, the funnel of the calls a
campaign's leads answered, and its leads with the outcome of their latest call.

Shared by the pages, the progress JSON the campaign page polls and the CSV export, so the
page, its live counts and the export agree. Every function is a fixed number of queries
whatever the campaign's size (a GROUP BY for the counts, one aggregate for the funnel,
subqueries for each lead's latest call), and none runs per call or per audio frame: the
counts are read when a page asks for them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery, UUIDField

from calls.models import Call
from campaigns.models import FINAL_STATES, Attempt, Campaign, Lead
from campaigns.outcomes import REASON_VOICEMAIL
from dashboard import stats
from dashboard.csv_export import csv_value, iso

# Who may do what on the campaign pages (Django's model permissions of the campaigns app).
VIEW_CAMPAIGN = "campaigns.view_campaign"
CHANGE_CAMPAIGN = "campaigns.change_campaign"  # start, pause, resume
VIEW_LEAD = "campaigns.view_lead"  # a lead's page and the export: names, phones, fields
ADD_LEAD = "campaigns.add_lead"  # CSV upload

S = Lead.State
# The order the progress bar and the counts read in: waiting, live, then final states.
PROGRESS_ORDER: list[str] = [
    S.QUEUED, S.DIALLING, S.IN_CALL, S.QUALIFIED, S.REJECTED, S.NO_ANSWER, S.BUSY, S.VOICEMAIL,
    S.INCOMPLETE, S.FAILED, S.DO_NOT_CALL,
]
STATE_LABELS = dict(Lead.State.choices)
EXPORT_COLUMNS = [
    "lead_id", "name", "phone", "time_zone", "state", "attempts", "last_result", "outcome", "last_call_id",
    "next_try_at", "source", "created_at", "updated_at",
]


@dataclass(frozen=True)
class Progress:
    counts: dict[str, int]  # every state of PROGRESS_ORDER, 0 when none

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(n for state, n in self.counts.items() if state in FINAL_STATES)

    @property
    def percent_done(self) -> float:
        return 100 * self.done / self.total if self.total else 0.0

    def rows(self) -> list[tuple[str, str, int]]:
        """(state, label, count) in PROGRESS_ORDER."""
        return [(state, STATE_LABELS[state], self.counts[state]) for state in PROGRESS_ORDER]


def progress_of(campaign_ids: Iterable[int]) -> dict[int, Progress]:
    """Lead counts by state of each campaign, in one GROUP BY (on the (campaign, state) index)."""
    ids = list(campaign_ids)
    counts: dict[int, dict[str, int]] = {pk: dict.fromkeys(PROGRESS_ORDER, 0) for pk in ids}
    rows = Lead.objects.filter(campaign_id__in=ids).values_list("campaign_id", "state").annotate(n=Count("pk"))
    for campaign_id, state, n in rows.order_by():
        counts[campaign_id][state] = counts[campaign_id].get(state, 0) + n
    return {pk: Progress(c) for pk, c in counts.items()}


def progress_json(campaign: Campaign, progress: Progress) -> dict[str, Any]:
    """What the campaign page polls: its state and the counts (the page renders the labels)."""
    return {
        "campaign": campaign.pk,
        "state": campaign.state,
        "state_label": campaign.get_state_display(),
        "total": progress.total,
        "done": progress.done,
        "percent_done": round(progress.percent_done, 1),
        "counts": progress.counts,
    }


def answered_calls(campaign: Campaign) -> QuerySet[Call]:
    """The calls the bot ran for the campaign's leads: connected, and not an answering machine."""
    dialled = Attempt.objects.filter(lead__campaign=campaign, call__isnull=False).values("call_id")
    return Call.objects.filter(pk__in=dialled, started_at__isnull=False).exclude(end_reason=REASON_VOICEMAIL)


def funnel(campaign: Campaign) -> list[stats.FunnelStep]:
    """The bot's funnel (dashboard.stats.funnel_of) over the calls the campaign's leads answered."""
    return stats.funnel_of(campaign.bot, answered_calls(campaign), first_label="Answered by a person")


def leads_with_outcome(campaign: Campaign) -> QuerySet[Lead]:
    """The campaign's leads, each with `outcome` and `last_call_id` from its latest attempt."""
    latest = Attempt.objects.filter(lead=OuterRef("pk")).order_by("-number")
    return Lead.objects.filter(campaign=campaign).annotate(
        outcome=Subquery(latest.values("call__outcome")[:1]),
        last_call_id=Subquery(latest.values("call_id")[:1], output_field=UUIDField()),  # dashed on SQLite too
    ).order_by("pk")


def field_keys(leads: QuerySet[Lead]) -> list[str]:
    """The extra fields' names across `leads`, in the order they first appear."""
    keys: dict[str, None] = {}
    for fields in leads.values_list("fields", flat=True).iterator(chunk_size=2000):
        if isinstance(fields, dict):
            keys.update(dict.fromkeys(fields))
    return list(keys)


def export_rows(campaign: Campaign) -> Iterator[list[Any]]:
    """The export: a header (EXPORT_COLUMNS, then one column per extra field), then a row per lead."""
    leads = leads_with_outcome(campaign)
    keys = field_keys(leads)
    yield [*EXPORT_COLUMNS, *keys]
    for lead in leads.iterator(chunk_size=2000):
        fields = lead.fields if isinstance(lead.fields, dict) else {}
        yield [
            lead.pk, lead.name, lead.phone, lead.time_zone, lead.state, lead.attempts, lead.last_result,
            lead.outcome or "", lead.last_call_id or "", iso(lead.next_try_at), lead.source, iso(lead.created_at),
            iso(lead.updated_at), *(csv_value(fields.get(key)) for key in keys),
        ]
