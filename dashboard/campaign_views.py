"""Staff pages of outbound campaigns: the list, a campaign's page (live progress, funnel,
pause/resume, CSV upload, export, its leads) and a lead's page (its attempts and calls).

Why polling and not a channel-layer group like the lead list: a lead's state changes inside
the dialer's transactions, some of them bulk UPDATEs (do-not-call numbers) that send no
signal, and a push per change would put a channel-layer send in the dialer's path for every
lead of a 2,000-lead campaign. The page instead asks `progress.json` every few seconds while
it is visible: one GROUP BY on the (campaign, state) index per open page, whatever happens
on the lines, and nothing per audio frame.

Permissions are the campaigns app's own model permissions (dashboard.campaign_data): seeing
campaigns, seeing leads (personal data), changing a campaign's state, adding leads. The
state changes are campaigns.actions', the import campaigns.leads_in's, as in the admin and
`manage.py campaign`.
"""
from __future__ import annotations

import phonenumbers
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns import actions
from campaigns.leads_in import BadLead, ImportReport, csv_rows, import_leads
from campaigns.models import Attempt, Campaign, Lead
from dashboard import campaign_data as data
from dashboard.csv_export import csv_response
from dashboard.leads import VIEW_PERM as VIEW_CALLS
from dashboard.svg import Bar, funnel_svg

PAGE_SIZE = 50
POLL_SECONDS = 3  # how often an open campaign page asks for its counts
UPLOAD_MAX_BYTES = 8 * 1024 * 1024
UPLOAD_MAX_ROWS = 5_000  # one request (each row a few queries, under the proxy's 60 s); bigger: `manage.py campaign add-leads`
ERRORS_SHOWN = 200  # bad lines listed on the page (all are counted)
ACTIONS = {"start": actions.start, "pause": actions.pause, "resume": actions.resume, "finish": actions.finish}


def _require(request: HttpRequest, *perms: str) -> None:
    for perm in perms:
        if not request.user.has_perm(perm):
            raise PermissionDenied(f"needs {perm}")


@staff_member_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    _require(request, data.VIEW_CAMPAIGN)
    campaigns = list(Campaign.objects.select_related("bot").only("name", "state", "bot__name", "created_at"))
    progress = data.progress_of(c.pk for c in campaigns)
    return render(request, "dashboard/campaign_list.html", {
        "rows": [(c, progress[c.pk]) for c in campaigns],
        "order": [(state, data.STATE_LABELS[state]) for state in data.PROGRESS_ORDER],
    })


@staff_member_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, data.VIEW_CAMPAIGN)
    campaign = get_object_or_404(Campaign.objects.select_related("bot"), pk=pk)
    return _campaign_page(request, campaign)


def _campaign_page(request: HttpRequest, campaign: Campaign, report: ImportReport | None = None,
                   upload_error: str = "", status: int = 200) -> HttpResponse:
    progress = data.progress_of([campaign.pk])[campaign.pk]
    steps = data.funnel(campaign)
    state = request.GET.get("state", "")
    leads_page = None
    if request.user.has_perm(data.VIEW_LEAD):
        leads = data.leads_with_outcome(campaign)
        if state in data.STATE_LABELS:
            leads = leads.filter(state=state)
        leads_page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/campaign_detail.html", {
        "campaign": campaign,
        "progress": progress,
        "poll_seconds": POLL_SECONDS,
        "steps": steps,
        "funnel_svg": funnel_svg([Bar(s.label, s.count, f"{s.percent:.0f}%") for s in steps],
                                 title=f"Qualification funnel of {campaign.name}"),
        "leads_page": leads_page,
        "state_filter": state if state in data.STATE_LABELS else "",
        "states": [(s, data.STATE_LABELS[s]) for s in data.PROGRESS_ORDER],
        "actions": _actions_for(request, campaign),
        "can_upload": request.user.has_perm(data.ADD_LEAD),  # a finished campaign runs again with new leads
        "report": report,
        "errors_shown": report.errors[:ERRORS_SHOWN] if report else [],
        "upload_error": upload_error,
        "upload_max_rows": UPLOAD_MAX_ROWS,
    }, status=status)


# The state buttons, each shown while the campaign is in one of its states (the page's script
# shows and hides them as the polled state changes, so a colleague's Pause swaps the buttons).
BUTTONS = [
    ("start", "Start", {Campaign.State.DRAFT}),
    ("pause", "Pause", {Campaign.State.RUNNING}),
    ("resume", "Resume", {Campaign.State.PAUSED}),
    ("finish", "Finish", {Campaign.State.RUNNING, Campaign.State.PAUSED}),
]


def _actions_for(request: HttpRequest, campaign: Campaign) -> list[dict[str, object]]:
    """The state buttons for a user with the change permission: action, label, the states
    it shows in (space-separated) and whether it shows now."""
    if not request.user.has_perm(data.CHANGE_CAMPAIGN):
        return []
    return [{"action": action, "label": label, "states": " ".join(sorted(states)), "shown": campaign.state in states}
            for action, label, states in BUTTONS]


@staff_member_required
@require_GET
@never_cache
def campaign_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The counts the open campaign page polls (see the module docstring)."""
    _require(request, data.VIEW_CAMPAIGN)
    campaign = get_object_or_404(Campaign.objects.only("pk", "state"), pk=pk)
    return JsonResponse(data.progress_json(campaign, data.progress_of([campaign.pk])[campaign.pk]))


@staff_member_required
@require_POST
def campaign_action(request: HttpRequest, pk: str, action: str) -> HttpResponse:
    """Start, pause, resume or finish (campaigns.actions); a refused change says why."""
    _require(request, data.VIEW_CAMPAIGN, data.CHANGE_CAMPAIGN)
    change = ACTIONS[action]  # the URL admits these only
    campaign = get_object_or_404(Campaign.objects.only("pk"), pk=pk)
    try:
        campaign = change(campaign.pk)
    except actions.CampaignActionError as refused:
        messages.error(request, f"Not done: {refused}.")
    else:
        messages.success(request, f"{campaign.name} is {campaign.get_state_display().lower()}.")
    return redirect("dashboard:campaign", pk=campaign.pk)


@staff_member_required
@require_POST
def campaign_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Leads from a CSV file (campaigns.leads_in): good rows kept, bad rows listed by line."""
    _require(request, data.VIEW_CAMPAIGN, data.ADD_LEAD)
    campaign = get_object_or_404(Campaign.objects.select_related("bot"), pk=pk)
    upload = request.FILES.get("file")
    try:
        region = _region(request.POST.get("region", ""))
        text = _upload_text(upload)
        rows = list(csv_rows(text))
        if len(rows) > UPLOAD_MAX_ROWS:
            raise BadLead(f"{len(rows)} rows: the dashboard takes at most {UPLOAD_MAX_ROWS} at once; split the file "
                          "or use manage.py campaign add-leads")
    except BadLead as bad:
        return _campaign_page(request, campaign, upload_error=str(bad), status=400)
    report = import_leads(campaign, rows, source="csv", region=region)
    return _campaign_page(request, campaign, report=report)


def _region(code: str) -> str | None:
    """The country (ISO 3166 alpha-2) of numbers written without +<country>, or None."""
    code = code.strip().upper()
    if not code:
        return None
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise BadLead(f"{code!r} is not a country code like IN, GB or US")
    return code


def _upload_text(upload) -> str:
    if upload is None:
        raise BadLead("choose a CSV file to upload")
    if upload.size > UPLOAD_MAX_BYTES:
        raise BadLead(f"the file is larger than {UPLOAD_MAX_BYTES // (1024 * 1024)} MB: split it")
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadLead(f"the file is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8") from exc


@staff_member_required
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    """Every lead of the campaign: state, attempts, last result, its latest call's outcome, fields."""
    _require(request, data.VIEW_CAMPAIGN, data.VIEW_LEAD)
    campaign = get_object_or_404(Campaign, pk=pk)
    response, writer = csv_response(f"campaign-{campaign.pk}-leads")
    for row in data.export_rows(campaign):
        writer.writerow(row)
    return response


@staff_member_required
def lead_detail(request: HttpRequest, pk: int, lead_id: int) -> HttpResponse:
    """A lead's fields, its attempts (carrier and AMD results) and the calls they led to."""
    _require(request, data.VIEW_CAMPAIGN, data.VIEW_LEAD)
    lead = get_object_or_404(Lead.objects.select_related("campaign__bot"), pk=lead_id, campaign_id=pk)
    attempts = Attempt.objects.filter(lead=lead).select_related("call").order_by("number")
    return render(request, "dashboard/lead_detail.html", {
        "lead": lead,
        "campaign": lead.campaign,
        "attempts": attempts,
        "fields": sorted(lead.fields.items()) if isinstance(lead.fields, dict) else [],
        "can_view_calls": request.user.has_perm(VIEW_CALLS),
    })
