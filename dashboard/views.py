"""Staff pages for sales agents: the lead list (+ CSV export), one call, per-bot stats.

Everything here is behind staff login: callers' names, phones and answers are
personal data. Login is the admin's (LOGIN_URL), so there is one account system.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bots.models import Bot, Question
from calls.models import Call, LatencySample
from calls.recording_links import recording_url
from calls.persistence.latency_stats import STAGES
from calls.transport.phone import twilio_rest
from calls.transport.phone.outbound import DialError, DialRefused, check_staff_dial, place_call
from dashboard import stats
from dashboard.csv_export import csv_response, csv_value, iso
from dashboard.forms import LeadFilterForm, LeadStatusForm
from dashboard.leads import (
    CHANGE_PERM,
    LISTEN_PERM,
    VIEW_PERM,
    callback_of,
    lead_queryset,
    outcome_of,
)
from dashboard.svg import Bar, Series, funnel_svg, line_chart_svg

PAGE_SIZE = 25
STAGE_LABELS = dict(LatencySample.Stage.choices)
STATS_RANGES = {1: "24 hours", 7: "7 days", 30: "30 days", 90: "90 days"}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(f"needs {perm}")


@staff_member_required
def lead_list(request: HttpRequest) -> HttpResponse:
    _require(request, VIEW_PERM)
    form = LeadFilterForm(request.GET)
    calls = form.filter(lead_queryset())
    page = Paginator(calls, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dashboard/lead_list.html",
        {
            "form": form,
            "page": page,
            "bots": Bot.objects.order_by("name").only("slug", "name"),
            "live_inserts": page.number == 1 and not form.active,
        },
    )


@staff_member_required
def export_csv(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV, one column per question key (in script order)."""
    _require(request, VIEW_PERM)
    form = LeadFilterForm(request.GET)
    calls = form.filter(lead_queryset()).prefetch_related("answers")
    bot = form.cleaned_data.get("bot") if form.is_valid() else None
    keys = _question_keys(bot)
    response, writer = csv_response("leads")
    writer.writerow(
        ["call_id", "created_at", "caller_name", "caller_phone", "bot", "status", "outcome", "outcome_label",
         "transfer", "lead_status", "lead_note", "callback_due_at", "ended_at", *keys]
    )
    for call in calls.iterator(chunk_size=500):
        outcome = outcome_of(call)
        answers = {a.question_key: a.value for a in call.answers.all()}
        writer.writerow(
            [call.pk, iso(call.created_at), call.caller_name, call.caller_phone, call.bot.slug, call.status,
             call.outcome, outcome.label, "yes" if outcome.transfer else "", call.lead_status, call.lead_note,
             iso(call.callback_due_at), iso(call.ended_at), *(csv_value(answers.get(k)) for k in keys)]
        )
    return response


def _question_keys(bot: Bot | None) -> list[str]:
    """Answer columns: the bot's question keys, or every bot's (deduplicated, in script order)."""
    questions = Question.objects.order_by("bot__name", "order", "id")
    if bot is not None:
        questions = questions.filter(bot=bot)
    return list(dict.fromkeys(questions.values_list("key", flat=True)))


@staff_member_required
def call_detail(request: HttpRequest, call_id) -> HttpResponse:
    _require(request, VIEW_PERM)
    call = get_object_or_404(
        Call.objects.select_related("bot", "lead_updated_by").prefetch_related(
            "turns",
            "answers",
            Prefetch("latency_samples", queryset=LatencySample.objects.order_by("turn", "id")),
        ),
        pk=call_id,
    )
    if request.method == "POST":
        _require(request, CHANGE_PERM)
        form = LeadStatusForm(request.POST, instance=call)
        if form.is_valid():
            lead = form.save(commit=False)
            lead.lead_updated_by = request.user
            lead.lead_updated_at = timezone.now()
            lead.save(update_fields=["lead_status", "lead_note", "lead_updated_by", "lead_updated_at"])
            messages.success(request, f"Lead marked {lead.get_lead_status_display().lower()}.")
            return redirect("dashboard:call", call_id=call.pk)
    else:
        form = LeadStatusForm(instance=call)
    return render(
        request,
        "dashboard/call_detail.html",
        {
            "call": call,
            "form": form,
            "outcome": outcome_of(call),
            "callback": callback_of(call),
            "latency_rows": _latency_rows(call.latency_samples.all()),
            # "Call now" only when Twilio is configured, the lead left a dialable number and
            # the agent may dial (calls.transport.phone.outbound.check_staff_dial).
            "dial_number": twilio_rest.e164(call.caller_phone)
            if twilio_rest.outbound_enabled() and request.user.has_perm(CHANGE_PERM)
            else None,
            "stages": [STAGE_LABELS[stage] for stage in STAGES],
            "can_listen": request.user.has_perm(LISTEN_PERM),
        },
    )


@staff_member_required
def call_recording(request: HttpRequest, call_id) -> HttpResponse:
    """The call's recording: a redirect to a link that expires in RECORDING_URL_SECONDS
    (the player asks again when it has), for agents with `calls.listen_recording` only."""
    _require(request, VIEW_PERM)
    _require(request, LISTEN_PERM)
    call = get_object_or_404(Call.objects.only("pk", "recording"), pk=call_id)
    url = recording_url(call, settings.RECORDING_URL_SECONDS)
    if not url:
        raise Http404("this call has no stored recording")
    response = redirect(url)
    response["Cache-Control"] = "private, no-store"
    return response


@staff_member_required
@require_POST
def call_now(request: HttpRequest, call_id) -> HttpResponse:
    """Phone the lead again with the same bot; the new call's page shows its progress live.
    Needs the change permission, and at most OUTBOUND_DIAL_LIMIT dials per window."""
    _require(request, CHANGE_PERM)
    lead = get_object_or_404(Call.objects.select_related("bot"), pk=call_id)
    number = twilio_rest.e164(lead.caller_phone)
    if not twilio_rest.outbound_enabled() or number is None:
        messages.error(request, "This lead cannot be called: no Twilio account, or no number in +E.164 form.")
        return redirect("dashboard:call", call_id=lead.pk)
    try:
        check_staff_dial(request.user, number)
    except DialRefused as refused:
        messages.error(request, refused.message)
        return redirect("dashboard:call", call_id=lead.pk)
    try:
        placed = place_call(lead.bot, number, lead.caller_name)
    except DialError as exc:
        messages.error(request, f"Twilio did not place the call: {exc}")
        return redirect("dashboard:call", call_id=lead.pk)
    messages.success(request, f"Calling {number} with {lead.bot.name}.")
    return redirect("dashboard:call", call_id=placed.call.pk)


def _latency_rows(samples) -> list[dict]:
    """One row per turn: {"turn": n, "cells": [(ms, provider) or None per stage]}."""
    per_turn: dict[int, dict[str, LatencySample]] = defaultdict(dict)
    for sample in samples:
        per_turn[sample.turn][sample.stage] = sample
    return [
        {"turn": turn, "cells": [per_turn[turn].get(stage) for stage in STAGES]} for turn in sorted(per_turn)
    ]


@staff_member_required
def bot_stats(request: HttpRequest, slug: str) -> HttpResponse:
    _require(request, VIEW_PERM)
    bot = get_object_or_404(Bot, slug=slug)
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 7
    if days not in STATS_RANGES:
        days = 7
    now = timezone.now()
    since = now - timedelta(days=days)
    steps = stats.funnel(bot, since=since)
    latency = stats.latency_overview(bot, days, now=now)
    chart_series = [
        Series("p50", "p50", [(b.start, b.p50) for b in latency.buckets]),
        Series("p95", "p95", [(b.start, b.p95) for b in latency.buckets]),
    ]
    return render(
        request,
        "dashboard/bot_stats.html",
        {
            "bot": bot,
            "days": days,
            "ranges": STATS_RANGES.items(),
            "steps": steps,
            "funnel_svg": funnel_svg(
                [Bar(s.label, s.count, f"{s.percent:.0f}%") for s in steps], title=f"Qualification funnel of {bot.name}"
            ),
            "latency": latency,
            "latency_svg": line_chart_svg(
                chart_series,
                start=timezone.localtime(latency.start),
                end=timezone.localtime(latency.end),
                title=f"Response time p50 and p95 per {latency.bucket}",
                time_format="%d %b %H:%M" if latency.bucket == "hour" else "%d %b",
            )
            if latency.buckets
            else None,
            "stage_rows": [(STAGE_LABELS.get(stage, stage), summary) for stage, summary in latency.stages.items()],
        },
    )
