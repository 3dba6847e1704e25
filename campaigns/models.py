"""What a campaign is (Campaign), whom it calls (Lead), each dial (Attempt), who must never be
called (DoNotCall), and the dialer's durable rows (Dial, Pacer).

A lead's `state` is what staff see (queued, dialling, in call, then a final one); its
`attempts` and `next_try_at` are what the dialer plans with. An Attempt keeps the carrier's
view of one dial (CallSid, answered by a person or a machine, no answer, busy, ...), and
links the Call the bot ran when a line was answered (every dial gets a Call row, so the
call's token exists before Twilio connects the stream).
"""
from __future__ import annotations

import zoneinfo
from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from calls.outbox.items import OutboxItem

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def validate_time_zone(name: str) -> None:
    if name and name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not an IANA time zone (like Asia/Kolkata or America/New_York).")


def validate_days(days: object) -> None:
    if not isinstance(days, list) or not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
        raise ValidationError("Calling days are a non-empty list of weekday numbers, 0 (Monday) to 6 (Sunday).")


def weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"

    class VoicemailAction(models.TextChoices):
        HANG_UP = "hang_up", "Hang up"
        LEAVE_MESSAGE = "leave_message", "Leave the message"

    name = models.CharField(max_length=120)
    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="campaigns")
    caller_id = models.CharField(
        max_length=20, blank=True, help_text="E.164 number the calls come from; blank: TWILIO_FROM_NUMBER."
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="Calling hours are in the lead's own time zone; this one for leads without one.",
    )
    hours_start = models.TimeField(default=time(9, 0), help_text="Local time calls may start from.")
    hours_end = models.TimeField(
        default=time(20, 0), help_text="Local time no call starts at or after; earlier than the start: the window crosses midnight."
    )
    days = models.JSONField(
        default=weekdays, validators=[validate_days],
        help_text="Weekdays a window may open on, 0 = Monday ... 6 = Sunday.",
    )
    max_lines = models.PositiveSmallIntegerField(default=5, help_text="Most calls of this campaign at once.")
    max_attempts = models.PositiveSmallIntegerField(default=3, help_text="Most dials per lead.")
    retry_no_answer_min = models.PositiveIntegerField(default=60, help_text="Minutes before retrying after no answer.")
    retry_busy_min = models.PositiveIntegerField(default=10, help_text="Minutes before retrying a busy line.")
    retry_failed_min = models.PositiveIntegerField(default=30, help_text="Minutes before retrying a failed dial or a call cut short.")
    retry_voicemail_min = models.PositiveIntegerField(default=240, help_text="Minutes before retrying after voicemail.")
    voicemail_action = models.CharField(max_length=16, choices=VoicemailAction.choices, default=VoicemailAction.HANG_UP)
    voicemail_message = models.TextField(blank=True, help_text="Said after the beep when the action is to leave it.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.hours_start == self.hours_end:
            raise ValidationError("Calling hours start and end at the same time: the window would be empty.")
        if self.voicemail_action == self.VoicemailAction.LEAVE_MESSAGE and not self.voicemail_message.strip():
            raise ValidationError("Leaving a voicemail needs the message to say.")
        if self.max_lines < 1 or self.max_attempts < 1:
            raise ValidationError("A campaign needs at least one line and one attempt per lead.")


class Lead(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        DIALLING = "dialling", "Dialling"
        IN_CALL = "in_call", "In call"
        QUALIFIED = "qualified", "Qualified"
        REJECTED = "rejected", "Rejected"
        INCOMPLETE = "incomplete", "Call cut short"
        NO_ANSWER = "no_answer", "No answer"
        BUSY = "busy", "Busy"
        VOICEMAIL = "voicemail", "Voicemail"
        FAILED = "failed", "Failed"
        DO_NOT_CALL = "do_not_call", "Do not call"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="leads")
    name = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=20, help_text="E.164.")
    time_zone = models.CharField(
        max_length=64, blank=True, validators=[validate_time_zone], help_text="Blank: the campaign's."
    )
    fields = models.JSONField(default=dict, blank=True, help_text="Extra columns of the import, sent with the lead.")
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED, db_index=True)
    last_result = models.CharField(max_length=16, blank=True, help_text="The last attempt's result (why it is queued again).")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True, help_text="Not dialled before this time.")
    source = models.CharField(max_length=10, default="csv", help_text="csv, api or admin.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "phone"], name="one_lead_per_phone_per_campaign")]
        indexes = [models.Index(fields=["campaign", "state", "next_try_at"], name="campaigns_lead_due")]

    def __str__(self) -> str:
        return f"{self.name or self.phone} ({self.campaign_id})"

    @property
    def zone(self) -> str:
        return self.time_zone or self.campaign.time_zone

    def clean(self) -> None:
        self.phone = _e164(self.phone)


FINAL_STATES = frozenset({
    Lead.State.QUALIFIED, Lead.State.REJECTED, Lead.State.INCOMPLETE, Lead.State.NO_ANSWER, Lead.State.BUSY,
    Lead.State.VOICEMAIL, Lead.State.FAILED, Lead.State.DO_NOT_CALL,
})
LIVE_STATES = frozenset({Lead.State.DIALLING, Lead.State.IN_CALL})


class Attempt(models.Model):
    class Result(models.TextChoices):
        ANSWERED_HUMAN = "answered_human", "Answered by a person"
        MACHINE = "machine", "Answering machine"
        NO_ANSWER = "no_answer", "No answer"
        BUSY = "busy", "Busy"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField(help_text="1 for the lead's first dial.")
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="campaign_attempts")
    carrier_sid = models.CharField(max_length=64, blank=True, db_index=True, help_text="Twilio's CallSid.")
    carrier_status = models.CharField(max_length=16, blank=True, help_text="The last status Twilio reported.")
    planned_at = models.DateTimeField(help_text="When the dialer decided to dial.")
    rang_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=16, choices=Result.choices, blank=True)
    amd_result = models.CharField(max_length=24, blank=True, help_text="Twilio's AnsweredBy.")
    voicemail_left = models.BooleanField(default=False)
    detail = models.CharField(max_length=300, blank=True, help_text="Why a dial failed.")
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When Twilio was last asked about a dial whose callbacks stopped (campaigns.reconcile)."
    )

    class Meta:
        ordering = ["lead_id", "number"]
        constraints = [models.UniqueConstraint(fields=["lead", "number"], name="one_attempt_number_per_lead")]

    def __str__(self) -> str:
        return f"attempt {self.number} of lead {self.lead_id}"


class DoNotCall(models.Model):
    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        CSV = "csv", "CSV import"
        CALLER = "caller", "The caller asked"

    phone = models.CharField(max_length=20, unique=True, help_text="E.164.")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ADMIN)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "do-not-call number"

    def __str__(self) -> str:
        return self.phone

    def clean(self) -> None:
        self.phone = _e164(self.phone)


def _e164(phone: str) -> str:
    from campaigns.phones import BadNumber, normalise

    try:
        return normalise(phone)
    except BadNumber as exc:
        raise ValidationError({"phone": str(exc)}) from exc


class Dial(OutboxItem):
    """One dial to place through Twilio (an outbox row): written with its Attempt when the
    planner picks the lead, performed once by the outbox runner."""

    attempt = models.OneToOneField(Attempt, on_delete=models.CASCADE, related_name="dial")
    to = models.CharField(max_length=20)
    from_number = models.CharField(max_length=20)
    call_id = models.CharField(max_length=36, help_text="The Call the answered line joins (its stream token).")
    carrier_sid = models.CharField(max_length=64, blank=True, help_text="Twilio's CallSid, once it accepted the dial.")

    class Meta(OutboxItem.Meta):
        ordering = ["id"]


class Pacer(models.Model):
    """The one row that spaces dials TWILIO_CPS a second across every server process:
    planners lock it, so they also never plan the same lines twice."""

    next_slot = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"next dial slot {self.next_slot}"
