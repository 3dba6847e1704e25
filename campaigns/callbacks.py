"""Twilio's callbacks about campaign dials: call progress (status) and the asynchronous AMD
verdict. Like the phone webhooks they exist only with TWILIO_AUTH_TOKEN set (404 otherwise)
and need a valid `X-Twilio-Signature` for the full URL, whose `?attempt=<id>` names the
attempt (so a callback that beats the record of the dial's CallSid still finds it).

The REST call a machine's verdict asks for (hang up, or say the voicemail message and hang
up) is made after the verdict is committed, before answering Twilio.
"""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from calls.persistence import lifecycle
from calls.transport.phone import twilio_rest
from calls.transport.phone.webhooks import twilio_webhook
from campaigns import clock, outcomes


def _attempt_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("attempt", "")
    return int(raw) if raw.isdigit() else None


@twilio_webhook
def dial_status(request: HttpRequest) -> HttpResponse:
    attempt, sid, status = _attempt_id(request), request.POST.get("CallSid", ""), request.POST.get("CallStatus", "")
    if attempt is None or not status:
        return HttpResponse("attempt and CallStatus are required", status=400, content_type="text/plain")
    if outcomes.carrier_status(attempt, sid, status, clock.now()) is None:
        return HttpResponse(status=204)  # not ours (any more): Twilio needs no error
    if sid:
        lifecycle.carrier_status(sid, status)  # the dashboard's live progress; a line gone ends an open call
    return HttpResponse(status=204)


@twilio_webhook
def amd_status(request: HttpRequest) -> HttpResponse:
    attempt, sid, verdict = _attempt_id(request), request.POST.get("CallSid", ""), request.POST.get("AnsweredBy", "")
    if attempt is None or not verdict:
        return HttpResponse("attempt and AnsweredBy are required", status=400, content_type="text/plain")
    followup = outcomes.amd_verdict(attempt, sid, verdict, clock.now())
    if followup is not None:
        if followup.message:
            twilio_rest.say_and_hang_up(followup.carrier_sid, followup.message)
        else:
            twilio_rest.hang_up(followup.carrier_sid)
    return HttpResponse(status=204)
