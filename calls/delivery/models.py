"""Where leads go (Destination), what was said about a call (Event), and each event's way
to each destination (Delivery), in Saleor's EventPayload / EventDelivery shape.

An Event's payload is frozen when the call ends: every attempt and every resend sends
the same bytes under the same `webhook-id`, so a receiver can deduplicate. A Delivery
is an outbox row (`calls.outbox.items.OutboxItem`): the runner claims, attempts and
retries it; rows of one call to one destination share an `order_key` and so go in order.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from calls.delivery.signing import new_secret
from calls.outbox.items import OutboxItem, Status

CALL_ENDED = "call.ended"
LEAD_QUALIFIED = "lead.qualified"
EVENT_TYPES = [(CALL_ENDED, "call.ended: every ended call"), (LEAD_QUALIFIED, "lead.qualified: qualified leads")]
SECRET_OVERLAP = timedelta(hours=24)  # a rotated-out secret still signs for this long
SETTINGS_NAME = "LEAD_WEBHOOK_URL (settings)"


def all_event_types() -> list[str]:
    return [CALL_ENDED, LEAD_QUALIFIED]


class Destination(models.Model):
    name = models.CharField(max_length=120, help_text="What staff call it, e.g. HubSpot.")
    bot = models.ForeignKey(
        "bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_destinations",
        help_text="Whose calls it receives; blank: every bot's.",
    )
    url = models.URLField(max_length=500, help_text="HTTPS address the events are POSTed to.")
    event_types = models.JSONField(default=all_event_types)
    active = models.BooleanField(default=True, help_text="Inactive: events wait (they are sent once it is active again).")
    from_settings = models.BooleanField(default=False, editable=False)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=300, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="First failed attempt since the last success."
    )
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["from_settings"], condition=models.Q(from_settings=True),
                                    name="one_settings_destination"),
        ]

    def __str__(self) -> str:
        return self.name

    def target(self) -> str:
        """The URL events go to now (the settings' destination follows LEAD_WEBHOOK_URL)."""
        return settings.LEAD_WEBHOOK_URL if self.from_settings else self.url

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign an attempt at `now`: the current one, and the previous
        one for SECRET_OVERLAP after a rotation."""
        if self.from_settings:
            return [settings.LEAD_WEBHOOK_SECRET] if settings.LEAD_WEBHOOK_SECRET else []
        keys = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            keys.append(self.previous_secret)
        return keys

    def rotate_secret(self, now: datetime | None = None) -> str:
        """A new secret; the old one keeps signing (beside it) for SECRET_OVERLAP. Returns the new one."""
        now = now or timezone.now()
        self.previous_secret, self.previous_secret_until = self.secret, now + SECRET_OVERLAP
        self.secret = new_secret()
        self.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        return self.secret


class Event(models.Model):
    """What one end of a call says, as sent: the body's bytes and the `webhook-id`."""

    TYPES = EVENT_TYPES

    webhook_id = models.CharField(max_length=40, unique=True)
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="webhook_events")
    type = models.CharField(max_length=20, choices=EVENT_TYPES)
    payload = models.TextField(help_text="The JSON body exactly as signed and sent.")
    provisional = models.BooleanField(
        default=False, help_text="Written for a provisional end (held back, replaced unsent by a decided outcome).",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"


class Delivery(OutboxItem):
    """One event to one destination: pending, delivered (done), failed, or superseded (cancelled)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="deliveries")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta(OutboxItem.Meta):
        ordering = ["id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event.type} to {self.destination}"

    @property
    def state(self) -> str:
        """The status as staff read it."""
        return STATE_LABELS[self.status]


STATE_LABELS = {
    Status.PENDING: "pending",
    Status.DONE: "delivered",
    Status.FAILED: "failed",
    Status.CANCELLED: "superseded",
}
