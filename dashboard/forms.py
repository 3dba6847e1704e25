"""Forms of the lead dashboard: the list filters (shared with the CSV export) and the lead status form."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from django import forms
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace
from django.utils import timezone

from bots.models import Bot
from calls.models import Call

NO_OUTCOME = "none"


def _with_any(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


class LeadFilterForm(forms.Form):
    """GET filters of the lead list. Invalid values are ignored, never an error page."""

    q = forms.CharField(required=False, label="Search", widget=forms.SearchInput(attrs={"placeholder": "Name or phone"}))
    bot = forms.ModelChoiceField(
        queryset=Bot.objects.order_by("name"), to_field_name="slug", required=False, empty_label="All bots"
    )
    outcome = forms.ChoiceField(
        required=False, choices=_with_any([*Call.Outcome.choices, (NO_OUTCOME, "No outcome yet")])
    )
    status = forms.ChoiceField(required=False, label="Call status", choices=_with_any(Call.Status.choices))
    lead_status = forms.ChoiceField(required=False, label="Lead status", choices=_with_any(Call.LeadStatus.choices))
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must be on or after the start date.")
        return data

    @property
    def active(self) -> bool:
        """Whether any filter narrows the list (live inserts only make sense on the full list)."""
        return self.is_valid() and any(self.cleaned_data.get(name) for name in self.fields)

    def filter(self, calls: QuerySet[Call]) -> QuerySet[Call]:
        self.is_valid()  # a field that fails (a bad date) drops out of cleaned_data; the rest still apply
        data = getattr(self, "cleaned_data", {})
        if data.get("bot"):
            calls = calls.filter(bot=data["bot"])
        if outcome := data.get("outcome"):
            calls = calls.filter(outcome="" if outcome == NO_OUTCOME else outcome)
        if data.get("status"):
            calls = calls.filter(status=data["status"])
        if data.get("lead_status"):
            calls = calls.filter(lead_status=data["lead_status"])
        if data.get("date_from"):
            calls = calls.filter(created_at__gte=_start_of(data["date_from"]))
        if data.get("date_to"):
            calls = calls.filter(created_at__lt=_start_of(data["date_to"]) + timedelta(days=1))
        if q := (data.get("q") or "").strip():
            calls = _search(calls, q)
        return calls


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _search(calls: QuerySet[Call], q: str) -> QuerySet[Call]:
    """Name or phone contains q; phones also match ignoring spaces, dashes and brackets."""
    match = Q(caller_name__icontains=q) | Q(caller_phone__icontains=q)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3:
        bare_phone = "caller_phone"
        for char in (" ", "-", "(", ")", "."):
            bare_phone = Replace(bare_phone, Value(char), Value(""))
        calls = calls.annotate(bare_phone=bare_phone)
        match |= Q(bare_phone__contains=digits)
    return calls.filter(match)


class LeadStatusForm(forms.ModelForm):
    class Meta:
        model = Call
        fields = ["lead_status", "lead_note"]
        labels = {"lead_status": "Lead status", "lead_note": "Note"}
        widgets = {"lead_note": forms.Textarea(attrs={"rows": 3, "placeholder": "What happened on the callback?"})}
