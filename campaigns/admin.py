"""Staff edit campaigns, their leads and the do-not-call list in the admin (the live
campaign page belongs to the dashboard). Attempts are the carrier's record: read-only."""
from __future__ import annotations

from django.contrib import admin

from campaigns.models import Attempt, Campaign, DoNotCall, Lead


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "bot", "state", "time_zone", "hours_start", "hours_end", "max_lines", "max_attempts")
    list_filter = ("state", "bot")
    search_fields = ("name",)
    readonly_fields = ("created_at", "started_at", "finished_at")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ("number", "carrier_sid", "carrier_status", "planned_at", "rang_at", "answered_at", "ended_at",
              "result", "amd_result", "voicemail_left", "call", "detail")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[override]
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("phone", "name", "campaign", "state", "last_result", "attempts", "next_try_at")
    list_filter = ("state", "campaign")
    search_fields = ("phone", "name")
    readonly_fields = ("state", "last_result", "attempts", "created_at", "updated_at")
    inlines = [AttemptInline]


@admin.register(DoNotCall)
class DoNotCallAdmin(admin.ModelAdmin):
    list_display = ("phone", "source", "note", "created_at")
    list_filter = ("source",)
    search_fields = ("phone",)
