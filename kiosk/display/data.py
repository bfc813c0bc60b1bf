"""What the hall's public screen (公示) shows, from the last published period.

Awards and per-window satisfaction come from the frozen result of the hall's latest
publication (never recomputed). The monthly satisfaction per window is the mean value
(SPEC 4.1 table) of the valid ratings (not misuse, not unfounded) of each month, by the
window the rated staff member was assigned to on the day of the rating.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import Assignment, Hall, Rating, Staff, Window, utcnow
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.seating import holding_on
from kiosk.services import publishing

MONTHS = 6


@dataclass(frozen=True, slots=True)
class WindowSatisfaction:
    """A window's satisfaction in the published period: valid ratings and their mean value."""

    window: str
    name: str
    unit: str
    valid: int
    mean: float | None
    award: str | None


@dataclass(frozen=True, slots=True)
class MonthlySeries:
    """One window's monthly mean satisfaction (None for a month without valid ratings)."""

    window: str
    name: str
    values: tuple[float | None, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """The hall's 好差评 figures of one month so far, over valid ratings (SPEC 4.3: not
    misuse, not unfounded, not a default rating): how many, the mean value (满意度), the
    share at level 4–5 (好评率) and the bad reviews (level 1–2)."""

    month: dt.date
    valid: int
    mean: float | None
    good: int
    bad: int

    @property
    def good_rate(self) -> float | None:
        """好评率 in percent, one decimal; None without valid ratings."""
        return round(100 * self.good / self.valid, 1) if self.valid else None


@dataclass(slots=True)
class DisplayData:
    """Everything on the public display of one hall."""

    hall: Hall
    period: str | None
    period_from: str | None
    period_to: str | None
    revision: int | None
    red_flags: list[dict[str, Any]] = field(default_factory=list)
    advanced: list[dict[str, Any]] = field(default_factory=list)
    satisfaction: list[WindowSatisfaction] = field(default_factory=list)
    months: list[dt.date] = field(default_factory=list)
    series: list[MonthlySeries] = field(default_factory=list)
    this_month: MonthFigures | None = None
    unit_names: dict[str, str] = field(default_factory=dict)  # unit code -> name
    window_names: dict[str, str] = field(default_factory=dict)  # window code -> name


def _window_satisfaction(result: dict[str, Any]) -> list[WindowSatisfaction]:
    """Per window: the valid-ratings-weighted mean of its members' frozen means."""
    people = {p["staff_no"]: p for p in result["individuals"]}
    rows = []
    for window in result["windows"]:
        valid = 0
        total = 0.0
        for member in window["members"]:
            ratings = people[member]["ratings"]
            if ratings["valid"] and ratings["mean"] is not None:
                valid += ratings["valid"]
                total += ratings["valid"] * ratings["mean"]
        rows.append(
            WindowSatisfaction(
                window["window"],
                window["name"],
                window["unit"],
                valid,
                round(total / valid, 2) if valid else None,
                window["award"],
            )
        )
    return sorted(rows, key=lambda r: r.window)


def month_starts(last_month: dt.date, count: int = MONTHS) -> list[dt.date]:
    """The first days of the ``count`` months ending with ``last_month``, oldest first."""
    year, month = last_month.year, last_month.month
    firsts = []
    for _ in range(count):
        firsts.append(dt.date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return firsts[::-1]


def monthly_series(
    session: Session, hall: Hall, months: list[dt.date], rules: RuleSet
) -> list[MonthlySeries]:
    """Each window's mean valid-rating value per month of ``months``."""
    zone = hall_zone(hall.timezone)
    first = months[0]
    after = (
        dt.date(months[-1].year + 1, 1, 1)
        if months[-1].month == 12
        else dt.date(months[-1].year, months[-1].month + 1, 1)
    )
    start, stop = local_day_bounds(first, after - dt.timedelta(days=1), zone)
    values = rules.level_map()
    windows = list(
        session.scalars(select(Window).where(Window.hall_id == hall.id).order_by(Window.code))
    )
    people = {
        s.id: s
        for s in session.scalars(
            select(Staff)
            .where(Staff.hall_id == hall.id)
            .options(selectinload(Staff.assignments).selectinload(Assignment.window))
        )
    }
    sums: dict[tuple[str, int], float] = defaultdict(float)
    counts: dict[tuple[str, int], int] = defaultdict(int)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    for staff_id, rated_at, level in session.execute(
        select(Rating.staff_id, Rating.rated_at, Rating.level).where(
            Rating.hall_id == hall.id,
            Rating.rated_at >= start,
            Rating.rated_at < stop,
            Rating.misuse.is_(False),
            Rating.channel != "default",  # SPEC 4.2: a default rating is never valid
            or_(Rating.review.is_(None), Rating.review != "unfounded"),
        )
    ):
        person = people.get(staff_id)
        if person is None:
            continue
        day = to_local(rated_at, zone).date()
        held = holding_on(person.assignments, day)
        if held is None:
            continue
        window = held.window.code
        key = (window, index[(day.year, day.month)])
        sums[key] += float(values[level])
        counts[key] += 1
    series = []
    for window in windows:
        row_counts = tuple(counts.get((window.code, i), 0) for i in range(len(months)))
        if not any(row_counts):
            continue
        series.append(
            MonthlySeries(
                window.code,
                window.name,
                tuple(
                    round(sums[(window.code, i)] / c, 1) if c else None
                    for i, c in enumerate(row_counts)
                ),
                row_counts,
            )
        )
    return series


def month_figures(
    session: Session, hall: Hall, rules: RuleSet, now: dt.datetime | None = None
) -> MonthFigures:
    """The hall's valid ratings of the current local month up to ``now`` (naive UTC)."""
    now = now or utcnow()
    zone = hall_zone(hall.timezone)
    first = to_local(now, zone).date().replace(day=1)
    start, _stop = local_day_bounds(first, first, zone)
    values = rules.level_map()
    levels = list(
        session.scalars(
            select(Rating.level).where(
                Rating.hall_id == hall.id,
                Rating.rated_at >= start,
                Rating.rated_at <= now,
                Rating.misuse.is_(False),
                or_(Rating.review.is_(None), Rating.review != "unfounded"),
                or_(Rating.channel.is_(None), Rating.channel != "default"),
            )
        )
    )
    mean = round(sum(float(values[level]) for level in levels) / len(levels), 2) if levels else None
    return MonthFigures(
        first,
        len(levels),
        mean,
        sum(1 for level in levels if level >= 4),
        sum(1 for level in levels if level in rules.bad_levels),
    )


def display_data(
    session: Session, hall: Hall, rules: RuleSet, now: dt.datetime | None = None
) -> DisplayData:
    """The screen's content: awards and satisfaction of the last published period, and
    six months of satisfaction per window ending with that period (or last month)."""
    row = publishing.latest_published(session, hall)
    if row is None:
        data = DisplayData(hall, None, None, None, None)
        today = to_local(now or utcnow(), hall_zone(hall.timezone)).date()
        last_month = today.replace(day=1) - dt.timedelta(days=1)
    else:
        result = publishing.frozen(row)
        data = DisplayData(hall, row.period, result["from"], result["to"], row.revision)
        # The public reads unit names, not codes.
        data.unit_names = publishing.unit_names(session, hall)
        data.window_names = {w.code: w.name for w in hall.windows}
        data.red_flags = [w for w in result["windows"] if w["award"] == "red_flag"]
        data.advanced = [p for p in result["individuals"] if p["award"] == "advanced"]
        data.satisfaction = _window_satisfaction(result)
        last_month = dt.date.fromisoformat(result["to"])
    data.this_month = month_figures(session, hall, rules, now)
    data.months = month_starts(last_month.replace(day=1))
    data.series = monthly_series(session, hall, data.months, rules)
    return data
