"""Outbound phone calls: one function behind both `POST /api/outbound-calls/` and the
dashboard's "Call now" button, so both dial the same way."""
from __future__ import annotations

from dataclasses import dataclass

from bots.models import Bot
from calls.http.tokens import make_token
from calls.models import Call
from calls.persistence import lifecycle
from calls.transport.phone import twilio_rest


class DialError(Exception):
    """Twilio refused the call or could not be reached; the call is stored as ended (error)."""


@dataclass(frozen=True)
class Placed:
    call: Call
    provider_call_id: str


def place_call(bot: Bot, to: str, caller_name: str = "") -> Placed:
    """Create the call, then ask Twilio to dial `to` with the same TwiML an inbound call gets.
    Blocking (the SDK's HTTP client): call it from a sync view."""
    call = lifecycle.create_phone_call(bot, caller_phone=to, caller_name=caller_name)
    twiml = twilio_rest.stream_twiml(twilio_rest.stream_url(), make_token(str(call.pk)))
    try:
        sid = twilio_rest.dial(to, twiml)
    except (twilio_rest.TwilioException, OSError) as exc:
        lifecycle.end_call(str(call.pk), Call.Outcome.ERROR, "dial_failed")
        raise DialError(str(exc)) from exc
    lifecycle.set_provider_call_id(str(call.pk), sid)
    call.provider_call_id = sid
    return Placed(call, sid)
