"""The hall's calendar: workdays, seasonal schedules, periods and rectification deadlines.

Pure functions over frozen dataclasses; all dates and times are the hall's local time
(naive ``datetime``), callers convert instants before calling in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any

import chinese_calendar

__all__ = [
    "HallCalendar",
    "Period",
    "Schedule",
    "parse_clock",
    "parse_month_day",
    "schedule_from_mapping",
    "is_covered_year",
    "is_national_workday",
    "is_workday",
    "nth_workday_after",
    "rectification_deadline",
    "schedule_for",
    "uncovered_years",
    "workdays",
]

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_PERIOD = re.compile(r"^(\d{4})-B([1-6])$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A seasonal working-hours schedule: ``am = [A0, A1]``, ``pm = [P0, P1]``.

    ``start``/``end`` are (month, day) pairs, both inclusive; ``start > end`` means the
    range wraps the year end (e.g. 10-01 to 04-30).
    """

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    am: tuple[time, time]
    pm: tuple[time, time]

    def covers(self, day: date) -> bool:
        """Whether this schedule's month-day range holds ``day``."""
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True, slots=True)
class HallCalendar:
    """What a hall adds to the national calendar: its schedules and its own days."""

    schedules: tuple[Schedule, ...] = ()
    closed_days: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class Period:
    """A bimonthly scoring period ``YYYY-Bn`` (B1 = January–February ... B6 = November–December)."""

    code: str
    first_day: date
    last_day: date

    @classmethod
    def parse(cls, code: str) -> Period:
        """Parse ``YYYY-Bn``; raises ``ValueError`` for anything else."""
        match = _PERIOD.match(code.strip())
        if match is None:
            raise ValueError(f"period must look like 2026-B5, not {code!r}")
        year, index = int(match.group(1)), int(match.group(2))
        first = date(year, 2 * index - 1, 1)
        # The day before the first of the month after the period's second month.
        after = date(year + 1, 1, 1) if index == 6 else date(year, 2 * index + 1, 1)
        return cls(code=f"{year:04d}-B{index}", first_day=first, last_day=after - timedelta(days=1))

    def days(self) -> Iterable[date]:
        """Every calendar day of the period, in order."""
        day = self.first_day
        while day <= self.last_day:
            yield day
            day += timedelta(days=1)


@cache
def is_covered_year(year: int) -> bool:
    """Whether the State Council calendar package knows the holidays of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_national_workday(day: date) -> bool:
    """National workday: Mon–Fri and not an official holiday, or an official make-up day.

    For a year the calendar package does not cover this falls back to Monday–Friday;
    :func:`uncovered_years` tells callers which years to warn about.
    """
    if not is_covered_year(day.year):
        return day.weekday() < 5
    return bool(chinese_calendar.is_workday(day))


def is_workday(day: date, calendar: HallCalendar) -> bool:
    """A hall workday: a national workday or an extra workday, and not a closed day."""
    if day in calendar.closed_days:
        return False
    return day in calendar.extra_workdays or is_national_workday(day)


def workdays(first: date, last: date, calendar: HallCalendar) -> tuple[date, ...]:
    """The hall's workdays from ``first`` to ``last``, both inclusive, in order."""
    result: list[date] = []
    day = first
    one = timedelta(days=1)
    while day <= last:
        if is_workday(day, calendar):
            result.append(day)
        day += one
    return tuple(result)


def uncovered_years(first: date, last: date) -> tuple[int, ...]:
    """Years between the two dates (inclusive) that fall back to a Monday–Friday calendar."""
    return tuple(y for y in range(first.year, last.year + 1) if not is_covered_year(y))


def schedule_for(day: date, schedules: Iterable[Schedule]) -> Schedule | None:
    """The first schedule whose range holds ``day``; ``None`` when none does (no slots)."""
    for schedule in schedules:
        if schedule.covers(day):
            return schedule
    return None


def nth_workday_after(day: date, n: int, calendar: HallCalendar) -> date:
    """The ``n``-th hall workday strictly after ``day`` (``n`` >= 1)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    one = timedelta(days=1)
    count = 0
    current = day
    while count < n:
        current += one
        if is_workday(current, calendar):
            count += 1
    return current


def rectification_deadline(
    rating_local_date: date, calendar: HallCalendar, workdays_after: int = 5
) -> datetime:
    """Deadline of an upheld bad review: the end (24:00 local) of the n-th workday after the rating day.

    Returned as 00:00 of the day after that workday (naive local); a rectification at or
    before this instant is on time.
    """
    last = nth_workday_after(rating_local_date, workdays_after, calendar)
    return datetime.combine(last + timedelta(days=1), time())


# --- reading schedule tables (the hall settings as a whole: kiosk.rules.settings) ---


def parse_month_day(text: str) -> tuple[int, int]:
    """``"10-01"`` -> ``(10, 1)``; validated against a leap year so ``02-29`` is accepted."""
    match = _MONTH_DAY.match(text.strip())
    if match is None:
        raise ValueError(f"month-day must look like 10-01, not {text!r}")
    month, day_ = int(match.group(1)), int(match.group(2))
    date(2024, month, day_)  # raises ValueError for 13-01 or 04-31
    return (month, day_)


def parse_clock(text: str) -> time:
    """``"08:30"`` (or ``"08:30:00"``) -> ``time(8, 30)``."""
    return time.fromisoformat(text.strip())


def schedule_from_mapping(item: Mapping[str, Any]) -> Schedule:
    """One ``[[schedule]]`` table (keys name, from, to, am, pm) as a :class:`Schedule`."""
    am = (parse_clock(item["am"][0]), parse_clock(item["am"][1]))
    pm = (parse_clock(item["pm"][0]), parse_clock(item["pm"][1]))
    if not (am[0] < am[1] <= pm[0] < pm[1]):
        raise ValueError(f"schedule {item.get('name')!r}: need A0 < A1 <= P0 < P1")
    return Schedule(
        name=str(item.get("name", "")),
        start=parse_month_day(item["from"]),
        end=parse_month_day(item["to"]),
        am=am,
        pm=pm,
    )
