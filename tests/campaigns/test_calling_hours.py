"""Calling hours (campaigns.calling_hours): the lead's own zone, windows that cross
midnight, and daylight-saving changes, on real zoneinfo rules."""
from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from campaigns.calling_hours import Window, closes_at, is_open, next_opening

EVERY_DAY = frozenset(range(7))
DAYTIME = Window(time(9), time(20), EVERY_DAY)
NIGHT = Window(time(18), time(2), EVERY_DAY)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daytime_window_edges_in_the_leads_zone():
    # 09:00 in New York in winter is 14:00 UTC; the end is exclusive.
    assert not is_open(DAYTIME, "America/New_York", utc(2026, 1, 14, 13, 59, 59))
    assert is_open(DAYTIME, "America/New_York", utc(2026, 1, 14, 14, 0))
    assert is_open(DAYTIME, "America/New_York", utc(2026, 1, 15, 0, 59))
    assert not is_open(DAYTIME, "America/New_York", utc(2026, 1, 15, 1, 0))


def test_a_lead_in_kolkata_is_called_on_kolkata_time_not_the_campaigns():
    # 10:00 UTC is 10:00 in London (winter) but 15:30 in Kolkata; 15:00 UTC is 20:30 there.
    at = utc(2026, 1, 14, 15, 0)
    assert is_open(DAYTIME, "Europe/London", at)
    assert not is_open(DAYTIME, "Asia/Kolkata", at)
    assert next_opening(DAYTIME, "Asia/Kolkata", at) == utc(2026, 1, 15, 3, 30)  # 09:00 IST
    assert closes_at(DAYTIME, "Asia/Kolkata", utc(2026, 1, 15, 4, 0)) == utc(2026, 1, 15, 14, 30)


def test_window_crossing_midnight_belongs_to_the_day_it_opens():
    friday_only = Window(time(18), time(2), frozenset({4}))
    zone = "Europe/London"  # UTC+0 in January
    assert is_open(friday_only, zone, utc(2026, 1, 16, 23, 0))  # Friday 23:00
    assert is_open(friday_only, zone, utc(2026, 1, 17, 1, 59))  # Saturday 01:59: Friday's window
    assert not is_open(friday_only, zone, utc(2026, 1, 17, 2, 0))
    assert not is_open(friday_only, zone, utc(2026, 1, 17, 19, 0))  # Saturday evening
    assert not is_open(friday_only, zone, utc(2026, 1, 16, 1, 0))  # Friday 01:00 is Thursday's
    assert next_opening(friday_only, zone, utc(2026, 1, 17, 2, 0)) == utc(2026, 1, 23, 18, 0)
    assert closes_at(NIGHT, zone, utc(2026, 1, 16, 23, 0)) == utc(2026, 1, 17, 2, 0)
    assert closes_at(NIGHT, zone, utc(2026, 1, 17, 1, 0)) == utc(2026, 1, 17, 2, 0)


def test_weekdays_only():
    weekdays = Window(time(9), time(17), frozenset(range(5)))
    saturday_noon = utc(2026, 1, 17, 12, 0)
    assert not is_open(weekdays, "UTC", saturday_noon)
    assert next_opening(weekdays, "UTC", saturday_noon) == utc(2026, 1, 19, 9, 0)  # Monday


def test_clocks_go_forward_in_new_york_2026_03_08():
    # 09:00 EST is 14:00 UTC on Saturday; 09:00 EDT is 13:00 UTC on Sunday.
    zone = "America/New_York"
    assert next_opening(DAYTIME, zone, utc(2026, 3, 7, 1, 0)) == utc(2026, 3, 7, 14, 0)
    assert next_opening(DAYTIME, zone, utc(2026, 3, 8, 1, 0)) == utc(2026, 3, 8, 13, 0)
    assert not is_open(DAYTIME, zone, utc(2026, 3, 8, 12, 59))
    assert is_open(DAYTIME, zone, utc(2026, 3, 8, 13, 0))
    # A window opening at 02:30, a time that does not exist that day, opens when the gap ends.
    small_hours = Window(time(2, 30), time(6), EVERY_DAY)
    assert next_opening(small_hours, zone, utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert next_opening(small_hours, zone, utc(2026, 3, 9, 0, 0)) == utc(2026, 3, 9, 6, 30)  # 02:30 EDT


def test_clocks_go_back_in_new_york_2026_11_01():
    zone = "America/New_York"
    assert next_opening(DAYTIME, zone, utc(2026, 10, 31, 5, 0)) == utc(2026, 10, 31, 13, 0)  # EDT
    assert next_opening(DAYTIME, zone, utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 14, 0)  # EST
    assert not is_open(DAYTIME, zone, utc(2026, 11, 1, 13, 30))  # 08:30 EST
    # 01:30 happens twice that night: the window opens at the first.
    small_hours = Window(time(1, 30), time(5), EVERY_DAY)
    assert next_opening(small_hours, zone, utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    # A night window spanning the change is open all the way to 02:00 EST.
    assert is_open(NIGHT, zone, utc(2026, 11, 1, 6, 30))  # 01:30 EST, the second one
    assert not is_open(NIGHT, zone, utc(2026, 11, 1, 7, 0))  # 02:00 EST


def test_window_in_london_across_its_own_dst_change():
    # Europe/London goes forward 2026-03-29: 09:00 GMT then 09:00 BST.
    assert next_opening(DAYTIME, "Europe/London", utc(2026, 3, 28, 21, 0)) == utc(2026, 3, 29, 8, 0)


def test_bad_windows_are_refused():
    with pytest.raises(ValueError):
        Window(time(9), time(9), EVERY_DAY)
    with pytest.raises(ValueError):
        Window(time(9), time(10), frozenset())
    with pytest.raises(ValueError):
        is_open(DAYTIME, "UTC", datetime(2026, 1, 1, 10))
