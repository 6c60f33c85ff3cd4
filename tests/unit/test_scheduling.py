"""Cron, windows and time zones: examples plus properties checked against independent maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsreport.scheduling import (
    CronError,
    Window,
    calendar_window,
    next_run,
    parse_cron,
    rolling_window,
    runs_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Chatham",
    )
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("@daily", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        (" 5  4 * * * ", "5 4 * * *"),
    ],
)
def test_macros_and_whitespace(expression: str, normalised: str) -> None:
    assert parse_cron(expression) == normalised


@pytest.mark.parametrize(
    "expression", ["", "* * * *", "61 * * * *", "@often", "* * * * * *", "0 0 31 2 *"]
)
def test_invalid_cron_is_rejected(expression: str) -> None:
    with pytest.raises(CronError):
        parse_cron(expression)


def test_next_run_in_zone() -> None:
    # 07:00 Berlin is 06:00 UTC in winter.
    assert next_run("0 7 * * *", BERLIN, utc(2026, 11, 22, 5, 0)) == utc(2026, 11, 22, 6, 0)
    assert next_run("0 7 * * *", BERLIN, utc(2026, 11, 22, 6, 0)) == utc(2026, 11, 23, 6, 0)


def test_spring_forward_runs_once_after_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; cron runs it once, at 03:00 CEST.
    runs = runs_between("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert runs == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_fall_back_runs_a_fixed_time_once() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25; it runs once.
    runs = runs_between("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert runs == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_calendar_month_in_a_dst_zone_is_not_30_days() -> None:
    # October 2026 in Berlin: 31 days plus the extra fall-back hour.
    window = calendar_window(utc(2026, 11, 1, 9), "month", BERLIN)
    assert window == Window(utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))
    assert window.seconds == 31 * 86400 + 3600


def test_calendar_day_and_week() -> None:
    at = datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK)  # a Wednesday
    day = calendar_window(at, "day", NEW_YORK)
    assert day.start == datetime(2026, 11, 24, tzinfo=NEW_YORK)
    assert day.end == datetime(2026, 11, 25, tzinfo=NEW_YORK)
    week = calendar_window(at, "week", NEW_YORK)
    assert week.start == datetime(2026, 11, 16, tzinfo=NEW_YORK)  # the Monday before
    assert week.end == datetime(2026, 11, 23, tzinfo=NEW_YORK)


def test_calendar_month_across_new_year_and_leap_february() -> None:
    assert calendar_window(utc(2027, 1, 3), "month", ZoneInfo("UTC")) == Window(
        utc(2026, 12, 1), utc(2027, 1, 1)
    )
    assert calendar_window(utc(2028, 3, 1, 0, 0, 1), "month", ZoneInfo("UTC")).seconds == 29 * 86400


def test_rolling_window() -> None:
    assert rolling_window(utc(2026, 1, 2), timedelta(hours=24)) == Window(
        utc(2026, 1, 1), utc(2026, 1, 2)
    )


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(at=instants, zone=st.sampled_from(ZONES), minute=st.integers(0, 59), hour=st.integers(0, 23))
def test_next_daily_run_matches_wall_clock(
    at: datetime, zone: ZoneInfo, minute: int, hour: int
) -> None:
    fire = next_run(f"{minute} {hour} * * *", zone, at)
    assert fire > at
    local = fire.astimezone(zone)
    # Either the wall clock matches, or that time did not exist that day and cron ran it late.
    exists = datetime(local.year, local.month, local.day, hour, minute, tzinfo=zone)
    round_trip = exists.astimezone(UTC).astimezone(zone)
    if (round_trip.hour, round_trip.minute) == (hour, minute):
        assert (local.hour, local.minute) == (hour, minute)
    assert fire - at <= timedelta(days=1, hours=2)
    # Nothing scheduled strictly between `at` and `fire`.
    assert runs_between(f"{minute} {hour} * * *", zone, at, fire - timedelta(seconds=1)) == []


@settings(max_examples=150, deadline=None)
@given(at=instants, zone=st.sampled_from(ZONES), period=st.sampled_from(["day", "week", "month"]))
def test_calendar_windows_tile_time(at: datetime, zone: ZoneInfo, period: str) -> None:
    window = calendar_window(at, period, zone)  # type: ignore[arg-type]
    start, end = window.start.astimezone(zone), window.end.astimezone(zone)
    assert window.end <= at
    # The window starts and ends at local midnight.
    assert (start.hour, start.minute, end.hour, end.minute) == (0, 0, 0, 0)
    # Windows tile time: the one before ends where this one starts, with no gap or overlap.
    assert calendar_window(window.start, period, zone).end == window.start  # type: ignore[arg-type]
    assert calendar_window(window.end, period, zone) == window  # type: ignore[arg-type]
    expected_days = {"day": {1}, "week": {7}, "month": {28, 29, 30, 31}}[period]
    assert (end.date() - start.date()).days in expected_days
    if period == "week":
        assert start.weekday() == 0
    if period == "month":
        assert start.day == 1
        assert end.day == 1
