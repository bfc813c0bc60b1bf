"""The 好差评 loop of a bad review (SPEC 4.3, 11): its terms, and the figures reported on it.

Pure functions over frozen dataclasses. Times are the hall's local time (naive
``datetime``); a term ends at 24:00 of its last workday, returned as 00:00 of the next
day, and a step taken at or before that instant is on time. Every term counts hall
workdays strictly after the day of the rating (so a rating on Friday evening is called
back by the end of Monday, and one before a holiday by the end of the first workday
after it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction

from kiosk.rules.calendar import HallCalendar, nth_workday_after

__all__ = [
    "DEFAULT_APPEAL_WORKDAYS",
    "DEFAULT_CALLBACK_WORKDAYS",
    "DEFAULT_DEFAULT_AFTER_DAYS",
    "DEFAULT_RATING_LEVEL",
    "LoopFacts",
    "LoopFigures",
    "LoopTerms",
    "appeal_deadline",
    "callback_due",
    "default_rating_due",
    "end_of_workday_term",
    "loop_figures",
    "on_time",
    "share",
]

DEFAULT_CALLBACK_WORKDAYS = 1
"""The first callback is due by the end of this many workdays after the rating (SPEC 11)."""
DEFAULT_APPEAL_WORKDAYS = 5
"""A unit may appeal within this many workdays after the rating (SPEC 11)."""
DEFAULT_DEFAULT_AFTER_DAYS = 0
"""Natural days after which an unrated case session gets a default rating; 0 = off (SPEC 4.2)."""
DEFAULT_RATING_LEVEL = 3
"""The level of a default rating (SPEC 4.2: 基本满意)."""


@dataclass(frozen=True, slots=True)
class LoopTerms:
    """A hall's terms of the loop: workdays after the rating day for each step."""

    callback_workdays: int = DEFAULT_CALLBACK_WORKDAYS
    appeal_workdays: int = DEFAULT_APPEAL_WORKDAYS
    rectification_workdays: int = 5


def end_of_workday_term(rated_local: datetime, workdays: int, calendar: HallCalendar) -> datetime:
    """24:00 of the ``workdays``-th hall workday after the rating's day (as 00:00 next day)."""
    last = nth_workday_after(rated_local.date(), workdays, calendar)
    return datetime.combine(last + timedelta(days=1), time())


def callback_due(rated_local: datetime, calendar: HallCalendar, terms: LoopTerms) -> datetime:
    """When the first callback of a bad review is due (SPEC 11 回访)."""
    return end_of_workday_term(rated_local, terms.callback_workdays, calendar)


def appeal_deadline(rated_local: datetime, calendar: HallCalendar, terms: LoopTerms) -> datetime:
    """The end of the unit's appeal window (SPEC 11 申诉)."""
    return end_of_workday_term(rated_local, terms.appeal_workdays, calendar)


def on_time(done_at: datetime | None, due: datetime) -> bool:
    """A step is on time when it was taken at or before its due instant."""
    return done_at is not None and done_at <= due


def default_rating_due(opened_at: datetime, after_days: int) -> datetime | None:
    """The instant an unrated session gets its default rating; None when they are off.

    Natural days (SPEC 4.2), counted from the session's opening, in any time base.
    """
    if after_days <= 0:
        return None
    return opened_at + timedelta(days=after_days)


@dataclass(frozen=True, slots=True)
class LoopFacts:
    """One bad review as the report sees it (misuse already left out by the caller).

    ``upheld`` is the verdict as it stands now (an approved appeal made it unfounded);
    ``rectified_at`` is None while the rectification is open (never done, or reopened).
    ``appeal`` is None (none filed), ``"pending"``, ``"approved"`` or ``"refused"``.
    """

    unit: str
    callback_due: datetime
    first_callback_at: datetime | None
    rectification_due: datetime
    upheld: bool
    rectified_at: datetime | None
    appeal: str | None = None


def share(part: int, whole: int) -> Fraction | None:
    """``part / whole`` exactly; None when there is nothing to share."""
    return None if whole == 0 else Fraction(part, whole)


@dataclass(frozen=True, slots=True)
class LoopFigures:
    """The report of one unit (or of the hall, ``unit == ""``) for one period."""

    unit: str
    bad_reviews: int
    called_back: int
    called_back_on_time: int
    upheld: int
    rectified: int
    rectified_on_time: int
    appeals: int
    approved: int
    refused: int

    @property
    def callback_rate(self) -> Fraction | None:
        """Bad reviews with at least one callback recorded, of all bad reviews."""
        return share(self.called_back, self.bad_reviews)

    @property
    def callback_on_time_share(self) -> Fraction | None:
        """Bad reviews called back by the due time, of all bad reviews."""
        return share(self.called_back_on_time, self.bad_reviews)

    @property
    def rectification_rate(self) -> Fraction | None:
        """Upheld bad reviews rectified (and not reopened), of the upheld ones."""
        return share(self.rectified, self.upheld)

    @property
    def rectification_on_time_share(self) -> Fraction | None:
        """Upheld bad reviews rectified by their deadline, of the upheld ones."""
        return share(self.rectified_on_time, self.upheld)

    @property
    def approval_share(self) -> Fraction | None:
        """Approved appeals of the decided ones (a pending appeal is not yet counted)."""
        return share(self.approved, self.approved + self.refused)


def _figures(unit: str, facts: list[LoopFacts]) -> LoopFigures:
    upheld = [f for f in facts if f.upheld]
    return LoopFigures(
        unit=unit,
        bad_reviews=len(facts),
        called_back=sum(1 for f in facts if f.first_callback_at is not None),
        called_back_on_time=sum(1 for f in facts if on_time(f.first_callback_at, f.callback_due)),
        upheld=len(upheld),
        rectified=sum(1 for f in upheld if f.rectified_at is not None),
        rectified_on_time=sum(1 for f in upheld if on_time(f.rectified_at, f.rectification_due)),
        appeals=sum(1 for f in facts if f.appeal is not None),
        approved=sum(1 for f in facts if f.appeal == "approved"),
        refused=sum(1 for f in facts if f.appeal == "refused"),
    )


def loop_figures(facts: Iterable[LoopFacts]) -> tuple[list[LoopFigures], LoopFigures]:
    """The figures per unit (sorted by unit code) and for the whole hall."""
    every = list(facts)
    by_unit: dict[str, list[LoopFacts]] = {}
    for fact in every:
        by_unit.setdefault(fact.unit, []).append(fact)
    units = [_figures(unit, by_unit[unit]) for unit in sorted(by_unit)]
    return units, _figures("", every)
