"""Hall calendar: workdays, schedules, periods and rectification deadlines (SPEC 2, 4.3, 5.1)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from kiosk.rules.calendar import (
    HallCalendar,
    Period,
    Schedule,
    is_covered_year,
    is_national_workday,
    is_workday,
    nth_workday_after,
    rectification_deadline,
    schedule_for,
    uncovered_years,
    workdays,
)
from kiosk.rules.settings import calendar_from_settings

WINTER = Schedule("winter", (10, 1), (4, 30), (time(8, 30), time(12)), (time(14), time(17, 30)))
SUMMER = Schedule("summer", (5, 1), (9, 30), (time(8), time(12)), (time(14, 30), time(17, 30)))
PLAIN = HallCalendar(schedules=(WINTER, SUMMER))
EXAMPLE = HallCalendar(
    schedules=(WINTER, SUMMER),
    closed_days=frozenset({date(2026, 10, 16)}),
    extra_workdays=frozenset({date(2026, 9, 12)}),
)


@pytest.mark.parametrize(
    ("day", "expected", "why"),
    [
        (date(2026, 9, 20), True, "Sunday make-up working day (调休上班)"),
        (date(2026, 10, 10), True, "Saturday make-up working day"),
        (date(2026, 10, 5), False, "Monday in the National Day holiday"),
        (date(2026, 9, 25), False, "Friday, Mid-autumn festival"),
        (date(2026, 10, 1), False, "National Day"),
        (date(2026, 9, 19), False, "ordinary Saturday"),
        (date(2026, 9, 21), True, "ordinary Monday"),
        (date(2026, 10, 8), True, "first day after the holiday"),
    ],
)
def test_national_workdays(day: date, expected: bool, why: str) -> None:
    assert is_national_workday(day) is expected, why
    assert is_workday(day, PLAIN) is expected, why


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        (EXAMPLE, date(2026, 10, 16), False),  # closed Friday
        (EXAMPLE, date(2026, 9, 12), True),  # extra Saturday
        (PLAIN, date(2026, 9, 12), False),
        (PLAIN, date(2026, 10, 16), True),
        # closed beats extra and beats a make-up day
        (HallCalendar(closed_days=frozenset({date(2026, 9, 20)})), date(2026, 9, 20), False),
        (
            HallCalendar(
                closed_days=frozenset({date(2026, 9, 12)}),
                extra_workdays=frozenset({date(2026, 9, 12)}),
            ),
            date(2026, 9, 12),
            False,
        ),
        # an extra workday may open the hall on an official holiday
        (HallCalendar(extra_workdays=frozenset({date(2026, 10, 5)})), date(2026, 10, 5), True),
    ],
)
def test_closed_and_extra_days(calendar: HallCalendar, day: date, expected: bool) -> None:
    assert is_workday(day, calendar) is expected


def test_example_period_has_forty_workdays() -> None:
    days = workdays(date(2026, 9, 1), date(2026, 10, 31), EXAMPLE)
    september = [d for d in days if d.month == 9]
    october = [d for d in days if d.month == 10]
    assert (len(days), len(september), len(october)) == (40, 23, 17)
    assert october[:3] == [date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10)]
    assert date(2026, 10, 16) not in days and date(2026, 9, 25) not in days


def test_uncovered_year_falls_back_to_monday_to_friday() -> None:
    # 2003 predates the calendar package: National Day 2003-10-01 (a Wednesday) counts as a
    # workday by the Monday–Friday fallback, and the year is reported.
    assert not is_covered_year(2003)
    assert is_covered_year(2026)
    assert is_national_workday(date(2003, 10, 1)) is True
    assert is_national_workday(date(2003, 10, 4)) is False  # Saturday
    assert uncovered_years(date(2003, 11, 1), date(2004, 2, 1)) == (2003,)
    assert uncovered_years(date(2026, 9, 1), date(2026, 10, 31)) == ()
    assert uncovered_years(date(2026, 12, 1), date(2027, 1, 31)) == (2027,)
    # The hall fixes the fallback with its own days.
    fixed = HallCalendar(closed_days=frozenset({date(2003, 10, 1)}))
    assert is_workday(date(2003, 10, 1), fixed) is False


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 15), "winter"),  # inside the year-wrapping range
        (date(2026, 4, 30), "winter"),  # inclusive end
        (date(2026, 5, 1), "summer"),  # inclusive start
        (date(2026, 9, 30), "summer"),
        (date(2026, 10, 1), "winter"),
        (date(2026, 12, 31), "winter"),
        (date(2027, 1, 1), "winter"),
        (date(2024, 2, 29), "winter"),
    ],
)
def test_year_wrapping_schedule(day: date, expected: str) -> None:
    schedule = schedule_for(day, (WINTER, SUMMER))
    assert schedule is not None and schedule.name == expected


def test_first_matching_schedule_wins_and_uncovered_day_has_none() -> None:
    all_year = Schedule("all", (1, 1), (12, 31), (time(9), time(12)), (time(13), time(17)))
    assert schedule_for(date(2026, 7, 1), (SUMMER, all_year)) is SUMMER
    assert schedule_for(date(2026, 7, 1), (all_year, SUMMER)) is all_year
    assert schedule_for(date(2026, 10, 1), (SUMMER,)) is None
    assert schedule_for(date(2026, 10, 1), ()) is None


@pytest.mark.parametrize(
    ("rated", "calendar", "deadline"),
    [
        # README walkthrough: Fri 18 Sep -> 20 (make-up), 21, 22, 23, 24 -> 25 Sep 00:00
        (date(2026, 9, 18), EXAMPLE, datetime(2026, 9, 25)),
        # Tue 29 Sep -> 30 Sep, 8, 9, 10 (make-up), 12 Oct -> 13 Oct 00:00
        (date(2026, 9, 29), EXAMPLE, datetime(2026, 10, 13)),
        # the closed Friday 16 Oct is skipped by the example hall, not by a plain one
        (date(2026, 10, 14), EXAMPLE, datetime(2026, 10, 23)),
        (date(2026, 10, 14), PLAIN, datetime(2026, 10, 22)),
        (date(2026, 10, 15), EXAMPLE, datetime(2026, 10, 24)),
        (date(2026, 10, 15), PLAIN, datetime(2026, 10, 23)),
        (date(2026, 10, 13), EXAMPLE, datetime(2026, 10, 22)),
        (date(2026, 10, 13), PLAIN, datetime(2026, 10, 21)),
        (date(2026, 10, 12), EXAMPLE, datetime(2026, 10, 21)),
        (date(2026, 10, 12), PLAIN, datetime(2026, 10, 20)),
        # a rating on a non-workday counts from the next workday
        (date(2026, 9, 19), EXAMPLE, datetime(2026, 9, 25)),
        # extra Saturday 12 Sep: Thu 10 Sep -> 11, 12, 14, 15, 16 -> 17 Sep
        (date(2026, 9, 10), EXAMPLE, datetime(2026, 9, 17)),
        (date(2026, 9, 10), PLAIN, datetime(2026, 9, 18)),
    ],
)
def test_rectification_deadline(rated: date, calendar: HallCalendar, deadline: datetime) -> None:
    assert rectification_deadline(rated, calendar) == deadline


def test_rectification_deadline_counts_the_rule_file_workdays() -> None:
    assert rectification_deadline(date(2026, 9, 21), PLAIN, workdays_after=1) == datetime(
        2026, 9, 23
    )
    assert nth_workday_after(date(2026, 9, 30), 1, PLAIN) == date(2026, 10, 8)
    assert nth_workday_after(date(2026, 9, 30), 3, PLAIN) == date(2026, 10, 10)
    with pytest.raises(ValueError):
        nth_workday_after(date(2026, 9, 30), 0, PLAIN)


@pytest.mark.parametrize(
    ("code", "first", "last"),
    [
        ("2026-B1", date(2026, 1, 1), date(2026, 2, 28)),
        ("2024-B1", date(2024, 1, 1), date(2024, 2, 29)),
        ("2026-B5", date(2026, 9, 1), date(2026, 10, 31)),
        ("2026-B6", date(2026, 11, 1), date(2026, 12, 31)),
    ],
)
def test_period_parse(code: str, first: date, last: date) -> None:
    period = Period.parse(code)
    assert (period.code, period.first_day, period.last_day) == (code, first, last)
    assert len(list(period.days())) == (last - first).days + 1


@pytest.mark.parametrize("code", ["2026-B7", "2026-B0", "2026-5", "26-B5", ""])
def test_period_parse_rejects(code: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(code)


def test_calendar_from_toml_and_json_shapes() -> None:
    toml_shape = {
        "schedule": [
            {
                "name": "w",
                "from": "10-01",
                "to": "04-30",
                "am": ["08:30", "12:00"],
                "pm": ["14:00", "17:30"],
            }
        ],
        "attendance": {"closed_days": ["2026-10-16"], "extra_workdays": ["2026-09-12"]},
    }
    json_shape = {
        "schedules": toml_shape["schedule"],
        "closed_days": ["2026-10-16"],
        "extra_workdays": ["2026-09-12"],
    }
    for settings in (toml_shape, json_shape):
        calendar = calendar_from_settings(settings)
        assert calendar.schedules == (
            WINTER.__class__("w", (10, 1), (4, 30), WINTER.am, WINTER.pm),
        )
        assert calendar.closed_days == {date(2026, 10, 16)}
        assert calendar.extra_workdays == {date(2026, 9, 12)}


@pytest.mark.parametrize(
    "item",
    [
        {
            "name": "x",
            "from": "13-01",
            "to": "04-30",
            "am": ["08:30", "12:00"],
            "pm": ["14:00", "17:30"],
        },
        {
            "name": "x",
            "from": "04-31",
            "to": "04-30",
            "am": ["08:30", "12:00"],
            "pm": ["14:00", "17:30"],
        },
        {
            "name": "x",
            "from": "10-01",
            "to": "04-30",
            "am": ["12:00", "08:30"],
            "pm": ["14:00", "17:30"],
        },
        {
            "name": "x",
            "from": "10-01",
            "to": "04-30",
            "am": ["08:30", "15:00"],
            "pm": ["14:00", "17:30"],
        },
    ],
)
def test_bad_schedules_are_refused(item: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        calendar_from_settings({"schedules": [item]})
