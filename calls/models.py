"""What a call leaves behind: the call, each spoken turn, each answer, each latency figure.

Rows are written as things happen (see `calls.persistence.lifecycle`), so a call cut off at
any point keeps everything said until then.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.db import models

from bots.dialogue import (
    REASON_DISCONNECTED,
    REASON_HANGUP,
    REASON_QUALIFIED,
    REASON_SHUTDOWN,
    REASON_SILENT,
    REASON_TIMEOUT,
    REASON_TOO_MANY_TURNS,
)


def recordings_storage() -> Storage:
    """The recordings store (STORAGES["recordings"]: a local folder, or an S3-compatible bucket)."""
    return storages["recordings"]


def recording_name(call: Call, filename: str) -> str:
    """Where a call's recording is stored: by month, named after the call."""
    return f"{call.created_at:%Y/%m}/{call.pk}.ogg"


class Call(models.Model):
    class Mode(models.TextChoices):
        VAD = "vad", "Hands-free"
        PUSH_TO_TALK = "push_to_talk", "Push to talk"

    class Channel(models.TextChoices):
        WEB = "web", "Browser"
        PHONE = "phone", "Phone"

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        ACTIVE = "active", "In progress"
        ENDED = "ended", "Ended"

    class Outcome(models.TextChoices):
        QUALIFIED = "qualified", "Qualified"
        REJECTED = "rejected", "Rejected"
        INCOMPLETE = "incomplete", "Incomplete"
        ERROR = "error", "Error"

    class LeadStatus(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        WON = "won", "Won"
        LOST = "lost", "Lost"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    bot = models.ForeignKey("bots.Bot", related_name="calls", on_delete=models.PROTECT)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.VAD)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB, db_index=True)
    provider_call_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The carrier's id of a phone call (Twilio CallSid, Exotel CallSid)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED, db_index=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True, db_index=True)
    end_reason = models.CharField(max_length=40, blank=True)
    caller_name = models.CharField(max_length=120, blank=True)
    caller_phone = models.CharField(max_length=40, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    input_sample_rate = models.PositiveIntegerField(default=16000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    callback_due_at = models.DateTimeField(null=True, blank=True)
    # An end set from outside the call's own dialogue (a carrier's status callback, the
    # stale-call sweep, a draining server): the call's pipeline may still decide, and its
    # decision replaces this end (calls.persistence.lifecycle.replaces).
    end_provisional = models.BooleanField(
        default=False, help_text="Ended by a carrier, the stale-call sweep or a drain: the dialogue's decision may still replace it."
    )
    # Which server process runs the call, and when it last said it still does
    # (calls.worker.heartbeat): a call whose worker died is found and closed.
    worker = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Lead handling by sales agents.
    lead_status = models.CharField(max_length=10, choices=LeadStatus.choices, default=LeadStatus.NEW)
    lead_note = models.TextField(blank=True)
    lead_updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_updated_at = models.DateTimeField(null=True, blank=True)
    # Both sides of the call, stereo Ogg Opus (docs/recordings.md), once moved to the store.
    recording = models.FileField(storage=recordings_storage, upload_to=recording_name, blank=True, max_length=200)
    recording_consent = models.BooleanField(
        null=True, blank=True, help_text="The caller's reply to the recording consent line (empty: not asked)."
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["outcome", "-created_at"])]
        constraints = [
            # A carrier that retries its webhook for the same call id gets the call it has
            # (lifecycle.create_phone_call), even when two retries race. Web calls have none.
            models.UniqueConstraint(
                fields=["provider_call_id"], condition=~models.Q(provider_call_id=""), name="one_call_per_carrier_call_id"
            )
        ]
        permissions = [("listen_recording", "Can listen to call recordings")]

    def __str__(self) -> str:
        return f"{self.bot_id} call {self.id}"

    @property
    def end_reason_label(self) -> str:
        """`end_reason` in words for agents ("not_qualified:budget" -> "budget did not qualify")."""
        code, _, detail = self.end_reason.partition(":")
        if code == "not_qualified" and detail:
            return f"{detail.replace('_', ' ')} did not qualify"
        if code == "unclear" and detail:
            return f"{detail.replace('_', ' ')} stayed unclear"
        return END_REASONS.get(code, self.end_reason.replace("_", " "))


# Why calls end (bots.dialogue.REASON_* and the pipeline's errors), as agents read them.
END_REASONS = {
    REASON_QUALIFIED: "every answer qualified",
    REASON_HANGUP: "caller hung up",
    REASON_DISCONNECTED: "connection dropped",
    REASON_TIMEOUT: "time limit reached",
    REASON_SILENT: "caller stayed silent",
    REASON_SHUTDOWN: "server shut down",
    "server_error": "server error",
    "too_many_protocol_errors": "too many bad messages",
    "no_answer": "nobody answered the phone",
    "line_busy": "the line was busy",
    "call_failed": "the phone call failed",
    "call_canceled": "the phone call was cancelled",
    "dial_failed": "the carrier refused the call",
    REASON_TOO_MANY_TURNS: "too many turns",
    "server_restart": "server restarted mid-call",
    "abuse_limit": "caller broke the call's limits",
    "speech_failed": "the bot's voice failed",
}


class Turn(models.Model):
    class Speaker(models.TextChoices):
        BOT = "bot", "Bot"
        CALLER = "caller", "Caller"

    call = models.ForeignKey(Call, related_name="turns", on_delete=models.CASCADE)
    index = models.PositiveIntegerField(help_text="Exchange number: 0 is the greeting.")
    speaker = models.CharField(max_length=6, choices=Speaker.choices)
    text = models.TextField()
    interrupted = models.BooleanField(default=False)
    at_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="When the line began, in ms from the call's start (its recording's 0:00)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["call", "id"]


class Answer(models.Model):
    call = models.ForeignKey(Call, related_name="answers", on_delete=models.CASCADE)
    question_key = models.CharField(max_length=60)
    question_text = models.TextField()
    order = models.PositiveIntegerField(default=0)
    transcript = models.TextField(blank=True)
    value = models.JSONField(null=True, blank=True)
    understood = models.BooleanField(default=False)
    qualifies = models.BooleanField(null=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    confidence = models.FloatField(
        null=True, blank=True, help_text="Speech recognition confidence of the answer's hearing (0-1); empty for typed answers."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["call", "order"]
        constraints = [
            models.UniqueConstraint(fields=["call", "question_key"], name="one_answer_per_question")
        ]


class LatencySample(models.Model):
    class Stage(models.TextChoices):
        ASR = "asr", "Speech recognition"
        NLU = "nlu", "Understanding"
        TTS_FIRST_AUDIO = "tts_first_audio", "First synthesized audio"
        RESPONSE = "response", "Response (end of speech to first audio)"

    call = models.ForeignKey(Call, related_name="latency_samples", on_delete=models.CASCADE)
    turn = models.PositiveIntegerField()
    stage = models.CharField(max_length=20, choices=Stage.choices)
    ms = models.FloatField()
    provider = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["call", "turn", "id"]
        indexes = [models.Index(fields=["stage", "created_at"])]
