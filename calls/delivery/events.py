"""The rows a call's end leaves for its destinations, and the body of protocol §5.

`record_call_end(call, provisional=...)` runs inside the transaction that stores the
call's outcome (`calls.persistence.lifecycle`): the events are committed with the
outcome or not at all, and sent only after the commit (the runner is woken then).

The rule for outcomes that change (docs/lead-delivery.md, "When a call's outcome
changes"): every time a call's outcome is stored, whether a first end or a decided
outcome replacing a provisional `incomplete`, a fresh `call.ended` (and `lead.qualified`
when qualified) is written with a new `webhook-id`, built from the call as stored then;
the same call's deliveries not yet delivered are superseded (never sent again; an
attempt in flight finishes first, and the newer event waits for it). An end that is
provisional is held WEBHOOK_PROVISIONAL_HOLD_S before its first attempt, so a decision
that follows within that time replaces it unsent; one that comes later follows it, in
order. A receiver keeps the last `call.ended` it got for a `call_id`.

A recorded call's `recording_url` (a signed link that expires after
RECORDING_LINK_SECONDS) is null until its recording is stored, a few seconds after
the end; then `record_recording_stored` writes a fresh `call.ended` with it (only
`call.ended`: a `lead.qualified` still on its way is left to arrive, once).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from calls.delivery.models import CALL_ENDED, LEAD_QUALIFIED, SETTINGS_NAME, Delivery, Destination, Event
from calls.models import Call
from calls.recording_links import recording_url
from calls.outbox.items import Status
from calls.outbox.runner import wake_on_commit

SUPERSEDED = "superseded by a later end of the call"

# Parts of the body an app above adds (campaigns: the campaign and the lead's fields):
# each is called with the call and returns keys for `data`. Registered in an app's ready().
BodyPart = Callable[[Call], dict[str, Any]]
_body_parts: list[BodyPart] = []


def add_body_part(part: BodyPart) -> None:
    if part not in _body_parts:
        _body_parts.append(part)


def record_call_end(call: Call, *, provisional: bool = False, now: datetime | None = None) -> list[Event]:
    """Write this end's events and deliveries (inside the caller's transaction); returns the events."""
    now = now or timezone.now()
    Delivery.objects.filter(event__call=call, status=Status.PENDING).update(
        status=Status.CANCELLED, last_error=SUPERSEDED
    )
    destinations = destinations_for(call.bot_id)
    if not destinations:
        return []
    data = call_data(call)
    due = now + timedelta(seconds=settings.WEBHOOK_PROVISIONAL_HOLD_S) if provisional else now
    types = (CALL_ENDED, LEAD_QUALIFIED) if call.outcome == Call.Outcome.QUALIFIED else (CALL_ENDED,)
    events = []
    for kind in types:  # call.ended first: lower ids, so it reaches each destination first
        targets = [d for d in destinations if kind in d.event_types]
        if not targets:
            continue
        event = Event.objects.create(
            webhook_id=f"msg_{uuid.uuid4().hex}", call=call, type=kind, payload=encode(kind, now, data),
            provisional=provisional, created_at=now,
        )
        Delivery.objects.bulk_create(
            Delivery(event=event, destination=d, order_key=f"{d.pk}:{call.pk}", next_attempt_at=due, created_at=now)
            for d in targets
        )
        events.append(event)
    wake_on_commit()
    return events


def record_recording_stored(call: Call, *, now: datetime | None = None) -> list[Event]:
    """The call's recording was stored after its end: a fresh `call.ended` (with its
    `recording_url`) for the destinations that take `call.ended`, superseding only the
    call's `call.ended` deliveries not yet made. Inside the caller's transaction."""
    now = now or timezone.now()
    targets = [d for d in destinations_for(call.bot_id) if CALL_ENDED in d.event_types]
    if not targets or call.status != Call.Status.ENDED:  # a call still running ends with the link in its body
        return []
    Delivery.objects.filter(event__call=call, event__type=CALL_ENDED, status=Status.PENDING).update(
        status=Status.CANCELLED, last_error=SUPERSEDED
    )
    event = Event.objects.create(
        webhook_id=f"msg_{uuid.uuid4().hex}", call=call, type=CALL_ENDED, payload=encode(CALL_ENDED, now, call_data(call)),
        provisional=False, created_at=now,
    )
    Delivery.objects.bulk_create(
        Delivery(event=event, destination=d, order_key=f"{d.pk}:{call.pk}", next_attempt_at=now, created_at=now)
        for d in targets
    )
    wake_on_commit()
    return [event]


def destinations_for(bot_id: int) -> list[Destination]:
    """The bot's destinations and the every-bot ones, active or paused (paused ones keep
    their events until they are active again), plus LEAD_WEBHOOK_URL's when it is set."""
    found = list(Destination.objects.filter(Q(bot_id=bot_id) | Q(bot__isnull=True), from_settings=False))
    if settings.LEAD_WEBHOOK_URL:
        found.append(settings_destination())
    return found


def settings_destination() -> Destination:
    """The one row that stands for LEAD_WEBHOOK_URL (its URL and secret are read from the settings)."""
    destination, _ = Destination.objects.get_or_create(
        from_settings=True, defaults={"name": SETTINGS_NAME, "url": settings.LEAD_WEBHOOK_URL, "secret": ""}
    )
    if destination.url != settings.LEAD_WEBHOOK_URL:
        destination.url = settings.LEAD_WEBHOOK_URL
        destination.save(update_fields=["url"])
    return destination


def encode(kind: str, now: datetime, data: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "timestamp": iso(now), "data": data}, separators=(",", ":"), ensure_ascii=False)


def call_data(call: Call) -> dict[str, Any]:
    """The `data` of §5, from the call as stored."""
    data = {
        "call_id": str(call.pk),
        "bot": {"slug": call.bot.slug, "name": call.bot.name},
        "channel": call.channel,
        "mode": mode_of(call),
        "outcome": call.outcome,
        "reason": call.end_reason,
        "started_at": iso(call.started_at),
        "ended_at": iso(call.ended_at),
        "callback_due_at": iso(call.callback_due_at),
        "caller": {"name": call.caller_name, "phone": call.caller_phone or None},
        "answers": [
            {"question": a.question_key, "prompt": a.question_text, "value": a.value, "text": a.transcript,
             "understood": a.understood, "confidence": a.confidence}
            for a in call.answers.order_by("order", "id")
        ],
        "transcript": [
            {"speaker": t.speaker, "text": t.text, "at": iso(t.created_at)} for t in call.turns.order_by("index", "id")
        ],
        "dashboard_url": settings.PUBLIC_BASE_URL + reverse("dashboard:call", args=[call.pk]),
        "recording_url": recording_url(call, settings.RECORDING_LINK_SECONDS, absolute_base=settings.PUBLIC_BASE_URL)
        or None,
    }
    for part in _body_parts:
        data.update(part(call))
    return data


def mode_of(call: Call) -> str:
    if call.channel == Call.Channel.PHONE:
        return "phone"
    return "push_to_talk" if call.mode == Call.Mode.PUSH_TO_TALK else "hands_free"


def iso(moment: datetime | None) -> str | None:
    """UTC, with a Z, as §5 writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
