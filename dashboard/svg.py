"""Tiny server-side SVG charts: a horizontal bar funnel and a time line chart.

The dashboard has no build step and loads no chart library, so charts are
drawn here as inline SVG strings. They scale with the page (viewBox), carry a
<title> for screen readers, and style through CSS classes in dashboard.css.
Every piece of text is escaped; the result is safe to put in a template.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    note: str = ""


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def funnel_svg(bars: Sequence[Bar], *, title: str, width: int = 720) -> SafeString:
    """One horizontal bar per step, widths relative to the first (largest) step."""
    label_w, number_w, row_h, gap = 250, 130, 30, 10
    bar_area = width - label_w - number_w
    height = len(bars) * (row_h + gap) + gap
    top = max([b.value for b in bars] + [1])
    parts = [
        f'<svg class="chart funnel" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        y = gap + i * (row_h + gap)
        w = bar_area * bar.value / top
        text_y = y + row_h / 2
        parts.append(
            f'<g class="step"><text class="label" x="{label_w - 10}" y="{_fmt(text_y)}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(bar.label)}</text>'
            f'<rect class="track" x="{label_w}" y="{y}" width="{bar_area}" height="{row_h}" rx="4"/>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{_fmt(w)}" height="{row_h}" rx="4"/>'
            f'<text class="value" x="{label_w + bar_area + 10}" y="{_fmt(text_y)}" '
            f'dominant-baseline="middle">{bar.value}'
            + (f' <tspan class="note">{escape(bar.note)}</tspan>' if bar.note else "")
            + "</text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated string is escaped above


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    points: Sequence[tuple[datetime, float]]


def line_chart_svg(
    series: Sequence[Series],
    *,
    start: datetime,
    end: datetime,
    title: str,
    unit: str = "ms",
    time_format: str = "%d %b %H:%M",
    width: int = 720,
    height: int = 260,
) -> SafeString:
    """Lines over a time axis from `start` to `end`, gaps where a bucket had no data."""
    left, right, top, bottom = 60, 20, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max((end - start).total_seconds(), 1.0)
    y_max = _nice_ceiling(max([v for s in series for _, v in s.points] + [1.0]))

    def x(moment: datetime) -> float:
        return left + plot_w * (moment - start).total_seconds() / span

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [
        f'<svg class="chart line" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i in range(5):  # horizontal grid with y labels
        value = y_max * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_fmt(y(value))}" y2="{_fmt(y(value))}"/>'
            f'<text class="axis" x="{left - 6}" y="{_fmt(y(value))}" text-anchor="end" '
            f'dominant-baseline="middle">{_fmt(value)}</text>'
        )
    parts.append(f'<text class="axis unit" x="{left - 6}" y="{top - 8}" text-anchor="end">{escape(unit)}</text>')
    for moment, anchor in ((start, "start"), (start + (end - start) / 2, "middle"), (end, "end")):
        parts.append(
            f'<text class="axis" x="{_fmt(x(moment))}" y="{height - bottom + 18}" '
            f'text-anchor="{anchor}">{escape(moment.strftime(time_format))}</text>'
        )
    for s in series:
        coords = [(x(m), y(v)) for m, v in s.points]
        if len(coords) > 1:
            path = " ".join(f"{_fmt(px)},{_fmt(py)}" for px, py in coords)
            parts.append(f'<polyline class="series {escape(s.css_class)}" points="{path}"/>')
        for (moment, value), (px, py) in zip(s.points, coords):
            parts.append(
                f'<circle class="dot {escape(s.css_class)}" cx="{_fmt(px)}" cy="{_fmt(py)}" r="3">'
                f"<title>{escape(s.name)} {escape(moment.strftime(time_format))}: {_fmt(value)} {escape(unit)}</title>"
                "</circle>"
            )
    legend_x = width - right - 70 * len(series)  # top right, one 70-unit slot per series
    for s in series:
        parts.append(
            f'<g class="legend"><rect class="swatch {escape(s.css_class)}" x="{legend_x}" y="{top - 14}" '
            f'width="12" height="12" rx="2"/><text x="{legend_x + 18}" y="{top - 4}">{escape(s.name)}</text></g>'
        )
        legend_x += 70
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated string is escaped above


def _nice_ceiling(value: float) -> float:
    """Round an axis maximum up to 1, 2, 2.5 or 5 times a power of ten."""
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude
