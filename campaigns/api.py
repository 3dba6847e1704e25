"""`POST /api/campaigns/<id>/leads/`: a web form hands over a lead to call now.

Authorised by `Authorization: Bearer <OUTBOUND_API_KEY>` only (the key that may already
place outbound calls); with no key set the endpoint does not exist (404, secure by
default). Errors are JSON in the API's style. A lead that arrives while its campaign runs,
inside its calling hours, is dialled within seconds: the dialer is woken on commit.
"""
from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls.http.auth import bearer_token
from calls.http.errors import error, json_object
from campaigns import clock
from campaigns.leads_in import BadLead, LeadIn, add_lead, checked
from campaigns.models import Campaign

BODY_MAX = 16_384


@csrf_exempt
@require_POST
def add_lead_view(request: HttpRequest, campaign_id: int) -> JsonResponse:
    if not settings.OUTBOUND_API_KEY:
        return error(404, "not_found", "Not found.")  # the API is off: OUTBOUND_API_KEY is not set
    key = bearer_token(request)
    if not key or not hmac.compare_digest(key.encode(), settings.OUTBOUND_API_KEY.encode()):
        return error(401, "unauthorized", "Send 'Authorization: Bearer <OUTBOUND_API_KEY>'.")
    if len(request.body) > BODY_MAX:
        return error(413, "too_large", f"A lead is at most {BODY_MAX} bytes of JSON.")
    data = json_object(request)
    if isinstance(data, JsonResponse):
        return data
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return error(404, "unknown_campaign", f"No campaign {campaign_id}.")
    text = {name: data.get(name, "") for name in ("phone", "name", "time_zone", "region")}
    fields = data.get("fields", {})
    if any(not isinstance(value, str) for value in text.values()) or not isinstance(fields, dict):
        return error(400, "bad_request", '"phone", "name", "time_zone" and "region" are strings; "fields" is an object.')
    try:
        lead = checked(LeadIn(phone=text["phone"], name=text["name"], time_zone=text["time_zone"], fields=fields),
                       text["region"] or None)
    except BadLead as exc:
        return error(400, "bad_lead", str(exc))
    added = add_lead(campaign, lead, source="api", now=clock.now())
    row = added.lead
    return JsonResponse({
        "lead_id": row.pk, "campaign": {"id": campaign.pk, "name": campaign.name}, "phone": row.phone,
        "state": row.state, "merged": added.merged,
    }, status=200 if added.merged else 201)
