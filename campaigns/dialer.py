"""The dialer: which leads to dial now (the planner) and placing each dial (an outbox queue).

Durable on lead delivery's task machinery (`calls.outbox`): the planner runs as the
queue's `prepare` step in every server process's outbox runner, and writes, in one
transaction per round, each chosen lead's Attempt, its Call and a `Dial` row; the runner
claims the Dial rows and places each call through Twilio's REST API (asynchronous AMD on),
outside any transaction, and records Twilio's CallSid.

Never dialled twice at once: a lead is planned only from `queued`, and planning moves it
to `dialling` in the transaction that writes its Dial row (rows locked `FOR UPDATE SKIP
LOCKED` on PostgreSQL); it leaves `dialling` only when its dial has an outcome. A Dial row
is attempted once (no retry at the row level): if the server stopped while placing it, the
runner claims it again (released at the restart of the same WORKER_ID, or when the lease
runs out), and `perform` first asks Twilio for calls to that number since the attempt was
planned: one found is that dial (its CallSid is adopted), none means it never reached
Twilio and it is placed now; when Twilio cannot be asked the attempt fails undialled.

Paced, in each round, by all of:
- the campaign's `max_lines` (its leads dialling or in a call);
- the workers' free capacity (`calls.worker.admission.server_free_slots`) less the lines
  already ringing, so an answered call always finds a worker;
- TWILIO_CPS: dials are given slots 1/TWILIO_CPS s apart (the `Pacer` row, shared by every
  process; locked while planning, so two processes never plan at once), at most
  PLAN_AHEAD ahead; the runner wakes at the next slot;
- calling hours, in the lead's zone (`campaigns.calling_hours`); a lead outside them is
  moved to its window's next opening;
- the do-not-call list, checked in the planning transaction.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, Max, Min, OuterRef

from calls import metrics
from calls.http.tokens import make_token
from calls.models import Call
from calls.outbox.items import Result, Status
from calls.outbox.runner import OutboxQueue
from calls.persistence import lifecycle
from calls.transport.phone import twilio_rest
from calls.worker import admission
from campaigns import clock, outcomes
from campaigns.calling_hours import Window, is_open, next_opening
from campaigns.models import FINAL_STATES, LIVE_STATES, Attempt, Campaign, Dial, DoNotCall, Lead, Pacer
from campaigns.reconcile import reconcile

log = logging.getLogger(__name__)

RING_S = 300  # a dial that has not ended this long after its longest call lost its callbacks
PLAN_AHEAD = timedelta(seconds=1)  # dials are planned at most this far before their slot
OUTSIDE_BATCH = 500  # leads moved to their window's opening per round, at most
STATUS_PATH = "/telephony/twilio/campaigns/status/"
AMD_PATH = "/telephony/twilio/campaigns/amd/"
R = Attempt.Result


def window_of(campaign: Campaign) -> Window:
    return Window(campaign.hours_start, campaign.hours_end, frozenset(campaign.days))


def interval() -> timedelta:
    return timedelta(seconds=1 / settings.TWILIO_CPS)


def free_capacity(now: datetime) -> int:
    """Calls the workers can still take, less the dials whose call has not reached a worker
    yet (ringing, or answered with the stream still connecting): each will need a line."""
    coming = Attempt.objects.filter(
        ended_at__isnull=True, call__status=Call.Status.CREATED, planned_at__gte=now - live_for()
    ).count()
    return admission.server_free_slots() - coming


def live_for() -> timedelta:
    """Longer than any dial's life: ringing, then the longest call."""
    return timedelta(seconds=settings.CALL_MAX_SECONDS + RING_S)


def line_budgets() -> dict[int, int]:
    """Free lines of each running campaign (only those with one)."""
    running = dict(Campaign.objects.filter(state=Campaign.State.RUNNING).values_list("pk", "max_lines"))
    live = dict(
        Lead.objects.filter(campaign_id__in=running, state__in=LIVE_STATES).values("campaign_id")
        .annotate(n=Count("pk")).values_list("campaign_id", "n")
    )
    return {pk: lines - live.get(pk, 0) for pk, lines in running.items() if lines - live.get(pk, 0) > 0}


def plan(now: datetime) -> datetime | None:
    """One planning round: write the dials due by `now` within every limit. Returns when to
    plan again (the next dial slot or dial row due), None when nothing is waiting on time."""
    if not Campaign.objects.filter(state=Campaign.State.RUNNING).exists():
        return None
    if not twilio_rest.outbound_enabled():
        return None  # no Twilio account: nothing dials (docs/campaigns.md)
    Pacer.objects.get_or_create(pk=1)
    with transaction.atomic():
        pacer = Pacer.objects.select_for_update(skip_locked=True).filter(pk=1).first()
        if pacer is None:
            return now + interval()  # another process is planning now
        Lead.objects.filter(
            state=Lead.State.QUEUED, phone__in=DoNotCall.objects.values("phone")
        ).update(state=Lead.State.DO_NOT_CALL, next_try_at=None, updated_at=now)
        slot = max(now, pacer.next_slot or now)
        budgets = line_budgets()
        capacity = free_capacity(now)
        if budgets and capacity > 0 and slot <= now + PLAN_AHEAD:
            slot = _plan_dials(now, slot, budgets, capacity)
            pacer.next_slot = slot
            pacer.save(update_fields=["next_slot"])
        _finish_campaigns(now)
    return _next_wake(now, slot)


def _plan_dials(now: datetime, slot: datetime, budgets: dict[int, int], capacity: int) -> datetime:
    step = interval()
    slots = math.floor((now + PLAN_AHEAD - slot) / step) + 1
    wanted = min(sum(budgets.values()), capacity, slots)
    due = (
        Lead.objects.filter(state=Lead.State.QUEUED, next_try_at__lte=now, campaign_id__in=list(budgets))
        .filter(~Exists(DoNotCall.objects.filter(phone=OuterRef("phone"))))
        .select_related("campaign", "campaign__bot")
        .order_by("next_try_at", "pk")
        .select_for_update(skip_locked=True, of=("self",))
    )
    planned = 0
    for lead in due[: wanted + OUTSIDE_BATCH]:
        campaign = lead.campaign
        if budgets.get(campaign.pk, 0) <= 0:
            continue
        window = window_of(campaign)
        if not is_open(window, lead.zone, slot):
            lead.next_try_at = next_opening(window, lead.zone, slot) or now + timedelta(days=1)
            lead.save(update_fields=["next_try_at", "updated_at"])
            continue
        start_attempt(lead, slot, now)
        budgets[campaign.pk] -= 1
        planned += 1
        slot += step
        if planned >= wanted:
            break
    return slot


def start_attempt(lead: Lead, slot: datetime, now: datetime) -> Dial:
    """The lead is dialled at `slot`: its Attempt, its Call and the Dial row (in the planner's transaction)."""
    campaign = lead.campaign
    call = lifecycle.create_phone_call(campaign.bot, caller_phone=lead.phone, caller_name=lead.name)
    number = (Attempt.objects.filter(lead=lead).aggregate(n=Max("number"))["n"] or 0) + 1
    attempt = Attempt.objects.create(lead=lead, number=number, call=call, planned_at=now)
    lead.attempts += 1
    lead.state, lead.next_try_at = Lead.State.DIALLING, None
    lead.save(update_fields=["attempts", "state", "next_try_at", "updated_at"])
    return Dial.objects.create(
        attempt=attempt, to=lead.phone, from_number=campaign.caller_id or settings.TWILIO_FROM_NUMBER,
        call_id=str(call.pk), next_attempt_at=slot, created_at=now,
    )


def _finish_campaigns(now: datetime) -> None:
    """A running campaign whose every lead is in a final state is finished (a new lead reopens it)."""
    waiting = Lead.objects.filter(campaign=OuterRef("pk")).exclude(state__in=FINAL_STATES)
    Campaign.objects.filter(state=Campaign.State.RUNNING).filter(~Exists(waiting)).update(
        state=Campaign.State.FINISHED, finished_at=now
    )


def _next_wake(now: datetime, slot: datetime) -> datetime | None:
    soonest = Dial.objects.filter(status=Status.PENDING, next_attempt_at__gt=now).aggregate(t=Min("next_attempt_at"))["t"]
    waiting = Lead.objects.filter(
        state=Lead.State.QUEUED, next_try_at__lte=now, campaign__state=Campaign.State.RUNNING
    ).exists()
    times = [t for t in (soonest, slot if waiting and slot > now else None) if t is not None]
    return min(times) if times else None


class DialQueue(OutboxQueue):
    """Places the planned dials (see the module docstring)."""

    name = "campaign-dials"
    model = Dial
    related = ("attempt__lead__campaign",)

    @property
    def lease_s(self) -> float:  # type: ignore[override]
        return settings.CLOUD_TIMEOUT + 30

    def retry_s(self) -> Sequence[float]:
        return ()  # one attempt: a dial is never sent twice (module docstring)

    def prepare(self, now: datetime) -> datetime | None:
        wake = plan(now)
        reconcile(now)
        return wake

    def perform(self, item: Dial) -> Result:
        if item.attempts > 1:
            # The server stopped while placing this dial: Twilio may have it. Ask before dialling.
            placed = twilio_rest.calls_to(item.to, item.from_number, item.attempt.planned_at - timedelta(minutes=1))
            if placed is None:
                return Result(ok=False, permanent=True, kind="uncertain",
                              error="the server stopped while placing this dial and Twilio could not be asked; not dialled again")
            if placed:
                return Result(ok=True, kind="recovered", fields={"carrier_sid": placed[0][0]})
        lead = item.attempt.lead
        if not is_open(window_of(lead.campaign), lead.zone, clock.now()):
            return Result(ok=False, permanent=True, kind="outside_hours", error="outside calling hours when its slot came")
        base, query = settings.PUBLIC_BASE_URL, f"?attempt={item.attempt_id}"
        twiml = twilio_rest.stream_twiml(twilio_rest.stream_url(), make_token(item.call_id))
        try:
            sid = twilio_rest.dial(item.to, twiml, from_=item.from_number, status_callback=base + STATUS_PATH + query,
                                   amd_callback=base + AMD_PATH + query)
        except twilio_rest.TwilioException as exc:
            return Result(ok=False, permanent=True, kind="refused", error=f"Twilio refused the dial: {exc}")
        except OSError as exc:
            return Result(ok=False, permanent=True, kind="network", error=f"Twilio could not be reached: {exc}")
        return Result(ok=True, kind="placed", fields={"carrier_sid": sid})

    def finished(self, item: Dial, result: Result, outcome: str, now: datetime) -> None:
        metrics.campaign_dial(result.kind)
        if result.ok:
            outcomes.dial_placed(item.attempt, result.fields["carrier_sid"])
            return
        kind = R.CANCELED if result.kind == "outside_hours" else R.FAILED
        outcomes.dial_refused(item.attempt, kind, result.error, clock.now())
        log.warning("campaign dial to lead %s not placed: %s", item.attempt.lead_id, result.error, extra={
            "event": "campaign.dial_failed", "call_id": item.call_id, "kind": result.kind,
        })
