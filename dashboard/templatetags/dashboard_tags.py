"""Badges for outcome and callback deadline, so the list, the call page and the live row agree."""
from __future__ import annotations

from typing import Any

from django import template

from calls.models import Call
from dashboard.leads import callback_of, outcome_of

register = template.Library()


@register.inclusion_tag("dashboard/_outcome_badge.html")
def outcome_badge(call: Call) -> dict[str, Any]:
    return {"outcome": outcome_of(call)}


@register.inclusion_tag("dashboard/_callback_badge.html")
def callback_badge(call: Call) -> dict[str, Any]:
    return {"callback": callback_of(call)}


@register.filter
def ms(value: float | None) -> str:
    """Milliseconds without false precision: "412 ms", "—" when missing."""
    if value is None:
        return "—"
    return f"{value:,.0f} ms"


@register.filter
def clock(value: int | None) -> str:
    """Milliseconds into a call as a player shows them: "0:07", "12:31"."""
    if value is None:
        return ""
    seconds = int(value) // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"
