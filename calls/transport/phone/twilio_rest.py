"""Twilio, through its official SDK: webhook signatures, the TwiML we answer, the REST API.

Signatures are checked with `twilio.request_validator.RequestValidator` (never a copy
of its HMAC), TwiML is built with `twilio.twiml`, and hang-up / outbound dialling go
through `twilio.rest.Client`. The SDK's HTTP client is synchronous (requests), so
async code calls `hang_up` through a worker thread.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse

log = logging.getLogger(__name__)

STREAM_PATH = "/ws/telephony/twilio/"
STATUS_PATH = "/telephony/twilio/status/"
# Progress Twilio reports to the status callback of an outbound call (shown live on the dashboard).
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
E164 = re.compile(r"\+[1-9]\d{6,14}")

__all__ = [
    "TwilioException", "busy_twiml", "dial", "e164", "hang_up", "inbound_enabled", "outbound_enabled", "say_and_hang_up",
    "calls_to", "fetch_call",
    "signature_ok",
    "stream_twiml", "unavailable_twiml",
]


def e164(number: str) -> str | None:
    """`number` as E.164 ("+91 98765-43210" -> "+919876543210"), or None if it is not one."""
    compact = re.sub(r"[\s\-().]", "", number or "")
    return compact if E164.fullmatch(compact) else None


def inbound_enabled() -> bool:
    """Twilio's webhooks and stream exist only when their signatures can be checked:
    without TWILIO_AUTH_TOKEN anyone could create calls and end them (secure by default)."""
    return bool(settings.TWILIO_AUTH_TOKEN)


def outbound_enabled() -> bool:
    """Outbound calls need the account, a number to call from and our public address."""
    return bool(
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER and settings.PUBLIC_BASE_URL
    )


def public_url(request: HttpRequest) -> str:
    """The URL Twilio requested, as Twilio saw it (PUBLIC_BASE_URL when behind a proxy)."""
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


def signature_ok(request: HttpRequest) -> bool:
    """True when `X-Twilio-Signature` signs this URL and form with TWILIO_AUTH_TOKEN
    (never without a token)."""
    if not settings.TWILIO_AUTH_TOKEN:
        return False
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(public_url(request), request.POST, signature)


def stream_url(request: HttpRequest | None = None) -> str:
    """wss://<host>/ws/telephony/twilio/ (ws:// only for a request that came over plain HTTP)."""
    if settings.PUBLIC_BASE_URL:
        base = urlsplit(settings.PUBLIC_BASE_URL)
        scheme = "wss" if base.scheme == "https" else "ws"
        return f"{scheme}://{base.netloc}{STREAM_PATH}"
    if request is None:
        raise ValueError("PUBLIC_BASE_URL is needed to build a stream URL outside a request")
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{STREAM_PATH}"


def stream_twiml(url: str, token: str) -> str:
    """<Connect><Stream>: a bidirectional media stream (one-way <Start><Stream> leaves callers in silence)."""
    stream = Stream(url=url)
    stream.parameter(name="token", value=token)
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    return str(response)


def busy_twiml() -> str:
    """<Reject reason="busy"/>: the caller hears a busy tone; the call is never answered (nor billed)."""
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)


def unavailable_twiml(message: str) -> str:
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def rest_client() -> Client:
    client = Client(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        http_client=TwilioHttpClient(timeout=settings.CLOUD_TIMEOUT),
    )
    client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")
    return client


def hang_up(call_sid: str) -> bool:
    """End a live call (`Status=completed`). Blocking: run it in a thread from async code.
    Returns False (and logs) when Twilio is not configured or refuses; the caller's line
    then ends when the stream closes."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and call_sid):
        return False
    try:
        rest_client().calls(call_sid).update(status="completed")
        return True
    except (TwilioException, OSError) as exc:
        log.warning("Twilio hang-up of %s failed: %s", call_sid, exc)
        return False


def dial(
    to: str, twiml: str, *, from_: str = "", status_callback: str = "", amd_callback: str = "",
    machine_detection: str = "DetectMessageEnd",
) -> str:
    """Ask Twilio to call `to` and run `twiml` when answered; returns the CallSid.
    `status_callback`: where Twilio reports progress (default: our status webhook);
    `amd_callback`: turns on asynchronous answering-machine detection, whose verdict
    (`AnsweredBy`) Twilio POSTs there while the TwiML already runs.
    Raises TwilioException (a refusal) or OSError (network)."""
    options: dict[str, str] = {}
    if amd_callback:
        options = {"machine_detection": machine_detection, "async_amd": "true",
                   "async_amd_status_callback": amd_callback, "async_amd_status_callback_method": "POST"}
    call = rest_client().calls.create(
        to=to,
        from_=from_ or settings.TWILIO_FROM_NUMBER,
        twiml=twiml,
        status_callback=status_callback or settings.PUBLIC_BASE_URL + STATUS_PATH,
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
        **options,
    )
    return str(call.sid)


def fetch_call(call_sid: str) -> tuple[str, str] | None:
    """A call's status and AnsweredBy as Twilio has them now (a callback may have been lost).
    Blocking. None (and logged) when Twilio refuses, cannot be reached or is not configured."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and call_sid):
        return None
    try:
        call = rest_client().calls(call_sid).fetch()
    except (TwilioException, OSError) as exc:
        log.warning("Twilio fetch of %s failed: %s", call_sid, exc)
        return None
    return str(call.status or ""), str(call.answered_by or "")


def calls_to(to: str, from_: str, since: datetime) -> list[tuple[str, str]] | None:
    """The (CallSid, status) of calls from `from_` to `to` created at or after `since`, newest
    first (a dial whose answer was lost: did Twilio place it?). Blocking. None when Twilio
    cannot be asked."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        return None
    try:
        found = rest_client().calls.list(to=to, from_=from_ or settings.TWILIO_FROM_NUMBER, limit=20)
    except (TwilioException, OSError) as exc:
        log.warning("Twilio list of calls to %s failed: %s", to, exc)
        return None
    return [(str(c.sid), str(c.status or "")) for c in found if c.date_created is None or c.date_created >= since]


def say_and_hang_up(call_sid: str, message: str) -> bool:
    """Replace a live call's TwiML by <Say>message</Say><Hangup/> (a voicemail left after
    the beep). Blocking. False (and logged) when Twilio refuses or is not configured."""
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and call_sid):
        return False
    try:
        rest_client().calls(call_sid).update(twiml=unavailable_twiml(message))
        return True
    except (TwilioException, OSError) as exc:
        log.warning("Twilio update of %s failed: %s", call_sid, exc)
        return False
