"""Read-only admin over what calls left behind.

Calls, answers and latency samples are records of what happened, so nobody can
add, edit or delete them here. The one exception is the lead handling on a
call (status and note), which agents own; saving it stamps who and when, as
the dashboard does.
"""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from calls.models import Answer, Call, LatencySample, Turn

LEAD_FIELDS = ("lead_status", "lead_note")


class ReadOnlyMixin:
    """No add, change or delete: view permission only."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TurnInline(ReadOnlyMixin, admin.TabularInline):
    model = Turn
    fields = ["index", "speaker", "text", "interrupted", "created_at"]
    readonly_fields = fields
    extra = 0


class AnswerInline(ReadOnlyMixin, admin.TabularInline):
    model = Answer
    fields = ["order", "question_key", "transcript", "value", "understood", "attempts", "qualifies"]
    readonly_fields = fields
    extra = 0


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["short_id", "caller_name", "caller_phone", "bot", "mode", "status", "outcome",
                    "lead_status", "created_at"]
    list_filter = ["bot", "outcome", "status", "mode", "lead_status", "created_at"]
    list_select_related = ["bot"]
    search_fields = ["caller_name", "caller_phone", "id"]
    date_hierarchy = "created_at"
    inlines = [TurnInline, AnswerInline]
    fieldsets = [
        (None, {"fields": ["id", "bot", "mode", "status", "outcome", "end_reason", "dashboard_link"]}),
        ("Caller", {"fields": ["caller_name", "caller_phone", "client_ip", "input_sample_rate"]}),
        ("Timing", {"fields": ["created_at", "started_at", "ended_at", "callback_due_at"]}),
        ("Lead", {"fields": [*LEAD_FIELDS, "lead_updated_by", "lead_updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Call | None = None) -> list[str]:
        return [name for fields in (fs[1]["fields"] for fs in self.fieldsets) for name in fields
                if name not in LEAD_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Call | None = None) -> bool:
        return False

    @admin.display(description="Call", ordering="created_at")
    def short_id(self, call: Call) -> str:
        return str(call.pk)[:8]

    @admin.display(description="Dashboard")
    def dashboard_link(self, call: Call) -> str:
        return format_html('<a href="{}">Open in the lead dashboard</a>', reverse("dashboard:call", args=[call.pk]))

    def save_model(self, request: HttpRequest, obj: Call, form, change: bool) -> None:
        if set(form.changed_data) & set(LEAD_FIELDS):
            obj.lead_updated_by = request.user
            obj.lead_updated_at = timezone.now()
        super().save_model(request, obj, form, change)


@admin.register(Answer)
class AnswerAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["call", "question_key", "transcript", "value", "understood", "qualifies", "attempts"]
    list_filter = ["call__bot", "question_key", "understood", "qualifies"]
    list_select_related = ["call"]
    search_fields = ["call__caller_name", "call__caller_phone", "call__id", "transcript"]


@admin.register(LatencySample)
class LatencySampleAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["call", "turn", "stage", "ms", "provider", "created_at"]
    list_filter = ["stage", "provider", "call__bot", "created_at"]
    list_select_related = ["call"]
    search_fields = ["call__id", "provider"]
    date_hierarchy = "created_at"
