"""The outbox queue of webhook deliveries: one attempt, what its answer means, and what
it does to the destination's health and the metrics.

2xx: delivered. 410: the receiver wants no more; the destination is disabled with the
reason shown to staff, and the delivery failed (resendable). Our own refusal (a private
address, no URL or secret any more): failed at once. Anything else (another status, a
connection error, no answer within WEBHOOK_TIMEOUT_S): retried after the next delay of
WEBHOOK_RETRY_S, then failed. Every attempt carries the event's one `webhook-id` and a
fresh `webhook-timestamp` and signature.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Min, Q
from django.utils import timezone

from calls import metrics
from calls.delivery import transport
from calls.delivery.models import Delivery, Destination
from calls.delivery.signing import signature_header
from calls.outbox.items import Result, Status
from calls.outbox.runner import DONE, RETRY, OutboxQueue

log = logging.getLogger(__name__)

SUCCESS_STAMP_EVERY = timedelta(seconds=5)  # a healthy destination's row is not rewritten on every delivery


class DeliveryQueue(OutboxQueue):
    name = "webhooks"
    model = Delivery
    related = ("event", "destination")

    def __init__(self) -> None:
        self._failing_labels: set[str] = set()

    @property
    def lease_s(self) -> float:  # type: ignore[override]
        return settings.WEBHOOK_TIMEOUT_S + 30

    def retry_s(self) -> Sequence[float]:
        return settings.WEBHOOK_RETRY_S

    def ready(self) -> Q:
        return Q(destination__active=True)

    def perform(self, item: Delivery) -> Result:
        destination, event = item.destination, item.event
        at = timezone.now()  # the receiver checks webhook-timestamp against its own clock
        url, keys = destination.target(), destination.signing_secrets(at)
        if not url or not keys:
            return Result(ok=False, permanent=True, kind="refused",
                          error="LEAD_WEBHOOK_URL / LEAD_WEBHOOK_SECRET are not set any more")
        body = event.payload.encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": event.webhook_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature_header(keys, event.webhook_id, at, body),
        }
        answer = transport.post(url, body, headers, timeout=settings.WEBHOOK_TIMEOUT_S,
                                allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
        fields = {"last_status_code": answer.status}
        if answer.kind == "refused":
            return Result(ok=False, permanent=True, kind="refused", error=answer.error, fields=fields)
        if answer.kind != "answered":
            return Result(ok=False, kind=answer.kind, error=answer.error, fields=fields)
        if 200 <= answer.status < 300:
            return Result(ok=True, kind="delivered", fields=fields)
        if answer.status == 410:
            return Result(ok=False, permanent=True, kind="gone", fields=fields,
                          error="410 Gone: the receiver asked for no more events; the destination was disabled")
        return Result(ok=False, kind="status", error=f"HTTP {answer.status}: {answer.body_snippet}", fields=fields)

    def finished(self, item: Delivery, result: Result, outcome: str, now: datetime) -> None:
        destination = Destination.objects.filter(pk=item.destination_id)
        if result.ok:
            destination.filter(
                Q(failing_since__isnull=False) | Q(last_success_at__isnull=True)
                | Q(last_success_at__lt=now - SUCCESS_STAMP_EVERY)
            ).update(last_success_at=now, failing_since=None, last_error="")
        else:
            destination.filter(failing_since__isnull=True).update(failing_since=now)
            destination.update(last_error=result.error[:500])
            if result.kind == "gone":
                destination.update(active=False, disabled_reason=(
                    f"{now:%Y-%m-%d %H:%M:%S} UTC: the receiver answered 410 Gone to {item.event.type} "
                    f"{item.event.webhook_id}. Fix the receiver, then tick Active again (waiting events then go)."
                ))
        label = {DONE: "delivered", RETRY: "retried"}.get(outcome) or (
            result.kind if result.kind in ("gone", "refused") else "failed"
        )
        metrics.webhook_delivery(label)
        if not result.ok:
            log.warning("webhook %s to %s: %s (%s)", item.event.type, item.destination, result.error, label, extra={
                "event": "webhook.failed", "call_id": str(item.event.call_id), "webhook_id": item.event.webhook_id,
                "attempt": item.attempts,
            })

    def observe(self, now: datetime) -> None:
        waiting = Delivery.objects.filter(status=Status.PENDING, destination__active=True).filter(
            Q(attempts__gt=0) | Q(next_attempt_at__lte=now)
        )
        oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
        metrics.webhook_oldest_undelivered((now - oldest).total_seconds() if oldest else 0.0)
        failing = {
            d.name: (now - d.failing_since).total_seconds()
            for d in Destination.objects.filter(active=True, failing_since__isnull=False)
        }
        for name in self._failing_labels - failing.keys():
            metrics.webhook_destination_failing(name, 0.0)
        for name, seconds in failing.items():
            metrics.webhook_destination_failing(name, seconds)
        self._failing_labels = set(failing)
