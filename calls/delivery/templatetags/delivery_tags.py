"""`{% call_deliveries call %}`: a call's webhook deliveries on its dashboard page."""
from __future__ import annotations

from django import template

from calls.delivery.models import Delivery

register = template.Library()

RESEND_PERM = "calls.change_call"


@register.inclusion_tag("delivery/_call_deliveries.html", takes_context=True)
def call_deliveries(context: template.Context, call) -> dict:
    request = context.get("request")
    deliveries = list(Delivery.objects.filter(event__call=call).select_related("event", "destination").order_by("id"))
    return {
        "call": call,
        "deliveries": deliveries,
        "can_resend": request is not None and request.user.has_perm(RESEND_PERM)
        and any(d.status in ("done", "failed") for d in deliveries),
        "csrf_token": context.get("csrf_token"),
    }
