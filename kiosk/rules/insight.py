"""Aggregations behind the back office's pictures (issue 15): pure, over plain tuples.

* :func:`heat_grid`: satisfaction by weekday × hour of a set of valid ratings;
* :func:`monthly_trend`: per month, satisfaction, bad reviews, on-time share of cases
  and attendance defects.

Satisfaction is the mean of the level values of the rule file (SPEC 4.1: 100, 80, 60,
30, 0) over valid ratings, as the scoring counts it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

__all__ = ["HeatCell", "MonthPoint", "heat_grid", "monthly_trend"]


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One cell of the heat map: weekday (0 = Monday), hour, ratings and satisfaction."""

    weekday: int
    hour: int
    ratings: int
    satisfaction: float | None


def heat_grid(
    ratings: Iterable[tuple[datetime, int]],
    values: Mapping[int, Fraction | float],
    hours: range = range(7, 19),
    weekdays: range = range(0, 7),
) -> list[list[HeatCell]]:
    """Rows of weekdays, columns of hours: each cell the valid ratings given then.

    ``ratings`` are (local time, level) of valid ratings; those outside ``hours`` are
    left out. A cell without ratings has satisfaction None.
    """
    sums: dict[tuple[int, int], list[float]] = defaultdict(list)
    for at, level in ratings:
        if at.hour in hours and at.weekday() in weekdays:
            sums[(at.weekday(), at.hour)].append(float(values[level]))
    return [
        [
            HeatCell(
                w,
                h,
                len(sums.get((w, h), [])),
                (sum(sums[(w, h)]) / len(sums[(w, h)])) if sums.get((w, h)) else None,
            )
            for h in hours
        ]
        for w in weekdays
    ]


@dataclass(frozen=True, slots=True)
class MonthPoint:
    """One month of a unit's trend."""

    month: str
    """``YYYY-MM``."""
    satisfaction: float | None
    bad_reviews: int
    on_time_share: float | None
    """Cases completed by their due time, of those completed that month (None: none)."""
    attendance_defects: int


def _month(day: date | datetime) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def monthly_trend(
    months: Iterable[str],
    ratings: Iterable[tuple[datetime, int, bool]],
    cases: Iterable[tuple[datetime, datetime]],
    defects: Iterable[tuple[date, int]],
    values: Mapping[int, Fraction | float],
    bad_levels: frozenset[int],
) -> list[MonthPoint]:
    """The trend over ``months`` (``YYYY-MM``, in order).

    ``ratings`` are (local time, level, valid): satisfaction over valid ones, bad reviews
    over valid ones too; ``cases`` (completed, due) of completed cases; ``defects`` (day,
    late + early + missing + absent half-days of a person's day).
    """
    sat: dict[str, list[float]] = defaultdict(list)
    bad: dict[str, int] = defaultdict(int)
    for at, level, valid in ratings:
        if valid:
            sat[_month(at)].append(float(values[level]))
            bad[_month(at)] += level in bad_levels
    done: dict[str, list[bool]] = defaultdict(list)
    for completed, due in cases:
        done[_month(completed)].append(completed <= due)
    faults: dict[str, int] = defaultdict(int)
    for day, n in defects:
        faults[_month(day)] += n
    return [
        MonthPoint(
            m,
            (sum(sat[m]) / len(sat[m])) if sat.get(m) else None,
            bad.get(m, 0),
            (sum(done[m]) / len(done[m])) if done.get(m) else None,
            faults.get(m, 0),
        )
        for m in months
    ]
