"""What every CSV the dashboard hands out shares: the download response, dates in the site's
time zone, and cells a spreadsheet shows as text instead of running as formulas (names,
phones, notes and a lead's extra fields are typed by the public or by agents).

Used by the lead list's export (dashboard.views) and the campaign export
(dashboard.campaign_views), so both are safe in the same way.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from django.utils import timezone

# Cells a spreadsheet would run as a formula (CSV injection); see csv_cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class SafeWriter:
    """csv.writer whose every cell is made safe to open in a spreadsheet."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def writerow(self, row: Iterable[Any]) -> None:
        self.writer.writerow([csv_cell(cell) for cell in row])


def csv_response(prefix: str) -> tuple[HttpResponse, SafeWriter]:
    """An attachment `<prefix>-<local time>.csv` and the writer that fills it."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{prefix}-{stamp}.csv"'
    return response, SafeWriter(csv.writer(response))


def csv_cell(value: Any) -> str:
    """A cell starting with = + - @ tab or CR is prefixed with ' so a spreadsheet shows
    it as text instead of running it (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iso(moment: datetime | None) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
