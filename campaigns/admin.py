"""Staff edit campaigns, their leads and the do-not-call list in the admin (the live
campaign page belongs to the dashboard). Attempts are the carrier's record: read-only.
A campaign's state changes only through `campaigns.actions` (the list's actions). Phone
numbers typed here are normalised to E.164 (the models' `clean`)."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns import actions
from campaigns.models import Attempt, Campaign, DoNotCall, Lead


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "bot", "state", "time_zone", "hours_start", "hours_end", "max_lines", "max_attempts")
    list_filter = ("state", "bot")
    search_fields = ("name",)
    readonly_fields = ("state", "created_at", "started_at", "finished_at")
    actions = ["start", "pause", "finish"]

    def _act(self, request: HttpRequest, queryset: QuerySet[Campaign], action: Callable[[int], Campaign]) -> None:
        for campaign in queryset:
            try:
                action(campaign.pk)
            except actions.CampaignActionError as exc:
                self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Start (or resume) the selected campaigns")
    def start(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._act(request, queryset, actions.start)

    @admin.action(description="Pause the selected campaigns (calls in progress finish)")
    def pause(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._act(request, queryset, actions.pause)

    @admin.action(description="Finish the selected campaigns (nobody more is called)")
    def finish(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        self._act(request, queryset, actions.finish)


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
