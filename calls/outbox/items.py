"""The row every outbox queue's model extends, and what one attempt at it returns.

A row is *pending* until an attempt succeeds (*done*), the queue gives up on it
(*failed*: a permanent error, or the last retry failed) or newer work makes it moot
(*cancelled*). An attempt is claimed by leasing the row (`lease_until`,
`lease_owner`, a fresh `lease_token`) in a short transaction; the attempt itself runs
outside any transaction, and its result is written only if the lease token still
matches, so a slow attempt whose lease ran out can never overwrite a newer one.

Rows with the same `order_key` are done strictly in `id` order: one is not claimed
while an earlier one with the same key is pending or in flight.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class OutboxItem(models.Model):
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    order_key = models.CharField(
        max_length=100, null=True, blank=True,
        help_text="Rows with the same key are done one at a time, in order (null: no order).",
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts since it was written or last resent.")
    next_attempt_at = models.DateTimeField(help_text="Not attempted before this time.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="%(app_label)s_%(class)s_due"),
            models.Index(fields=["order_key", "status"], name="%(app_label)s_%(class)s_order"),
        ]


@dataclass(frozen=True)
class Result:
    """One attempt's result: `ok`, or an error that is retried unless `permanent`.

    `kind` names the result for metrics and staff ("gone", "refused", "timeout", ...);
    `fields` are extra columns of the queue's model to store with it."""

    ok: bool
    error: str = ""
    permanent: bool = False
    kind: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
