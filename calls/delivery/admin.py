"""Destinations in the admin: add one per bot, see its secret once, rotate it, see its
health, resend what failed; and a read-only list of deliveries.

The signing secret is generated, never typed: after adding a destination (or rotating
its secret) the change page shows it once, from the staff member's server-side
session, and from then on only its last four characters. The destination that
LEAD_WEBHOOK_URL stands for is read-only but for Active (a 410 may have disabled it).
"""
from __future__ import annotations

from datetime import datetime, time
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from calls.delivery import transport
from calls.delivery.health import health_of
from calls.delivery.models import EVENT_TYPES, Delivery, Destination
from calls.delivery.resend import resend, resend_failed_since
from calls.delivery.signing import masked

SESSION_SECRET = "delivery-new-secret-{}"
SHOWN = ["signing_secret", "health_label", "last_success_at", "failing_since", "last_error", "disabled_reason"]


def https_urls(field: models.Field, **kwargs) -> forms.Field | None:
    """A URL typed without a scheme is https (Django 6's default, asked for now)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class DestinationForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPES, widget=forms.CheckboxSelectMultiple, initial=[key for key, _ in EVENT_TYPES],
        help_text="lead.qualified is sent after the call's call.ended.",
    )

    class Meta:
        model = Destination
        fields = ["name", "bot", "url", "event_types", "active"]
        formfield_callback = https_urls

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        host = urlsplit(url).hostname
        if not url.startswith(("https://", "http://")) or not host:
            raise ValidationError("Use an https:// address.")
        try:
            transport.resolve(host, 443, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
        except transport.Refused as exc:
            raise ValidationError(str(exc)) from exc
        except OSError as exc:
            raise ValidationError(f"{host} does not resolve: {exc}") from exc
        return url


class ResendSinceForm(forms.Form):
    since = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Failed deliveries of events from this day on.")


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    form = DestinationForm
    change_form_template = "admin/delivery/destination/change_form.html"
    list_display = ["name", "bot_label", "url", "active", "health_label", "last_success_at"]
    list_filter = ["active", "bot"]
    search_fields = ["name", "url"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_readonly_fields(self, request: HttpRequest, obj: Destination | None = None) -> list[str]:
        if obj is not None and obj.from_settings:
            return ["name", "bot", "url", "event_types", *SHOWN]
        return SHOWN if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Destination | None = None) -> list[str]:
        fields = ["name", "bot", "url", "event_types", "active"]
        return fields if obj is None else [*fields, *SHOWN]

    @admin.display(description="Bot")
    def bot_label(self, destination: Destination) -> str:
        return str(destination.bot) if destination.bot_id else "every bot"

    @admin.display(description="Health")
    def health_label(self, destination: Destination) -> str:
        return health_of(destination, timezone.now()).summary

    @admin.display(description="Signing secret")
    def signing_secret(self, destination: Destination) -> str:
        if destination.from_settings:
            return "LEAD_WEBHOOK_SECRET (from the settings)"
        rotating = ""
        if destination.previous_secret_until and destination.previous_secret_until > timezone.now():
            rotating = f"; the previous one also signs until {destination.previous_secret_until:%Y-%m-%d %H:%M} UTC"
        return masked(destination.secret) + rotating

    def save_model(self, request: HttpRequest, obj: Destination, form, change: bool) -> None:
        if "active" in form.changed_data and obj.active:
            obj.disabled_reason = ""  # staff fixed what a 410 reported
            obj.failing_since = None
        super().save_model(request, obj, form, change)
        if not change:
            request.session[SESSION_SECRET.format(obj.pk)] = obj.secret

    def response_add(self, request: HttpRequest, obj: Destination, post_url_continue: str | None = None) -> HttpResponse:
        # Always to the change page: that is where the new secret is shown, once.
        return HttpResponseRedirect(reverse("admin:delivery_destination_change", args=[obj.pk]))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        destination = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if destination is not None:
            extra.update(
                new_secret=request.session.pop(SESSION_SECRET.format(destination.pk), None),
                health=health_of(destination, timezone.now()),
                resend_form=ResendSinceForm(initial={"since": timezone.localdate()}),
                deliveries_url=reverse("admin:delivery_delivery_changelist") + f"?destination__id__exact={destination.pk}",
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        own = [
            path("<int:pk>/rotate-secret/", self.admin_site.admin_view(self.rotate_secret), name="delivery_destination_rotate"),
            path("<int:pk>/resend-failed/", self.admin_site.admin_view(self.resend_failed), name="delivery_destination_resend"),
        ]
        return own + super().get_urls()

    def _changeable(self, request: HttpRequest, pk: int) -> Destination:
        if request.method != "POST":
            raise PermissionDenied("POST only")
        destination = get_object_or_404(Destination, pk=pk)
        if not self.has_change_permission(request, destination):
            raise PermissionDenied
        return destination

    def rotate_secret(self, request: HttpRequest, pk: int) -> HttpResponse:
        destination = self._changeable(request, pk)
        if destination.from_settings:
            messages.error(request, "This destination's secret is LEAD_WEBHOOK_SECRET: change it in the settings.")
        else:
            request.session[SESSION_SECRET.format(pk)] = destination.rotate_secret()
            messages.success(request, "New secret made. The previous one also signs every event for 24 hours.")
        return HttpResponseRedirect(reverse("admin:delivery_destination_change", args=[pk]))

    def resend_failed(self, request: HttpRequest, pk: int) -> HttpResponse:
        destination = self._changeable(request, pk)
        form = ResendSinceForm(request.POST)
        if form.is_valid():
            since = timezone.make_aware(datetime.combine(form.cleaned_data["since"], time.min))
            count = resend_failed_since(destination, since)
            messages.success(request, f"{count} failed deliveries sent again (same webhook-ids).")
        else:
            messages.error(request, "Give a day to resend from.")
        return HttpResponseRedirect(reverse("admin:delivery_destination_change", args=[pk]))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "event_type", "destination", "call_link", "state", "attempts", "last_status_code",
                    "last_error", "next_attempt_at", "created_at"]
    list_filter = ["status", "destination", "event__type"]
    list_select_related = ["event", "destination"]
    search_fields = ["event__webhook_id", "event__call__id"]
    date_hierarchy = "created_at"
    actions = ["resend_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return f"{delivery.event.type} {delivery.event.webhook_id}"

    @admin.display(description="Call")
    def call_link(self, delivery: Delivery) -> str:
        return format_html('<a href="{}">{}</a>', reverse("dashboard:call", args=[delivery.event.call_id]),
                           str(delivery.event.call_id)[:8])

    @admin.action(description="Resend (same webhook-ids)", permissions=["view"])
    def resend_selected(self, request: HttpRequest, queryset) -> None:
        if not request.user.has_perm("delivery.change_destination"):
            raise PermissionDenied
        count = resend(queryset)
        self.message_user(request, f"{count} deliveries sent again (delivered or failed ones; pending ones go anyway).")
