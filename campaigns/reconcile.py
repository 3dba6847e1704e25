"""Dials whose callbacks were lost: ask Twilio.

Twilio posts a dial's progress once; a server that was down or restarting then misses it,
and the lead would stay `dialling` (holding a line) forever. So a dial that has not ended
CAMPAIGN_RECONCILE_S after it was planned, and has not been asked about for as long, is
fetched from Twilio's REST API (`GET .../Calls/{CallSid}.json`): its AMD verdict and final
status are applied as if their callbacks had come (`campaigns.outcomes`), and a machine
still on the line gets the voicemail action. Runs in the dialer's `prepare` step, outside
any transaction, a few dials per round.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from calls.transport.phone import twilio_rest
from campaigns import outcomes
from campaigns.models import Attempt

log = logging.getLogger(__name__)

PER_ROUND = 20
TERMINAL = ("completed", "no-answer", "busy", "failed", "canceled")


def reconcile(now: datetime) -> int:
    """Ask Twilio about up to PER_ROUND stale dials; how many were asked about."""
    quiet = now - timedelta(seconds=settings.CAMPAIGN_RECONCILE_S)
    stale = list(
        Attempt.objects.filter(ended_at__isnull=True, planned_at__lt=quiet).exclude(carrier_sid="")
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lt=quiet)).order_by("planned_at")[:PER_ROUND]
    )
    for attempt in stale:
        Attempt.objects.filter(pk=attempt.pk).update(checked_at=now)
        fetched = twilio_rest.fetch_call(attempt.carrier_sid)
        if fetched is None:
            continue
        status, answered_by = fetched
        if answered_by and not attempt.amd_result:
            followup = outcomes.amd_verdict(attempt.pk, attempt.carrier_sid, answered_by, now)
            if followup is not None and status not in TERMINAL:
                if followup.message:
                    twilio_rest.say_and_hang_up(followup.carrier_sid, followup.message)
                else:
                    twilio_rest.hang_up(followup.carrier_sid)
        if status in ("ringing", "in-progress", "completed") and attempt.rang_at is None:
            outcomes.carrier_status(attempt.pk, attempt.carrier_sid, "ringing", now)
        if status in TERMINAL:
            outcomes.carrier_status(attempt.pk, attempt.carrier_sid, status, now)
            log.info("campaign attempt %s: its final status (%s) came from a fetch; the callback was lost",
                     attempt.pk, status, extra={"event": "campaign.reconciled", "call_id": str(attempt.call_id)})
    return len(stale)
