"""Staff's "Resend": deliveries back to pending, due now, with their events' same
`webhook-id`s and bodies, so a receiver that already has one recognises it.

The retry schedule starts again (attempts from 0). A resent delivery of a paused or
disabled destination waits until the destination is active again.
"""
from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from calls.delivery.models import Delivery, Destination
from calls.outbox.items import Status
from calls.outbox.runner import wake_on_commit


def resend_call(call_id: str, now: datetime | None = None) -> int:
    """Every delivered or failed delivery of the call's events; how many."""
    return resend(Delivery.objects.filter(event__call_id=call_id), now)


def resend_failed_since(destination: Destination, since: datetime, now: datetime | None = None) -> int:
    """Every failed delivery to `destination` of an event written at or after `since`; how many."""
    return resend(Delivery.objects.filter(destination=destination, status=Status.FAILED, created_at__gte=since), now)


def resend(deliveries: QuerySet[Delivery], now: datetime | None = None) -> int:
    """The delivered or failed ones among `deliveries`, due again now; how many."""
    count = deliveries.filter(status__in=[Status.DONE, Status.FAILED]).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now or timezone.now(), done_at=None,
        lease_until=None, lease_token="",
    )
    if count:
        wake_on_commit()
    return count
