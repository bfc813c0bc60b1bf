"""The public evaluation indicators per unit and period (GB/T 39734; SPEC 13 issue 16).

One pure function, :func:`unit_indicators`, turns a period's ratings and cases into the
indicators the hall publishes for each unit: valid ratings, 好评率, bad reviews, the
callback rate, the rectification rate (and how many were on time), and cases completed
on time. A rating counts as the scorer counts it (SPEC 4, 5.3): default ratings, misuse
and ratings found unfounded are not valid; a bad review is a valid rating of a bad level
of the rule file; an upheld one must be rectified by its deadline (SPEC 5.4).

Callbacks (回访) are not recorded yet: a rating's ``called_back`` is ``None`` then, and
the callback rate is ``None`` (shown as "no data") until every bad review carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from kiosk.rules.calendar import HallCalendar, rectification_deadline
from kiosk.rules.ruleset import RuleSet

__all__ = [
    "GOOD_LEVELS",
    "HALL_TOTAL",
    "CaseFact",
    "Indicators",
    "RatingFact",
    "rate",
    "unit_indicators",
]

GOOD_LEVELS = frozenset({4, 5})
"""好评: 非常满意 and 满意 (SPEC 4.1)."""
HALL_TOTAL = ""
"""The unit code of the hall-wide line (every unit together)."""


@dataclass(frozen=True, slots=True)
class RatingFact:
    """One rating as the indicators need it; times are naive hall-local."""

    staff_no: str
    rated_at: datetime
    level: int
    channel: str
    misuse: bool
    review: str | None
    rectified_at: datetime | None
    called_back: bool | None = None
    """Whether the citizen was called back (None: callbacks are not recorded)."""


@dataclass(frozen=True, slots=True)
class CaseFact:
    """One completed case; times are naive hall-local."""

    staff_no: str
    due_at: datetime
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class Indicators:
    """The indicators of one unit (or of the hall, ``unit == HALL_TOTAL``) for a period."""

    unit: str
    valid_ratings: int
    good: int
    bad: int
    called_back: int | None
    """Bad reviews called back; None when callbacks are not recorded."""
    upheld: int
    rectified: int
    rectified_on_time: int
    cases_completed: int
    cases_on_time: int

    @property
    def good_rate(self) -> Fraction | None:
        """好评率: good ratings over valid ratings."""
        return rate(self.good, self.valid_ratings)

    @property
    def callback_rate(self) -> Fraction | None:
        """回访率: bad reviews called back over bad reviews."""
        return None if self.called_back is None else rate(self.called_back, self.bad)

    @property
    def rectification_rate(self) -> Fraction | None:
        """整改率: upheld bad reviews rectified over upheld bad reviews."""
        return rate(self.rectified, self.upheld)

    @property
    def on_time_rectification_rate(self) -> Fraction | None:
        """按期整改率: upheld bad reviews rectified by their deadline over upheld ones."""
        return rate(self.rectified_on_time, self.upheld)

    @property
    def on_time_rate(self) -> Fraction | None:
        """按时办结率: cases completed by their due time over cases completed."""
        return rate(self.cases_on_time, self.cases_completed)


def rate(part: int, whole: int) -> Fraction | None:
    """``part / whole`` exactly; None when there is nothing to count."""
    return Fraction(part, whole) if whole else None


@dataclass(slots=True)
class _Tally:
    valid: int = 0
    good: int = 0
    bad: int = 0
    called_back: int | None = 0
    upheld: int = 0
    rectified: int = 0
    on_time: int = 0
    completed: int = 0
    cases_on_time: int = 0

    def frozen(self, unit: str) -> Indicators:
        return Indicators(
            unit,
            self.valid,
            self.good,
            self.bad,
            self.called_back,
            self.upheld,
            self.rectified,
            self.on_time,
            self.completed,
            self.cases_on_time,
        )


def _count_rating(
    tally: _Tally,
    rating: RatingFact,
    rules: RuleSet,
    deadline_of: Mapping[date, datetime],
) -> None:
    tally.valid += 1
    if rating.level in GOOD_LEVELS:
        tally.good += 1
    if rating.level not in rules.bad_levels:
        return
    tally.bad += 1
    if rating.called_back is None:
        tally.called_back = None
    elif tally.called_back is not None and rating.called_back:
        tally.called_back += 1
    if rating.review != "upheld":
        return
    tally.upheld += 1
    if rating.rectified_at is not None:
        tally.rectified += 1
        if rating.rectified_at <= deadline_of[rating.rated_at.date()]:
            tally.on_time += 1


def unit_indicators(
    ratings: Iterable[RatingFact],
    cases: Iterable[CaseFact],
    unit_of: Mapping[str, str],
    units: Iterable[str],
    rules: RuleSet,
    calendar: HallCalendar,
    start: datetime,
    stop: datetime,
    as_of: datetime,
) -> tuple[Indicators, ...]:
    """The indicators of each unit in ``units`` (in that order), then the hall's line.

    ``unit_of`` maps a staff number to the unit of their home window; ratings and cases
    of anyone else count in the hall line only. Ratings count with ``start <= rated_at <
    stop`` and ``rated_at <= as_of``, cases with their completion in the same bounds, as
    the scorer counts them (SPEC 5.1).
    """
    order = list(units)
    tallies = {unit: _Tally() for unit in order}
    hall = _Tally()
    deadlines: dict[date, datetime] = {}
    for rating in ratings:
        if not start <= rating.rated_at < stop or rating.rated_at > as_of:
            continue
        if rating.channel == "default" or rating.misuse or rating.review == "unfounded":
            continue
        day = rating.rated_at.date()
        if day not in deadlines:
            deadlines[day] = rectification_deadline(day, calendar, rules.rectification_workdays)
        for tally in (tallies.get(unit_of.get(rating.staff_no, "")), hall):
            if tally is not None:
                _count_rating(tally, rating, rules, deadlines)
    for case in cases:
        if not start <= case.completed_at < stop or case.completed_at > as_of:
            continue
        for tally in (tallies.get(unit_of.get(case.staff_no, "")), hall):
            if tally is not None:
                tally.completed += 1
                tally.cases_on_time += case.completed_at <= case.due_at
    return (*(tallies[unit].frozen(unit) for unit in order), hall.frozen(HALL_TOTAL))
