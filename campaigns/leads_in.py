"""Leads and do-not-call numbers coming in: a CSV file, one lead from a web form (the API),
or an operator's shell. Bad input gets a clear error and loses nothing else: a bad row is
reported with its line number and why, every good row is kept.

A lead's number is normalised to E.164 (`campaigns.phones`), so a number already in the
campaign, however it was written, is merged into the lead that has it (a name or time zone
given again replaces the old one; fields are merged, new values winning) rather than dialled
twice. A number on the do-not-call list is kept as a lead in state `do_not_call`, never
dialled. A lead that arrives while its campaign runs wakes the dialer when the transaction
commits, so it is dialled within seconds when its calling window is open.
"""
from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from calls.outbox.runner import wake_on_commit
from campaigns.models import Campaign, DoNotCall, Lead
from campaigns.phones import BadNumber, normalise

NAME_MAX = 120
FIELDS_MAX_BYTES = 8000  # one lead's extra fields, as JSON: what a CSV row or a web form carries
CSV_MAX_ROWS = 200_000  # one import; a bigger list is split by the operator
KNOWN_COLUMNS = {"name", "phone", "time_zone"}


class BadLead(ValueError):
    """One lead that cannot be taken; the message says why."""


@dataclass(frozen=True)
class LeadIn:
    phone: str
    name: str = ""
    time_zone: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    created: int = 0
    merged: int = 0
    do_not_call: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "merged": self.merged, "do_not_call": self.do_not_call,
                "errors": [{"line": line, "reason": reason} for line, reason in self.errors]}


@dataclass(frozen=True)
class Added:
    lead: Lead
    merged: bool


def checked(raw: LeadIn, region: str | None = None) -> LeadIn:
    """`raw` with its number in E.164, or BadLead saying what is wrong with it."""
    try:
        phone = normalise(raw.phone, region)
    except BadNumber as exc:
        raise BadLead(str(exc)) from exc
    name = (raw.name or "").strip()
    if len(name) > NAME_MAX:
        raise BadLead(f"the name is longer than {NAME_MAX} characters")
    zone = (raw.time_zone or "").strip()
    if zone and zone not in zoneinfo.available_timezones():
        raise BadLead(f"{zone!r} is not an IANA time zone (like Asia/Kolkata)")
    fields = dict(raw.fields)
    if any(not isinstance(key, str) for key in fields):
        raise BadLead("field names must be text")
    if len(repr(fields)) > FIELDS_MAX_BYTES:
        raise BadLead(f"the extra fields are longer than {FIELDS_MAX_BYTES} characters")
    return LeadIn(phone=phone, name=name, time_zone=zone, fields=fields)


def add_lead(campaign: Campaign, lead: LeadIn, *, source: str, now: datetime | None = None) -> Added:
    """Store one checked lead (merged into the campaign's lead with the same number).
    Inside the caller's transaction or its own."""
    now = now or timezone.now()
    with transaction.atomic():
        existing = Lead.objects.select_for_update().filter(campaign=campaign, phone=lead.phone).first()
        if existing is None:
            try:
                with transaction.atomic():
                    row = Lead.objects.create(
                        campaign=campaign, phone=lead.phone, name=lead.name, time_zone=lead.time_zone,
                        fields=dict(lead.fields), source=source, next_try_at=now, created_at=now,
                    )
            except IntegrityError:  # the same number arrived at the same moment: merge into it
                existing = Lead.objects.select_for_update().get(campaign=campaign, phone=lead.phone)
            else:
                if DoNotCall.objects.filter(phone=lead.phone).exists():
                    row.state, row.next_try_at = Lead.State.DO_NOT_CALL, None
                    row.save(update_fields=["state", "next_try_at"])
                reopen(campaign, now)
                wake_on_commit()
                return Added(row, merged=False)
        existing.name = lead.name or existing.name
        existing.time_zone = lead.time_zone or existing.time_zone
        existing.fields = {**existing.fields, **lead.fields}
        existing.save(update_fields=["name", "time_zone", "fields", "updated_at"])
        return Added(existing, merged=True)


def reopen(campaign: Campaign, now: datetime) -> None:
    """A finished campaign that gets a new lead runs again (finished = nothing left to do)."""
    Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.FINISHED).update(
        state=Campaign.State.RUNNING, finished_at=None
    )


def import_leads(campaign: Campaign, rows: Iterable[tuple[int, LeadIn | str]], *, source: str = "csv",
                 region: str | None = None) -> ImportReport:
    """Add numbered rows (a row may be the reason it could not be read); the report counts
    what was created and merged and lists the bad rows by line."""
    report = ImportReport()
    for line, raw in rows:
        try:
            if isinstance(raw, str):
                raise BadLead(raw)
            lead = checked(raw, region)
        except BadLead as exc:
            report.errors.append((line, str(exc)))
            continue
        added = add_lead(campaign, lead, source=source)
        if added.merged:
            report.merged += 1
        else:
            report.created += 1
            report.do_not_call += added.lead.state == Lead.State.DO_NOT_CALL
    return report


def csv_rows(text: str) -> Iterable[tuple[int, LeadIn | str]]:
    """The leads of a CSV file (header row first; `phone` required, `name` and `time_zone`
    optional, every other column kept as a field), each with the line it starts on; a row
    that cannot be a lead is the reason why. Raises BadLead when the file cannot be read."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [(name or "").strip() for name in (reader.fieldnames or [])]
    if "phone" not in header:
        raise BadLead("line 1: the header row has no 'phone' column")
    reader.fieldnames = header
    line = reader.line_num + 1
    for count, row in enumerate(reader, start=1):
        if count > CSV_MAX_ROWS:
            raise BadLead(f"more than {CSV_MAX_ROWS} rows: split the file")
        if row.pop(None, None):
            yield line, "the row has more cells than the header has columns"
        else:
            fields = {k: (v or "").strip() for k, v in row.items() if k and k not in KNOWN_COLUMNS and (v or "").strip()}
            yield line, LeadIn(phone=row.get("phone") or "", name=row.get("name") or "",
                               time_zone=row.get("time_zone") or "", fields=fields)
        line = reader.line_num + 1


def import_csv(campaign: Campaign, text: str, *, region: str | None = None) -> ImportReport:
    """A CSV upload (see `csv_rows`). Raises BadLead when the file cannot be read at all."""
    return import_leads(campaign, list(csv_rows(text)), source="csv", region=region)


def import_do_not_call(text: str, *, region: str | None = None, source: str = DoNotCall.Source.CSV) -> ImportReport:
    """Numbers for the do-not-call list, one per line (a CSV's first column; a header row
    without digits is skipped). Leads with these numbers that are not final become do-not-call."""
    report = ImportReport()
    for number, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")), start=1):
        cell = cells[0].strip() if cells else ""
        if not cell or (number == 1 and not any(ch.isdigit() for ch in cell)):
            continue
        try:
            phone = normalise(cell, region)
        except BadNumber as exc:
            report.errors.append((number, str(exc)))
            continue
        if add_do_not_call(phone, source=source):
            report.created += 1
        else:
            report.merged += 1
    return report


def add_do_not_call(phone: str, *, source: str, note: str = "") -> bool:
    """Put an E.164 number on the list (False when it was already there); its waiting leads
    are never dialled (the dialer checks the list before every dial, too)."""
    _, created = DoNotCall.objects.get_or_create(phone=phone, defaults={"source": source, "note": note[:200]})
    Lead.objects.filter(phone=phone, state=Lead.State.QUEUED).update(
        state=Lead.State.DO_NOT_CALL, next_try_at=None, updated_at=timezone.now()
    )
    return created
