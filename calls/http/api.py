"""HTTP API of the call protocol (docs/protocol.md §1): list bots, start a call, read a call.

Errors are always JSON: {"error": {"code", "message"}}.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from bots.models import Bot
from calls import metrics
from calls.http.auth import bearer_token
from calls.http.clientip import client_ip
from calls.http.errors import error
from calls.http.ratelimit import WEB_CALLS, call_wait_seconds
from calls.http.tokens import make_token, token_matches
from calls.models import Call
from calls.persistence import lifecycle
from calls.worker import admission
from calls.worker.drain import BUSY_MESSAGE, RETRY_AFTER_S
from calls.worker.registry import live_calls

log = logging.getLogger(__name__)

MODES = {choice.value for choice in Call.Mode}
VIEW_PERM = "calls.view_call"  # what the dashboard asks of staff (dashboard.leads.VIEW_PERM)


@require_GET
def list_bots(request: HttpRequest) -> JsonResponse:
    bots = Bot.objects.filter(active=True).order_by("name").values("slug", "name", "description")
    return JsonResponse({"bots": list(bots)})


def _parse_start(body: bytes) -> tuple[dict[str, Any] | None, JsonResponse | None]:
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        return None, error(400, "bad_json", "The request body must be a JSON object.")
    if not isinstance(data, dict):
        return None, error(400, "bad_request", "The request body must be a JSON object.")
    slug = data.get("bot")
    if not isinstance(slug, str) or not slug:
        return None, error(400, "bad_request", 'Give the bot\'s slug as "bot".')
    mode = data.get("mode", Call.Mode.VAD)
    if mode not in MODES:
        return None, error(400, "bad_request", f'"mode" must be one of {sorted(MODES)}.')
    caller = data.get("caller", {}) or {}
    if not isinstance(caller, dict):
        return None, error(400, "bad_request", '"caller" must be an object with "name" and "phone".')
    name, phone = caller.get("name", "") or "", caller.get("phone", "") or ""
    if not isinstance(name, str) or not isinstance(phone, str) or len(name) > 120 or len(phone) > 40:
        return None, error(400, "bad_request", "Caller name (≤120) and phone (≤40) must be strings.")
    return {"slug": slug, "mode": mode, "name": name.strip(), "phone": phone.strip()}, None


@csrf_exempt
@require_http_methods(["POST"])
def start_call(request: HttpRequest) -> JsonResponse:
    parsed, problem = _parse_start(request.body)
    if problem:
        return problem
    assert parsed is not None
    bot = Bot.objects.filter(slug=parsed["slug"], active=True).first()
    if bot is None or not bot.questions.exists():
        return error(404, "unknown_bot", f"No active bot called {parsed['slug']!r}.")
    if live_calls.draining:
        metrics.refused("busy")
        return error(503, "busy", BUSY_MESSAGE, Retry_After=str(RETRY_AFTER_S))
    ip = client_ip(request)
    cap = settings.MAX_CALLS_PER_CLIENT
    if cap and ip and lifecycle.open_calls_from(ip) >= cap:
        metrics.refused("too_many_calls")
        return error(
            429, "too_many_calls", f"This client already has {cap} calls open; end one first.",
            Retry_After=str(settings.BUSY_RETRY_AFTER),
        )
    wait = call_wait_seconds(WEB_CALLS, ip or "unknown")
    if wait:
        metrics.refused("rate_limited")
        return error(429, "rate_limited", f"Too many calls from this client; try again in {wait} s.", Retry_After=str(wait))
    if admission.server_free_slots() <= 0:
        metrics.refused("busy")
        return error(
            503, "busy", "Every line is busy; try again shortly.", Retry_After=str(settings.BUSY_RETRY_AFTER)
        )
    call = lifecycle.create_call(
        bot, mode=parsed["mode"], caller_name=parsed["name"], caller_phone=parsed["phone"], client_ip=ip
    )
    token = make_token(str(call.pk))
    return JsonResponse(
        {
            "call_id": str(call.pk),
            "ws_url": f"/ws/calls/{call.pk}/?token={token}",
            "bot": {"slug": bot.slug, "name": bot.name},
            "token": token,
            "expires_in": settings.CALL_TOKEN_MAX_AGE,
        },
        status=201,
    )


def serialize_call(call: Call) -> dict[str, Any]:
    latency: dict[int, dict[str, Any]] = {}
    for sample in call.latency_samples.all():
        row = latency.setdefault(sample.turn, {"turn": sample.turn})
        row[f"{sample.stage}_ms"] = round(sample.ms, 1)
        if sample.provider:
            row.setdefault("providers", {})[sample.stage] = sample.provider
    return {
        "call_id": str(call.pk),
        "bot": {"slug": call.bot.slug, "name": call.bot.name},
        "mode": call.mode,
        "status": call.status,
        "outcome": call.outcome or None,
        "reason": call.end_reason or None,
        "caller": {"name": call.caller_name, "phone": call.caller_phone},
        "created_at": call.created_at.isoformat(),
        "started_at": call.started_at.isoformat() if call.started_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "answers": [
            {
                "question": a.question_key,
                "question_text": a.question_text,
                "transcript": a.transcript,
                "value": a.value,
                "understood": a.understood,
                "qualifies": a.qualifies,
                "attempts": a.attempts,
            }
            for a in call.answers.all()
        ],
        "turns": [
            {"turn": t.index, "speaker": t.speaker, "text": t.text, "interrupted": t.interrupted, "at": t.created_at.isoformat()}
            for t in call.turns.all()
        ],
        "latency": [latency[k] for k in sorted(latency)],
    }


@require_GET
def call_detail(request: HttpRequest, call_id: str) -> JsonResponse:
    token = bearer_token(request)
    # Staff read any call with the dashboard's own permission (calls.view_call), nothing less.
    is_staff = request.user.is_authenticated and request.user.is_staff
    may_view = is_staff and request.user.has_perm(VIEW_PERM)
    if not token and not may_view:
        if is_staff:
            return error(403, "forbidden", "Reading calls needs the permission to view calls.")
        return error(401, "unauthorized", "Send the call token as 'Authorization: Bearer <token>'.")
    if not may_view and not token_matches(token, call_id):
        return error(401, "unauthorized", "The token is invalid, expired, or for another call.")
    call = (
        Call.objects.select_related("bot")
        .prefetch_related("answers", "turns", "latency_samples")
        .filter(pk=call_id)
        .first()
    )
    if call is None:
        return error(404, "not_found", "No such call.")
    return JsonResponse(serialize_call(call))
