"""When a lead may be called: a daily window of local wall-clock time, on some weekdays, in
the lead's own time zone (the campaign's when the lead has none).

Pure functions on aware datetimes (no database, no clock), so the rules a regulator cares
about are tested directly:
- the window is local time wherever the lead is: 09:00-20:00 for a lead in Asia/Kolkata is
  03:30-14:30 UTC, whatever zone the campaign is set in;
- a window whose end is earlier than its start crosses midnight (18:00-02:00), and belongs
  to the weekday it opens on (Friday 18:00 to Saturday 02:00 is Friday's window);
- daylight-saving changes follow the zone's rules (zoneinfo): a window is wall-clock time
  on each day, so it opens an hour earlier in UTC after the clocks go forward. An opening
  time that does not exist that day (02:30 when 02:00 jumps to 03:00) opens at the first
  instant after the gap; one that happens twice (01:30 when the clocks go back) opens at
  the first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SEARCH_DAYS = 9  # a window opens at least once a week: look a little further


@dataclass(frozen=True)
class Window:
    """Calls may start from `start` until before `end` (local time) on `days` (0 = Monday)."""

    start: time
    end: time
    days: frozenset[int]

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("a calling window needs different start and end times")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("calling days are weekday numbers 0 (Monday) to 6 (Sunday)")


def _local(at: datetime, zone: str) -> datetime:
    if at.tzinfo is None:
        raise ValueError("calling hours need an aware datetime")
    return at.astimezone(ZoneInfo(zone))


def is_open(window: Window, zone: str, at: datetime) -> bool:
    """Whether a call may start at `at` for someone in time zone `zone`."""
    local = _local(at, zone)
    clock, weekday = local.time().replace(tzinfo=None), local.weekday()
    if not window.crosses_midnight:
        return weekday in window.days and window.start <= clock < window.end
    if clock >= window.start:
        return weekday in window.days  # the evening part: today's window
    return clock < window.end and (weekday - 1) % 7 in window.days  # the small hours: yesterday's


def _opening(day: date, start: time, zone: ZoneInfo) -> datetime:
    """The instant the window opens on `day` (the end of the gap when the clocks jumped over
    `start` that day; the first of the two when it happened twice)."""
    wall = datetime.combine(day, start, tzinfo=zone)  # fold=0: the first of an ambiguous time
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # In a gap: fold=0 reads it with the offset before the jump (an instant after the gap),
    # fold=1 with the one after (an instant before it). The offset changes between them.
    lo, hi = wall.replace(fold=1).astimezone(UTC), instant
    if lo > hi:
        lo, hi = hi, lo
    after = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)  # zones change offset on a whole second, lo < change <= hi


def next_opening(window: Window, zone: str, at: datetime) -> datetime | None:
    """`at` itself when the window is open then, else the next instant it opens (UTC);
    None if it never does (it always does within a week when `days` is not empty)."""
    if is_open(window, zone, at):
        return at
    tz = ZoneInfo(zone)
    today = _local(at, zone).date()
    for offset in range(-1, SEARCH_DAYS):
        day = today + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        opening = _opening(day, window.start, tz)
        if opening > at and is_open(window, zone, opening):
            return opening
    return None


def closes_at(window: Window, zone: str, at: datetime) -> datetime | None:
    """When the window open at `at` closes (UTC); None if it is not open at `at`."""
    if not is_open(window, zone, at):
        return None
    tz = ZoneInfo(zone)
    local = _local(at, zone)
    day = local.date()
    if window.crosses_midnight and local.time().replace(tzinfo=None) >= window.start:
        day += timedelta(days=1)
    return datetime.combine(day, window.end, tzinfo=tz).astimezone(UTC)
