"""What happens to an attempt and its lead: the carrier's progress, the AMD verdict, the end
of the call the bot ran, and from those the lead's next state (a retry at the campaign's
delay, or a final state).

Every change goes through `settle`, which recomputes the lead's state from its latest
attempt, so the order callbacks arrive in does not matter and a late decided outcome (the
dialogue's qualified replacing a carrier's provisional incomplete) still reaches the lead:
- a dial nobody answered (no answer, busy, failed, canceled) or a machine whose line has
  ended: queued again after the campaign's delay for that result, or, once the lead has
  had `max_attempts` dials, final (no_answer, busy, failed, voicemail);
- a person, once the call's end is stored: qualified or rejected (final), or cut short
  (incomplete, error): retried after the no-answer delay like a call nobody finished;
- a number on the do-not-call list: do_not_call, whatever happened.
An attempt that is not the lead's latest changes nothing.

All of it runs inside the caller's transaction with the lead's row locked; the REST calls
a machine's verdict asks for (hang up, leave the message) are returned as a `Followup`
for the caller to make after the commit, never inside a transaction.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from bots.dialogue import REASON_DO_NOT_CALL
from calls.models import Call
from calls.outbox.runner import wake_on_commit
from calls.persistence import lifecycle
from campaigns import clock
from campaigns.models import FINAL_STATES, Attempt, Campaign, DoNotCall, Lead
from campaigns.phones import BadNumber, normalise

log = logging.getLogger(__name__)

R = Attempt.Result
S = Lead.State
INCOMPLETE = "incomplete"  # a person answered but the call ended without a decision
RETRY_DELAY = {
    R.NO_ANSWER: "retry_no_answer_min", R.BUSY: "retry_busy_min", R.FAILED: "retry_failed_min",
    R.CANCELED: "retry_failed_min", R.MACHINE: "retry_voicemail_min", INCOMPLETE: "retry_no_answer_min",
}
FINAL_AFTER_LAST = {
    R.NO_ANSWER: S.NO_ANSWER, R.BUSY: S.BUSY, R.FAILED: S.FAILED, R.CANCELED: S.FAILED, R.MACHINE: S.VOICEMAIL,
    INCOMPLETE: S.INCOMPLETE,
}
NOT_ANSWERED = {"no-answer": R.NO_ANSWER, "busy": R.BUSY, "failed": R.FAILED, "canceled": R.CANCELED}
CALL_REASON = {R.NO_ANSWER: "no_answer", R.BUSY: "line_busy", R.FAILED: "call_failed", R.CANCELED: "call_canceled"}
MACHINE_VERDICTS = {"machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax"}
MESSAGE_VERDICTS = {"machine_end_beep", "machine_end_silence", "machine_end_other"}  # the greeting is over
REASON_VOICEMAIL = "voicemail"


@dataclass(frozen=True)
class Followup:
    """A REST call to make on a live line after the commit: hang up, or say `message` first."""

    carrier_sid: str
    message: str = ""


def locked_attempt(attempt_id: int) -> Attempt | None:
    """The attempt with its call, itself and its lead locked, in that order: the order of a
    call's end (`lifecycle.end_call` locks the call, then `call_ended` the attempt), so a
    carrier callback and the dialogue's end of the same call never deadlock."""
    call_id = Attempt.objects.filter(pk=attempt_id).values_list("call_id", flat=True).first()
    if call_id is not None:
        Call.objects.select_for_update().filter(pk=call_id).values_list("pk", flat=True).first()
    attempt = Attempt.objects.select_for_update(of=("self",)).select_related("lead__campaign", "call").filter(
        pk=attempt_id
    ).first()
    if attempt is not None:
        Lead.objects.select_for_update().filter(pk=attempt.lead_id).first()  # the lead changes with it
    return attempt


def _adopt_sid(attempt: Attempt, sid: str) -> None:
    """The carrier's CallSid, as soon as any callback names it (it may beat the dial's own record)."""
    if sid and not attempt.carrier_sid:
        attempt.carrier_sid = sid[:64]
        if attempt.call_id and not attempt.call.provider_call_id:
            lifecycle.set_provider_call_id(str(attempt.call_id), sid)
            attempt.call.provider_call_id = sid[:64]


def carrier_status(attempt_id: int, sid: str, status: str, now: datetime) -> Attempt | None:
    """Twilio's status callback for the dial of `attempt_id` (CallStatus `status`)."""
    with transaction.atomic():
        attempt = locked_attempt(attempt_id)
        if attempt is None:
            return None
        if attempt.carrier_sid and sid and attempt.carrier_sid != sid:
            log.warning("campaign attempt %s: status for %s, but it dialled %s; ignored", attempt_id, sid, attempt.carrier_sid)
            return attempt
        _adopt_sid(attempt, sid)
        attempt.carrier_status = status[:16]
        if status in ("ringing", "in-progress") and attempt.rang_at is None:
            attempt.rang_at = now
        if status == "in-progress" and attempt.answered_at is None:
            attempt.answered_at = now
        if status in NOT_ANSWERED and not attempt.result:
            attempt.result = NOT_ANSWERED[status]
        if status in NOT_ANSWERED or status == "completed":
            attempt.ended_at = attempt.ended_at or now
            if status == "completed" and not attempt.result:
                attempt.result = R.ANSWERED_HUMAN  # answered and no machine verdict came
        attempt.save()
        if attempt.call_id and status in NOT_ANSWERED:
            # Nobody answered: that is the whole truth about this call, a final end.
            lifecycle.end_call(str(attempt.call_id), Call.Outcome.INCOMPLETE, CALL_REASON[attempt.result])
        elif attempt.call_id and status == "completed":
            # The line is gone; the dialogue may still decide (a provisional end, as for any phone call).
            lifecycle.end_call(str(attempt.call_id), Call.Outcome.INCOMPLETE, lifecycle.CARRIER_ENDED["completed"],
                               provisional=True)
        settle(attempt, now)
    return attempt


def amd_verdict(attempt_id: int, sid: str, answered_by: str, now: datetime) -> Followup | None:
    """Twilio's asynchronous AMD callback: a machine gets the campaign's voicemail action,
    a person (or `unknown`) keeps the bot. Returns the REST call to make after the commit."""
    with transaction.atomic():
        attempt = locked_attempt(attempt_id)
        if attempt is None:
            return None
        _adopt_sid(attempt, sid)
        attempt.amd_result = answered_by[:24]
        if answered_by not in MACHINE_VERDICTS:
            if not attempt.result:
                attempt.result = R.ANSWERED_HUMAN
            attempt.save()
            settle(attempt, now)
            return None
        campaign = attempt.lead.campaign
        leave = (campaign.voicemail_action == Campaign.VoicemailAction.LEAVE_MESSAGE and answered_by in MESSAGE_VERDICTS
                 and bool(campaign.voicemail_message.strip()))
        attempt.result, attempt.voicemail_left = R.MACHINE, leave
        attempt.save()
        if attempt.call_id:
            lifecycle.end_call(str(attempt.call_id), Call.Outcome.INCOMPLETE, REASON_VOICEMAIL)
        settle(attempt, now)
        live = attempt.ended_at is None and attempt.carrier_sid
        return Followup(attempt.carrier_sid, campaign.voicemail_message.strip() if leave else "") if live else None


def dial_placed(attempt: Attempt, sid: str) -> None:
    """Twilio accepted the dial (inside the runner's record transaction)."""
    locked = locked_attempt(attempt.pk)
    if locked is not None:
        _adopt_sid(locked, sid)
        locked.save(update_fields=["carrier_sid"])


def dial_refused(attempt: Attempt, result: str, detail: str, now: datetime) -> None:
    """The dial was not placed (Twilio refused, the network failed, the server stopped while
    placing it, or the window closed first: `result` failed or canceled)."""
    locked = locked_attempt(attempt.pk)
    if locked is None:
        return
    locked.result, locked.detail, locked.ended_at = result, detail[:300], locked.ended_at or now
    locked.save(update_fields=["result", "detail", "ended_at"])
    if locked.call_id:
        lifecycle.end_call(str(locked.call_id), Call.Outcome.ERROR if result == R.FAILED else Call.Outcome.INCOMPLETE,
                           "dial_failed" if result == R.FAILED else "outside_calling_hours")
    if result == R.CANCELED:  # never dialled: it does not count, and the planner moves it to the next opening
        lead = Lead.objects.get(pk=locked.lead_id)
        lead.attempts = max(0, lead.attempts - 1)
        lead.save(update_fields=["attempts", "updated_at"])
        _set(lead, S.QUEUED, now, lead.last_result)
        return
    settle(locked, now)


def call_ended(call: Call) -> None:
    """A call's end was stored (lifecycle.call_end_stored, inside that transaction). A caller
    who asked never to be called again (any call, inbound too) goes on the do-not-call list."""
    if call.end_reason == REASON_DO_NOT_CALL:
        caller_opted_out(call)
    attempt = Attempt.objects.filter(call=call).values_list("pk", flat=True).first()
    if attempt is None:
        return
    locked = locked_attempt(attempt)
    if locked is not None:
        settle(locked, clock.now())


def caller_opted_out(call: Call) -> None:
    from campaigns.leads_in import add_do_not_call

    try:
        phone = normalise(call.caller_phone)
    except BadNumber:
        log.warning("caller asked not to be called again, but %r is no E.164 number: not listed", call.caller_phone,
                    extra={"event": "campaign.opt_out_unlisted", "call_id": str(call.pk)})
        return
    add_do_not_call(phone, source=DoNotCall.Source.CALLER, note=f"said so in call {call.pk}")
    Lead.objects.filter(phone=phone).exclude(state__in=FINAL_STATES - {S.DO_NOT_CALL}).update(
        state=S.DO_NOT_CALL, next_try_at=None)


def settle(attempt: Attempt, now: datetime) -> None:
    """Recompute the lead's state from `attempt` (see the module docstring). Lead row locked by the caller."""
    lead = Lead.objects.select_related("campaign").get(pk=attempt.lead_id)
    latest = Attempt.objects.filter(lead_id=lead.pk).aggregate(n=Max("number"))["n"]
    if latest != attempt.number:
        return
    if lead.state == S.DO_NOT_CALL or DoNotCall.objects.filter(phone=lead.phone).exists():
        _set(lead, S.DO_NOT_CALL, None, attempt.result or lead.last_result)
        return
    result = attempt.result
    call = Call.objects.filter(pk=attempt.call_id).only("status", "outcome").first() if attempt.call_id else None
    if result in (R.NO_ANSWER, R.BUSY, R.FAILED, R.CANCELED, R.MACHINE):
        if attempt.ended_at is None:  # a machine whose line is still up (the message is being left)
            _set(lead, S.IN_CALL, None, lead.last_result)
        else:
            _retry_or_final(lead, result, now)
        return
    if call is not None and call.status == Call.Status.ENDED:
        if call.outcome == Call.Outcome.QUALIFIED:
            _set(lead, S.QUALIFIED, None, R.ANSWERED_HUMAN)
        elif call.outcome == Call.Outcome.REJECTED:
            _set(lead, S.REJECTED, None, R.ANSWERED_HUMAN)
        elif attempt.answered_at is not None or result == R.ANSWERED_HUMAN:
            _retry_or_final(lead, INCOMPLETE, now)
        return
    if attempt.answered_at is not None or result == R.ANSWERED_HUMAN:
        _set(lead, S.IN_CALL, None, lead.last_result)


def _retry_or_final(lead: Lead, result: str, now: datetime) -> None:
    campaign = lead.campaign
    if lead.attempts >= campaign.max_attempts:
        _set(lead, FINAL_AFTER_LAST[result], None, result)
    else:
        delay = timedelta(minutes=getattr(campaign, RETRY_DELAY[result]))
        _set(lead, S.QUEUED, now + delay, result)


def _set(lead: Lead, state: str, next_try_at: datetime | None, last_result: str) -> None:
    if (lead.state, lead.next_try_at, lead.last_result) == (state, next_try_at, last_result):
        return
    was_live = lead.state not in FINAL_STATES and lead.state != S.QUEUED
    lead.state, lead.next_try_at, lead.last_result = state, next_try_at, last_result
    lead.save(update_fields=["state", "next_try_at", "last_result", "updated_at"])
    if was_live or state == S.QUEUED:
        wake_on_commit()  # a line is free, or a lead is due: the dialer plans again
    if state in FINAL_STATES:
        finish_if_done(lead.campaign_id, clock.now())


def finish_if_done(campaign_id: int, now: datetime) -> None:
    """A running campaign whose every lead is final is finished (a new lead reopens it)."""
    if not Lead.objects.filter(campaign_id=campaign_id).exclude(state__in=FINAL_STATES).exists():
        Campaign.objects.filter(pk=campaign_id, state=Campaign.State.RUNNING).update(
            state=Campaign.State.FINISHED, finished_at=now
        )
