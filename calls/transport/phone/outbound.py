"""Outbound phone calls: one function behind both `POST /api/outbound-calls/` and the
dashboard's "Call now" button, so both dial the same way.

Dialling costs money and can be abused for toll fraud, so who may dial what is
bounded here too (`check_staff_dial`, `check_key_dial`): a staff member needs the
change permission on calls, may dial only numbers of calls already in the system (a
lead calling back), and at most OUTBOUND_DIAL_LIMIT times per OUTBOUND_DIAL_WINDOW;
the API key (an integration placing calls to new leads) is held to the same rate.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from bots.models import Bot
from calls.http.ratelimit import STAFF_DIALS, wait_seconds
from calls.http.tokens import make_token
from calls.models import Call
from calls.persistence import lifecycle
from calls.transport.phone import twilio_rest

DIAL_PERM = "calls.change_call"  # what a sales agent needs to change a lead (dashboard.leads.CHANGE_PERM)
KNOWN_NUMBER_SCAN = 1000  # stored numbers compared at most, of those ending in the same four digits


class DialError(Exception):
    """Twilio refused the call or could not be reached; the call is stored as ended (error)."""


class DialRefused(Exception):
    """This dial is not allowed: `status` and `code` for the API's error, `message` for people."""

    def __init__(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def known_number(number: str) -> bool:
    """Whether E.164 `number` is a caller's number in some stored call (however it was written)."""
    digits = number.lstrip("+")
    stored = (
        Call.objects.filter(caller_phone__endswith=digits[-4:])
        .values_list("caller_phone", flat=True)
        .distinct()[:KNOWN_NUMBER_SCAN]
    )
    return any(twilio_rest.e164(phone) == number for phone in stored)


def _rate(account: str) -> None:
    wait = wait_seconds(STAFF_DIALS, account, settings.OUTBOUND_DIAL_LIMIT, settings.OUTBOUND_DIAL_WINDOW)
    if wait:
        raise DialRefused(429, "rate_limited", f"Too many calls placed from this account; try again in {wait} s.", wait)


def check_staff_dial(user: AbstractBaseUser | AnonymousUser, number: str) -> None:
    """Raise DialRefused unless `user` may dial `number` now (counts the dial)."""
    if not user.has_perm(DIAL_PERM):
        raise DialRefused(403, "forbidden", "Placing calls needs the permission to change calls.")
    if not known_number(number):
        raise DialRefused(403, "unknown_number", "Staff may call only numbers of calls already in the system.")
    _rate(f"user:{user.pk}")


def check_key_dial() -> None:
    """Raise DialRefused when the API key has dialled too often (counts the dial)."""
    _rate("outbound-api-key")


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
