"""The staff action on a call's page: resend its webhooks (same webhook-ids)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from calls.delivery.resend import resend_call
from calls.delivery.templatetags.delivery_tags import RESEND_PERM
from calls.models import Call


@staff_member_required
@require_POST
def resend_call_view(request: HttpRequest, call_id) -> HttpResponse:
    if not request.user.has_perm(RESEND_PERM):
        raise PermissionDenied(f"needs {RESEND_PERM}")
    call = get_object_or_404(Call, pk=call_id)
    count = resend_call(str(call.pk))
    messages.success(request, f"{count} webhook deliveries sent again, with the same webhook-ids.")
    return redirect("dashboard:call", call_id=call.pk)
