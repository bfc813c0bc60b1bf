"""The bad-review loop's terms and report figures (SPEC 4.3, 11), table-tested at the edges."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest

from kiosk.rules.badreview import (
    LoopFacts,
    LoopTerms,
    appeal_deadline,
    callback_due,
    default_rating_due,
    loop_figures,
    on_time,
    share,
)
from kiosk.rules.calendar import HallCalendar
from kiosk.rules.settings import default_after_days, hall_settings, loop_terms

PLAIN = HallCalendar()
EXAMPLE = HallCalendar(
    closed_days=frozenset({date(2026, 10, 16)}),
    extra_workdays=frozenset({date(2026, 9, 12)}),
)
TERMS = LoopTerms()


@pytest.mark.parametrize(
    ("rated", "calendar", "terms", "due", "why"),
    [
        (datetime(2026, 11, 26, 10), PLAIN, TERMS, datetime(2026, 11, 28), "Thursday: by Friday"),
        (
            datetime(2026, 11, 27, 21, 30),
            PLAIN,
            TERMS,
            datetime(2026, 12, 1),
            "Friday evening: the weekend is skipped, by the end of Monday",
        ),
        (
            datetime(2026, 11, 28, 9),
            PLAIN,
            TERMS,
            datetime(2026, 12, 1),
            "a Saturday rating: still the first workday after, Monday",
        ),
        (
            datetime(2026, 11, 26, 23, 59, 59),
            PLAIN,
            TERMS,
            datetime(2026, 11, 28),
            "just before midnight counts on its own day",
        ),
        (
            datetime(2026, 9, 30, 16),
            PLAIN,
            TERMS,
            datetime(2026, 10, 9),
            "before the National Day holiday: by the end of 8 October",
        ),
        (
            datetime(2026, 9, 11, 17),
            EXAMPLE,
            TERMS,
            datetime(2026, 9, 13),
            "Friday before the hall's extra workday: that Saturday counts",
        ),
        (
            datetime(2026, 9, 12, 11),
            EXAMPLE,
            TERMS,
            datetime(2026, 9, 15),
            "on the extra workday itself: by the end of Monday",
        ),
        (
            datetime(2026, 10, 15, 15),
            EXAMPLE,
            TERMS,
            datetime(2026, 10, 20),
            "before the hall's closed Friday: by the end of Monday",
        ),
        (
            datetime(2026, 11, 26, 10),
            PLAIN,
            LoopTerms(callback_workdays=2),
            datetime(2026, 12, 1),
            "two workdays: Friday and Monday",
        ),
        (
            datetime(2026, 12, 31, 10),
            PLAIN,
            TERMS,
            datetime(2027, 1, 2),
            "into a year the calendar package does not know: Monday to Friday",
        ),
    ],
)
def test_callback_due(
    rated: datetime, calendar: HallCalendar, terms: LoopTerms, due: datetime, why: str
) -> None:
    assert callback_due(rated, calendar, terms) == due, why


@pytest.mark.parametrize(
    ("rated", "calendar", "terms", "deadline", "why"),
    [
        (datetime(2026, 11, 26, 10), PLAIN, TERMS, datetime(2026, 12, 4), "Fri Mon Tue Wed Thu"),
        (
            datetime(2026, 11, 27, 20),
            PLAIN,
            TERMS,
            datetime(2026, 12, 5),
            "Friday evening: Mon to Fri of the next week",
        ),
        (
            datetime(2026, 9, 30, 16),
            PLAIN,
            TERMS,
            datetime(2026, 10, 14),
            "over the holiday: 8, 9, 10 (make-up Saturday), 12, 13 October",
        ),
        (
            datetime(2026, 10, 12, 9),
            EXAMPLE,
            TERMS,
            datetime(2026, 10, 21),
            "the closed Friday is skipped: 13, 14, 15, 19, 20 October",
        ),
        (
            datetime(2026, 11, 26, 10),
            PLAIN,
            LoopTerms(appeal_workdays=1),
            datetime(2026, 11, 28),
            "a hall with a one-workday appeal window",
        ),
    ],
)
def test_appeal_deadline(
    rated: datetime, calendar: HallCalendar, terms: LoopTerms, deadline: datetime, why: str
) -> None:
    assert appeal_deadline(rated, calendar, terms) == deadline, why


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        (None, False),
        (datetime(2026, 11, 27, 23, 59, 59), True),
        (datetime(2026, 11, 28), True),  # at 24:00 exactly: on time
        (datetime(2026, 11, 28, 0, 0, 1), False),
    ],
)
def test_on_time_at_the_boundary(done: datetime | None, expected: bool) -> None:
    assert on_time(done, datetime(2026, 11, 28)) is expected


@pytest.mark.parametrize(
    ("opened", "days", "due"),
    [
        (datetime(2026, 11, 1, 9), 0, None),
        (datetime(2026, 11, 1, 9), -3, None),
        (datetime(2026, 11, 1, 9), 7, datetime(2026, 11, 8, 9)),
        (datetime(2026, 11, 30, 23, 50), 1, datetime(2026, 12, 1, 23, 50)),
    ],
)
def test_default_rating_due_in_natural_days(
    opened: datetime, days: int, due: datetime | None
) -> None:
    assert default_rating_due(opened, days) == due


DUE = datetime(2026, 11, 28)
RECT = datetime(2026, 12, 4)


def fact(unit: str = "SCJG", **kw: object) -> LoopFacts:
    values: dict[str, object] = {
        "unit": unit,
        "callback_due": DUE,
        "first_callback_at": None,
        "rectification_due": RECT,
        "upheld": False,
        "rectified_at": None,
        "appeal": None,
    }
    values.update(kw)
    return LoopFacts(**values)  # type: ignore[arg-type]


def test_figures_per_unit_and_for_the_hall() -> None:
    facts = [
        # called back on time, upheld, rectified on time, appeal refused
        fact(
            first_callback_at=DUE - timedelta(hours=3),
            upheld=True,
            rectified_at=RECT - timedelta(days=1),
            appeal="refused",
        ),
        # called back late, upheld, rectified late
        fact(
            first_callback_at=DUE + timedelta(minutes=1),
            upheld=True,
            rectified_at=RECT + timedelta(seconds=1),
        ),
        # never called back, upheld and open (or reopened)
        fact(upheld=True),
        # appealed and approved: no longer upheld
        fact(first_callback_at=DUE, appeal="approved"),
        # another unit: one pending appeal, nothing else
        fact("GAJ", upheld=True, appeal="pending"),
    ]
    units, hall = loop_figures(facts)
    assert [u.unit for u in units] == ["GAJ", "SCJG"]
    gaj, scjg = units
    assert (scjg.bad_reviews, scjg.called_back, scjg.called_back_on_time) == (4, 3, 2)
    assert (scjg.upheld, scjg.rectified, scjg.rectified_on_time) == (3, 2, 1)
    assert (scjg.appeals, scjg.approved, scjg.refused) == (2, 1, 1)
    assert scjg.callback_rate == Fraction(3, 4)
    assert scjg.callback_on_time_share == Fraction(1, 2)
    assert scjg.rectification_rate == Fraction(2, 3)
    assert scjg.rectification_on_time_share == Fraction(1, 3)
    assert scjg.approval_share == Fraction(1, 2)
    # A pending appeal is counted as filed, not yet in the approval share.
    assert (gaj.appeals, gaj.approved, gaj.refused, gaj.approval_share) == (1, 0, 0, None)
    assert gaj.callback_rate == 0 and gaj.rectification_rate == 0
    assert (hall.unit, hall.bad_reviews, hall.upheld, hall.appeals) == ("", 5, 4, 3)


def test_no_bad_reviews_share_nothing() -> None:
    units, hall = loop_figures([])
    assert units == []
    assert hall.bad_reviews == 0
    assert (hall.callback_rate, hall.rectification_rate, hall.approval_share) == (None, None, None)
    assert share(0, 0) is None and share(1, 3) == Fraction(1, 3)


@pytest.mark.parametrize(
    ("settings", "callback", "appeal", "after"),
    [
        (None, 1, 5, 0),
        ({}, 1, 5, 0),
        ({"callback_workdays": 2, "appeal_workdays": 3, "default_after_days": 7}, 2, 3, 7),
        # a raw hall.toml mapping reads the same
        ({"ratings": {"callback_workdays": 3, "default_after_days": 7}}, 3, 5, 7),
        ({"callback_workdays": None}, 1, 5, 0),
    ],
)
def test_the_hall_settings_give_the_terms(
    settings: dict[str, object] | None, callback: int, appeal: int, after: int
) -> None:
    terms = loop_terms(settings, 5)
    assert (terms.callback_workdays, terms.appeal_workdays, terms.rectification_workdays) == (
        callback,
        appeal,
        5,
    )
    assert default_after_days(settings) == after
    read = hall_settings(settings)
    assert (read.callback_workdays, read.appeal_workdays, read.default_after_days) == (
        callback,
        appeal,
        after,
    )
