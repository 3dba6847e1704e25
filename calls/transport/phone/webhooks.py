"""HTTP side of phone lines: Twilio's Voice and status webhooks, and the outbound-call API.

Webhooks exist only with TWILIO_AUTH_TOKEN set (404 otherwise: without it no request
can be told to be Twilio's), and answer Twilio (TwiML or an empty 204) after checking
`X-Twilio-Signature`. A call that may not start now (the worker drains, every line is
taken, the caller's number over the call rate limit: `calls.transport.phone.limits`)
is rejected with a busy tone. The API answers JSON in calls.http.api's error style.
"""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bots.models import Bot
from calls.http.auth import bearer_token
from calls.http.clientip import client_ip
from calls.http.errors import error, json_object
from calls.http.tokens import make_token
from calls.persistence import lifecycle
from calls.transport.phone import limits, twilio_rest
from calls.transport.phone.outbound import DialError, DialRefused, check_key_dial, check_staff_dial, place_call

TWIML = "text/xml"


def _twiml(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, content_type=TWIML, status=status)


def _forbidden() -> HttpResponse:
    return HttpResponse("Invalid X-Twilio-Signature.", status=403, content_type="text/plain")


def twilio_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view Twilio calls: 404 for every method unless Twilio is configured
    (TWILIO_AUTH_TOKEN), then POST only, no CSRF token, a valid `X-Twilio-Signature` (403)."""

    @require_POST
    def signed_post(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not twilio_rest.signature_ok(request):
            return _forbidden()
        return view(request, *args, **kwargs)

    @csrf_exempt
    @wraps(view)
    def twilio_view(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not twilio_rest.inbound_enabled():
            raise Http404("Twilio is not configured")
        return signed_post(request, *args, **kwargs)

    return twilio_view


@twilio_webhook
def twilio_voice(request: HttpRequest) -> HttpResponse:
    """A call to a Twilio number: create the Call and connect its media stream to us."""
    slug = request.GET.get("bot", "")
    bot = Bot.objects.filter(slug=slug, active=True).first() if slug else None
    if bot is None or not bot.questions.exists():
        return _twiml(twilio_rest.unavailable_twiml("Sorry, this number is not connected to a bot."))
    caller = request.POST.get("From", "")
    if limits.refusal(caller, client_ip(request) or "", lines_anywhere=True):
        return _twiml(twilio_rest.busy_twiml())
    call = lifecycle.create_phone_call(
        bot,
        caller_phone=caller,
        provider_call_id=request.POST.get("CallSid", ""),
        caller_name=request.POST.get("CallerName", ""),
    )
    return _twiml(twilio_rest.stream_twiml(twilio_rest.stream_url(request), make_token(str(call.pk))))


@twilio_webhook
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback: progress for the dashboard; a call whose line is gone is ended."""
    sid, status = request.POST.get("CallSid", ""), request.POST.get("CallStatus", "")
    if sid and status:
        lifecycle.carrier_status(sid, status)
    return HttpResponse(status=204)


def _outbound_caller(request: HttpRequest) -> tuple[str, JsonResponse | None]:
    """Who dials: "key" (Bearer OUTBOUND_API_KEY) or "staff" (a staff session, which must
    pass Django's CSRF check); or the error to answer."""
    key = bearer_token(request)
    if key:
        if settings.OUTBOUND_API_KEY and hmac.compare_digest(key.encode(), settings.OUTBOUND_API_KEY.encode()):
            return "key", None
        return "", error(401, "unauthorized", "The API key is not valid.")
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return "", error(401, "unauthorized", "Send 'Authorization: Bearer <OUTBOUND_API_KEY>' or sign in as staff.")
    refused = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
    if refused is not None:
        return "", error(403, "csrf_failed", "A signed-in request needs the CSRF token.")
    return "staff", None


@csrf_exempt  # API keys need no CSRF token; session callers are checked in _outbound_caller
@require_POST
def outbound_call(request: HttpRequest) -> JsonResponse:
    if not twilio_rest.outbound_enabled():
        return error(
            503, "telephony_disabled",
            "Outbound calls need TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER and PUBLIC_BASE_URL.",
        )
    caller, problem = _outbound_caller(request)
    if problem is not None:
        return problem
    data = json_object(request)
    if isinstance(data, JsonResponse):
        return data
    slug, to = data.get("bot"), data.get("to")
    name = data.get("caller") or {}
    name = name.get("name", "") if isinstance(name, dict) else None
    if not isinstance(slug, str) or not slug:
        return error(400, "bad_request", 'Give the bot\'s slug as "bot".')
    if not isinstance(to, str) or not twilio_rest.E164.fullmatch(to):
        return error(400, "bad_number", '"to" must be a phone number in E.164 form, like +14155550100.')
    if not isinstance(name, str) or len(name) > 120:
        return error(400, "bad_request", '"caller" must be an object whose "name" is a string of at most 120 characters.')
    bot = Bot.objects.filter(slug=slug, active=True).first()
    if bot is None or not bot.questions.exists():
        return error(404, "unknown_bot", f"No active bot called {slug!r}.")
    try:
        if caller == "staff":
            check_staff_dial(request.user, to)
        else:
            check_key_dial()
    except DialRefused as refused:
        extra = {"Retry_After": str(refused.retry_after)} if refused.retry_after else {}
        return error(refused.status, refused.code, refused.message, **extra)
    try:
        placed = place_call(bot, to, name.strip())
    except DialError as exc:
        return error(502, "dial_failed", f"Twilio did not place the call: {exc}")
    return JsonResponse({"call_id": str(placed.call.pk), "provider_call_id": placed.provider_call_id}, status=201)
