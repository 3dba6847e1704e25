"""Issue 31 B: a decided outcome always wins. `incomplete` set by a carrier's status
callback, the stale-call sweep or a drain is provisional: the call's own end from its
pipeline replaces it; the reverse never happens (calls.persistence.lifecycle.replaces).

The rule as a table, then the same table through the real entry points that end a
call (carrier_status, close_stale_calls, end_call as the pipeline's records call it),
one after the other, against the stored row."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from calls.persistence import lifecycle
from calls.persistence.lifecycle import End, replaces

QUALIFIED = End("qualified", "all_answers_qualify")
REJECTED = End("rejected", "not_qualified:monthly_salary")
HANGUP = End("incomplete", "caller_hangup")  # the pipeline's own: the caller left before deciding
ERROR = End("error", "speech_failed")
CARRIER = End("incomplete", "caller_hangup", provisional=True)
SWEEP = End("incomplete", "server_restart", provisional=True)
DRAIN = End("incomplete", "shutdown", provisional=True)


@pytest.mark.parametrize(
    "stored, new, stands",
    [
        # a call that has not ended takes any end
        (None, QUALIFIED, True), (None, HANGUP, True), (None, CARRIER, True), (None, SWEEP, True),
        # a provisional end gives way to the call's own end ...
        (CARRIER, QUALIFIED, True), (CARRIER, REJECTED, True), (CARRIER, HANGUP, True), (CARRIER, ERROR, True),
        (SWEEP, QUALIFIED, True), (DRAIN, QUALIFIED, True), (DRAIN, REJECTED, True),
        # ... never to another provisional one
        (CARRIER, SWEEP, False), (SWEEP, CARRIER, False), (CARRIER, DRAIN, False), (DRAIN, CARRIER, False),
        # a final end is never replaced: not by a provisional end, nor by a second final one
        (QUALIFIED, CARRIER, False), (QUALIFIED, SWEEP, False), (QUALIFIED, DRAIN, False),
        (REJECTED, CARRIER, False), (HANGUP, CARRIER, False), (ERROR, SWEEP, False),
        (QUALIFIED, REJECTED, False), (REJECTED, QUALIFIED, False), (HANGUP, QUALIFIED, False),
    ],
)
def test_which_end_stands(stored, new, stands):
    assert replaces(new, stored) is stands


# ---------------------------------------------------------------------------- through the entry points
SID = "CA" + "5" * 32


def _carrier(call: Call) -> None:
    lifecycle.carrier_status(SID, "completed")


def _sweep(call: Call) -> None:
    old = timezone.now() - timedelta(hours=1)
    Call.objects.filter(pk=call.pk).update(heartbeat_at=old, started_at=old)  # its worker stopped stamping it
    lifecycle.close_stale_calls()


def _pipeline(end: End):
    def run(call: Call) -> None:
        lifecycle.end_call(str(call.pk), end.outcome, end.reason, end.provisional)  # as QueuedCallRecords.end does

    return run


SOURCES = {
    "carrier": (_carrier, CARRIER),
    "sweep": (_sweep, SWEEP),
    "drain": (_pipeline(DRAIN), DRAIN),
    "qualified": (_pipeline(QUALIFIED), QUALIFIED),
    "rejected": (_pipeline(REJECTED), REJECTED),
    "hangup": (_pipeline(HANGUP), HANGUP),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "first, then, stored",
    [
        ("carrier", "qualified", "qualified"),  # B1: the status callback beat the last answer
        ("carrier", "rejected", "rejected"),
        ("carrier", "hangup", "hangup"),  # the pipeline's own end, now final
        ("sweep", "qualified", "qualified"),  # B2: a worker's calls swept while it could not write
        ("drain", "qualified", "qualified"),
        ("qualified", "carrier", "qualified"),
        ("qualified", "sweep", "qualified"),
        ("rejected", "qualified", "rejected"),
        ("carrier", "sweep", "carrier"),
        ("sweep", "carrier", "sweep"),
        ("carrier", "drain", "carrier"),
    ],
)
def test_ends_one_after_the_other(loan_bot, first, then, stored):
    now = timezone.now()
    call = Call.objects.create(
        bot=loan_bot, channel=Call.Channel.PHONE, provider_call_id=SID, status=Call.Status.ACTIVE,
        started_at=now, heartbeat_at=now, worker="w-1",
    )
    SOURCES[first][0](call)
    SOURCES[then][0](call)
    call.refresh_from_db()
    want = SOURCES[stored][1]
    assert (call.status, call.outcome, call.end_reason, call.end_provisional) == (
        "ended", want.outcome, want.reason, want.provisional)
    if want is QUALIFIED:  # the lead's callback deadline counts from the decision
        assert call.callback_due_at == call.ended_at + timedelta(minutes=loan_bot.callback_minutes)
    else:
        assert call.callback_due_at is None
