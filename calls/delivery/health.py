"""A destination's health as staff see it on its admin page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min

from calls.delivery.models import STATE_LABELS, Delivery, Destination
from calls.outbox.items import Status

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Health:
    state: str  # healthy, failing, disabled (410), paused, new
    summary: str
    last_24h: dict[str, int]  # deliveries written in the last 24 h, by state label
    oldest_pending: datetime | None


def health_of(destination: Destination, now: datetime) -> Health:
    rows = Delivery.objects.filter(destination=destination)
    counts = {
        STATE_LABELS[row["status"]]: row["n"]
        for row in rows.filter(created_at__gte=now - WINDOW).values("status").annotate(n=Count("id"))
    }
    oldest = rows.filter(status=Status.PENDING).aggregate(oldest=Min("created_at"))["oldest"]
    if destination.disabled_reason and not destination.active:
        state, summary = "disabled", f"Disabled: {destination.disabled_reason}"
    elif not destination.active:
        state, summary = "paused", "Paused by staff: events wait until it is active again."
    elif destination.failing_since:
        state = "failing"
        minutes = int((now - destination.failing_since).total_seconds() // 60)
        summary = f"Failing for {minutes} min (since {destination.failing_since:%Y-%m-%d %H:%M} UTC): {destination.last_error}"
    elif destination.last_success_at:
        state, summary = "healthy", f"Healthy: last delivery {destination.last_success_at:%Y-%m-%d %H:%M:%S} UTC."
    else:
        state, summary = "new", "Nothing delivered yet."
    return Health(state=state, summary=summary, last_24h=counts, oldest_pending=oldest)
