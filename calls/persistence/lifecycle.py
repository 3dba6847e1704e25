"""Database writes for calls, as small sync functions.

Async code (the pipeline, the consumer) runs these through
`database_sync_to_async`; nothing here is called per audio frame. Broadcasts to
the dashboard go out only after the transaction commits.
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.dispatch import Signal
from django.utils import timezone

from bots.dialogue import (
    REASON_DISCONNECTED,
    REASON_HANGUP,
    REASON_SHUTDOWN,
    AnswerRecord,
    StoredAnswer,
)
from bots.models import Bot
from calls import metrics
from calls.delivery.events import record_call_end
from calls.models import Answer, Call, LatencySample, Turn
from calls.persistence.broadcast import LEADS_GROUP, lead_update_on_commit
from calls.runtime.ports import CallContext, Resumed

log = logging.getLogger(__name__)

__all__ = ["LEADS_GROUP"]  # re-exported: the dashboard consumer joins it


# Sent inside the transaction that stores a call's end (`end_call`, `close_stale_calls`),
# with `call` (as stored then) and `provisional`: what an app above keeps about calls
# (campaigns: the lead's state) follows the end in the same transaction.
call_end_stored = Signal()


class CallUnavailable(Exception):
    """The call cannot be joined: `code` is the WebSocket close code (4404 or 4409)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code




def create_call(bot: Bot, *, mode: str, caller_name: str = "", caller_phone: str = "", client_ip: str | None = None) -> Call:
    call = Call.objects.create(
        bot=bot, mode=mode, caller_name=caller_name, caller_phone=caller_phone, client_ip=client_ip
    )
    _broadcast_on_commit(call)
    return call


def create_phone_call(
    bot: Bot, *, caller_phone: str, provider_call_id: str = "", caller_name: str = ""
) -> Call:
    """A call from (or to) the telephone network: hands-free, 8 kHz, channel `phone`.

    A carrier that retries its webhook for the same call id gets the call it already has,
    also when the retries race (the database's `one_call_per_carrier_call_id` decides)."""
    provider_call_id = provider_call_id[:64]
    if provider_call_id:
        existing = Call.objects.filter(provider_call_id=provider_call_id).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            call = Call.objects.create(
                bot=bot, mode=Call.Mode.VAD, channel=Call.Channel.PHONE, caller_name=caller_name[:120],
                caller_phone=caller_phone[:40], provider_call_id=provider_call_id, input_sample_rate=8000,
            )
    except IntegrityError:
        if not provider_call_id:
            raise
        return Call.objects.get(provider_call_id=provider_call_id)  # a retry created it a moment ago
    _broadcast_on_commit(call)
    return call


def open_phone_call(bot_slug: str, *, caller_phone: str, provider_call_id: str) -> CallContext:
    """A phone stream that starts a call by itself (Exotel): create the call and claim it."""
    bot = Bot.objects.filter(slug=bot_slug, active=True).first() if bot_slug else None
    if bot is None:
        raise CallUnavailable(4404, "unknown bot")
    call = create_phone_call(bot, caller_phone=caller_phone, provider_call_id=provider_call_id)
    return claim_call(str(call.pk))


def set_provider_call_id(call_id: str, provider_call_id: str) -> None:
    Call.objects.filter(pk=call_id).update(provider_call_id=provider_call_id[:64])


# Carrier call states that mean the line is gone, and the reason stored for a call still open then.
CARRIER_ENDED = {
    "completed": REASON_HANGUP,
    "no-answer": "no_answer",
    "busy": "line_busy",
    "failed": "call_failed",
    "canceled": "call_canceled",
}


def carrier_status(provider_call_id: str, status: str) -> str | None:
    """A carrier's status callback: end the call if the line is gone while it is still open,
    and show the progress on the dashboard. Returns the call id, None for an unknown call."""
    call = Call.objects.filter(provider_call_id=provider_call_id, channel=Call.Channel.PHONE).first()
    if call is None:
        return None
    if status in CARRIER_ENDED and call.status != Call.Status.ENDED:
        # Provisional: the pipeline may still be recognising the caller's last answer (B1).
        end_call(str(call.pk), Call.Outcome.INCOMPLETE, CARRIER_ENDED[status], provisional=True)
        call.refresh_from_db()
    _broadcast_on_commit(call, progress=status)
    return str(call.pk)


def open_calls_from(ip: str) -> int:
    """Calls from this client that are open: connected, or created and still joinable."""
    joinable_since = timezone.now() - timedelta(seconds=settings.CALL_TOKEN_MAX_AGE)
    return (
        Call.objects.filter(client_ip=ip, status__in=[Call.Status.CREATED, Call.Status.ACTIVE])
        .filter(Q(status=Call.Status.ACTIVE) | Q(created_at__gte=joinable_since))
        .count()
    )


REASON_SERVER_RESTART = "server_restart"
# Calls that ended only because the connection or the server went, not by anything the
# caller or the bot decided: the caller may pick them up again within CALL_RESUME_S.
RESUMABLE_REASONS = (REASON_DISCONNECTED, REASON_SERVER_RESTART, REASON_SHUTDOWN)


def claim_call(call_id: str) -> CallContext:
    """Mark a created call active (once) and load its script; or reopen a call that
    ended because its socket or server went (RESUMABLE_REASONS) less than
    CALL_RESUME_S ago, within its CALL_MAX_SECONDS, with where it was (`resumed`).

    Raises CallUnavailable(4404) for an unknown call, (4409) when it is connected,
    finished, or past its resume window.
    """
    with transaction.atomic():
        now = timezone.now()
        claimed = Call.objects.filter(pk=call_id, status=Call.Status.CREATED).update(
            status=Call.Status.ACTIVE, started_at=now, worker=settings.WORKER_ID, heartbeat_at=now
        )
        resumed = False
        if not claimed and settings.CALL_RESUME_S > 0:
            resumed = bool(
                Call.objects.filter(
                    pk=call_id, status=Call.Status.ENDED, outcome=Call.Outcome.INCOMPLETE,
                    end_reason__in=RESUMABLE_REASONS,
                    ended_at__gte=now - timedelta(seconds=settings.CALL_RESUME_S),
                    started_at__gt=now - timedelta(seconds=settings.CALL_MAX_SECONDS),
                ).update(
                    status=Call.Status.ACTIVE, outcome="", end_reason="", ended_at=None, end_provisional=False,
                    worker=settings.WORKER_ID, heartbeat_at=now,
                )
            )
        if not (claimed or resumed):
            if Call.objects.filter(pk=call_id).exists():
                raise CallUnavailable(4409, "call already connected or finished")
            raise CallUnavailable(4404, "unknown call")
        call = Call.objects.select_related("bot").get(pk=call_id)
        bot = call.bot
        questions = list(bot.questions.all())
        if not questions:
            raise CallUnavailable(4409, "this bot has no questions")
        _broadcast_on_commit(call)
        where = _where_it_was(call, now) if resumed else None
    if where is not None:
        log.info("call resumed after turn %d", where.last_turn, extra={"event": "call.resumed", "call_id": str(call.pk)})
    return CallContext(
        call_id=str(call.pk),
        script=bot.to_script(),
        voice=bot.voice,
        mode=call.mode,
        bot_slug=bot.slug,
        bot_name=bot.name,
        channel=call.channel,
        resumed=where,
    )


def _where_it_was(call: Call, now: datetime) -> Resumed:
    answers = tuple(
        StoredAnswer(
            key=a.question_key, value=a.value, understood=a.understood, qualifies=a.qualifies,
            attempts=a.attempts, transcript=a.transcript,
        )
        for a in call.answers.order_by("order")
    )
    last_turn = call.turns.aggregate(last=Max("index"))["last"] or 0
    elapsed = (now - call.started_at).total_seconds() if call.started_at else 0.0
    return Resumed(answers=answers, last_turn=last_turn, seconds_left=max(1.0, settings.CALL_MAX_SECONDS - elapsed),
                   consent=call.recording_consent)


def set_input_rate(call_id: str, sample_rate: int) -> None:
    Call.objects.filter(pk=call_id).update(input_sample_rate=sample_rate)


def add_turn(call_id: str, index: int, speaker: str, text: str, at_ms: int | None = None) -> None:
    Turn.objects.create(call_id=call_id, index=index, speaker=speaker, text=text, at_ms=at_ms)


def set_recording_consent(call_id: str, agreed: bool) -> None:
    """The caller's reply to the recording consent line (docs/recordings.md)."""
    Call.objects.filter(pk=call_id).update(recording_consent=agreed)


def mark_interrupted(call_id: str, index: int) -> None:
    Turn.objects.filter(call_id=call_id, index=index, speaker=Turn.Speaker.BOT).update(interrupted=True)


def record_answer(call_id: str, record: AnswerRecord) -> None:
    """The question's answer, replaced by a later attempt. An UPDATE, then an INSERT when
    there was no row: not `update_or_create`, whose savepoints and SELECT ... FOR UPDATE
    cost a loaded worker twice the statements for nothing, since one call's writes are
    made one batch at a time (calls.persistence.write_queue) and (call, question) is unique."""
    fields = {
        "question_text": record.question,
        "order": record.order,
        "transcript": record.transcript,
        "value": record.value,
        "understood": record.understood,
        "qualifies": record.qualifies,
        "attempts": record.attempt,
        "confidence": record.confidence,
    }
    if not Answer.objects.filter(call_id=call_id, question_key=record.key).update(**fields):
        Answer.objects.create(call_id=call_id, question_key=record.key, **fields)


def add_latency(call_id: str, turn: int, stages: dict[str, float | None], providers: dict[str, str]) -> None:
    LatencySample.objects.bulk_create(
        [
            LatencySample(call_id=call_id, turn=turn, stage=stage, ms=ms, provider=providers.get(stage, ""))
            for stage, ms in stages.items()
            if ms is not None
        ]
    )


@dataclass(frozen=True)
class End:
    """How a call ended, as stored: outcome, reason and whether it is provisional."""

    outcome: str
    reason: str
    provisional: bool = False


def replaces(new: End, stored: End | None) -> bool:
    """The one rule on which end of a call stands: a decided outcome wins.

    - a call that has not ended (`stored` None) takes any end;
    - a provisional end (set by a carrier's status callback, the stale-call sweep or a
      drain, none of which knows what the dialogue decided) gives way to the call's own
      end from its pipeline, which is final;
    - a final end is never replaced, and a provisional end never replaces anything.
    """
    return stored is None or (stored.provisional and not new.provisional)


def end_call(call_id: str, outcome: str, reason: str, provisional: bool = False) -> bool:
    """Store how the call ended, if `replaces` lets this end stand over the stored one.
    `provisional`: the end decides nothing (a carrier's status callback, a drain). Returns whether it was stored."""
    new = End(outcome, reason[:40], provisional)
    with transaction.atomic():
        call = Call.objects.select_for_update().select_related("bot").get(pk=call_id)
        stored = End(call.outcome, call.end_reason, call.end_provisional) if call.status == Call.Status.ENDED else None
        if not replaces(new, stored):
            return False
        now = timezone.now()
        call.status = Call.Status.ENDED
        call.outcome, call.end_reason, call.end_provisional = new.outcome, new.reason, new.provisional
        call.ended_at = now
        call.callback_due_at = None
        if outcome == Call.Outcome.QUALIFIED and call.bot.callback_minutes:
            call.callback_due_at = now + timedelta(minutes=call.bot.callback_minutes)
        call.save(update_fields=["status", "outcome", "end_reason", "end_provisional", "ended_at", "callback_due_at"])
        # Its lead webhook events, in this transaction: they follow the end stored last (calls.delivery).
        may_change = provisional or (outcome == Call.Outcome.INCOMPLETE and reason in RESUMABLE_REASONS)
        record_call_end(call, provisional=may_change, now=now)
        call_end_stored.send(sender=Call, call=call, provisional=new.provisional)
        _broadcast_on_commit(call)
        duration = (now - call.started_at).total_seconds() if call.started_at else None
        transaction.on_commit(lambda: _ended(call_id, call.bot.slug, new, duration, replaced=stored))
    return True


def _ended(call_id: str, bot: str, end: End, duration: float | None, *, replaced: End | None = None) -> None:
    metrics.call_ended(bot, end.outcome, end.reason, duration)
    if replaced is not None:
        metrics.outcome_replaced(replaced.outcome, end.outcome)
    # call_id and bot given: calls also end outside their pipeline (stale-call sweep, carrier callbacks).
    log.info("call ended: %s (%s)%s", end.outcome, end.reason,
             f", replacing the provisional {replaced.outcome} ({replaced.reason})" if replaced else "", extra={
        "event": "call.ended", "call_id": str(call_id), "bot": bot, "outcome": end.outcome, "reason": end.reason,
        "duration_s": round(duration, 1) if duration is not None else None,
    })


def _broadcast_on_commit(call: Call, progress: str = "") -> None:
    lead_update_on_commit(str(call.pk), call.status, call.outcome, progress=progress)


def close_stale_calls(
    *, now: datetime | None = None, worker: str = "", live_workers: Collection[str] | None = None, lease: bool = True
) -> int:
    """End calls no live server is running any more; returns how many.

    A call is stale when it is ACTIVE and
    - its worker has not stamped it (heartbeat) for CALL_LEASE_S and is not one of
      `live_workers`: the other workers the registry of live workers (Redis) says are
      alive. Such a worker stamps its calls again as soon as it can write, and ends
      its own orphans itself; a database outage longer than the lease stops every
      stamp, not the workers (issue 31 B2). `live_workers` None: no registry, the
      stamps alone decide. `lease=False`: the registry cannot be read, so no call is
      ended for an old stamp alone; or
    - it started longer ago than CALL_MAX_SECONDS + CALL_RESUME_S (no call lasts
      that long), or
    - `worker` is given and the call belongs to it: that worker is starting, so
      whatever it was running before has gone with the old process.

    Such calls become `incomplete` with reason `server_restart`, provisionally: the
    call's own pipeline, if it still runs somewhere, replaces that end with its own
    (`replaces`); the caller may also resume within CALL_RESUME_S. Safe from any
    number of workers at once: one conditional UPDATE per call.
    """
    now = now or timezone.now()
    expired = now - timedelta(seconds=settings.CALL_LEASE_S)
    too_old = now - timedelta(seconds=settings.CALL_MAX_SECONDS + settings.CALL_RESUME_S)
    gone = Q(started_at__lt=too_old)
    if lease:
        unstamped = Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True, started_at__lt=expired)
        if live_workers:
            unstamped &= ~Q(worker__in=list(live_workers))
        gone |= unstamped
    if worker:
        gone |= Q(worker=worker)
    stale = list(Call.objects.filter(gone, status=Call.Status.ACTIVE).values_list("pk", "bot__slug", "started_at"))
    closed = 0
    for call_id, bot, started_at in stale:
        with transaction.atomic():
            done = Call.objects.filter(pk=call_id, status=Call.Status.ACTIVE).update(
                status=Call.Status.ENDED, outcome=Call.Outcome.INCOMPLETE, end_reason=REASON_SERVER_RESTART, ended_at=now,
                end_provisional=True,
            )
            if done:
                closed += 1
                ended = Call.objects.select_related("bot").get(pk=call_id)
                record_call_end(ended, provisional=True, now=now)
                call_end_stored.send(sender=Call, call=ended, provisional=True)
                lead_update_on_commit(str(call_id), Call.Status.ENDED, Call.Outcome.INCOMPLETE)
                duration = (now - started_at).total_seconds() if started_at else None
                metrics.call_ended(bot, Call.Outcome.INCOMPLETE, REASON_SERVER_RESTART, duration)
    if closed:
        log.warning("closed %d call(s) left active by a server that stopped (incomplete/%s)", closed, REASON_SERVER_RESTART)
    return closed


def heartbeat(call_ids: list[str], *, now: datetime | None = None) -> None:
    """This worker still runs these calls (one UPDATE for all of them)."""
    if call_ids:
        Call.objects.filter(pk__in=call_ids, status=Call.Status.ACTIVE).update(heartbeat_at=now or timezone.now())
