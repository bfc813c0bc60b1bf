"""Table tests of the public indicators per unit (kiosk.rules.indicators)."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from kiosk.rules.calendar import HallCalendar
from kiosk.rules.indicators import (
    HALL_TOTAL,
    CaseFact,
    Indicators,
    RatingFact,
    rate,
    unit_indicators,
)
from kiosk.rules.ruleset import default_rules

START, STOP = datetime(2026, 9, 1), datetime(2026, 11, 1)
AS_OF = datetime(2026, 11, 5, 12, 0)
UNIT_OF = {"S1": "A", "S2": "A", "S3": "B"}


def _rating(
    staff: str = "S1",
    level: int = 5,
    at: datetime = datetime(2026, 9, 7, 10, 0),
    **extra: object,
) -> RatingFact:
    fields: dict[str, object] = {
        "channel": "counter",
        "misuse": False,
        "review": None,
        "rectified_at": None,
    }
    fields.update(extra)
    return RatingFact(staff, at, level, **fields)  # type: ignore[arg-type]


def _run(ratings: list[RatingFact], cases: list[CaseFact] = ()) -> dict[str, Indicators]:  # type: ignore[assignment]
    lines = unit_indicators(
        ratings, cases, UNIT_OF, ["A", "B"], default_rules(), HallCalendar(), START, STOP, AS_OF
    )
    return {line.unit: line for line in lines}


@pytest.mark.parametrize(
    ("ratings", "valid", "good", "bad", "why"),
    [
        ([_rating(level=5), _rating(level=4), _rating(level=3)], 3, 2, 0, "4 and 5 are good"),
        ([_rating(level=2), _rating(level=1)], 2, 0, 2, "1 and 2 are bad"),
        ([_rating(channel="default")], 0, 0, 0, "a default rating is not valid"),
        ([_rating(misuse=True, level=1)], 0, 0, 0, "misuse is not valid"),
        ([_rating(level=1, review="unfounded")], 0, 0, 0, "unfounded is not valid"),
        ([_rating(at=datetime(2026, 8, 31, 23, 59))], 0, 0, 0, "before the period"),
        ([_rating(at=datetime(2026, 11, 1, 0, 0))], 0, 0, 0, "after the period"),
    ],
)
def test_ratings_count_as_the_scorer_counts_them(
    ratings: list[RatingFact], valid: int, good: int, bad: int, why: str
) -> None:
    line = _run(ratings)["A"]
    assert (line.valid_ratings, line.good, line.bad) == (valid, good, bad), why


def test_good_rate_is_good_over_valid_and_none_without_ratings() -> None:
    lines = _run([_rating(level=5), _rating(level=3), _rating("S2", level=4), _rating("S3", 1)])
    assert lines["A"].good_rate == Fraction(2, 3)
    assert lines["B"].good_rate == 0 and lines["B"].bad == 1
    assert lines[HALL_TOTAL].valid_ratings == 4 and lines[HALL_TOTAL].good_rate == Fraction(1, 2)
    assert _run([])["A"].good_rate is None


def test_someone_without_a_home_unit_counts_in_the_hall_line_only() -> None:
    lines = _run([_rating("S9", level=5)])
    assert lines["A"].valid_ratings == lines["B"].valid_ratings == 0
    assert lines[HALL_TOTAL].valid_ratings == 1


def test_rectification_rates_against_the_deadline() -> None:
    # Mon 7 Sep 2026: the 5th workday after is Mon 14 Sep, deadline 15 Sep 00:00.
    day = datetime(2026, 9, 7, 10, 0)
    lines = _run(
        [
            _rating(level=1, at=day, review="upheld", rectified_at=datetime(2026, 9, 14, 18, 0)),
            _rating(level=2, at=day, review="upheld", rectified_at=datetime(2026, 9, 15, 9, 0)),
            _rating(level=1, at=day, review="upheld"),
            _rating(level=2, at=day),  # not verified yet: bad, not upheld
        ]
    )
    line = lines["A"]
    assert (line.bad, line.upheld, line.rectified, line.rectified_on_time) == (4, 3, 2, 1)
    assert line.rectification_rate == Fraction(2, 3)
    assert line.on_time_rectification_rate == Fraction(1, 3)


def test_the_callback_rate_needs_callbacks_recorded() -> None:
    assert _run([_rating(level=1)])["A"].callback_rate is None
    recorded = _run([_rating(level=1, called_back=True), _rating(level=2, called_back=False)])
    assert recorded["A"].called_back == 1 and recorded["A"].callback_rate == Fraction(1, 2)
    mixed = _run([_rating(level=1, called_back=True), _rating(level=2)])
    assert mixed["A"].callback_rate is None


def test_cases_on_time_by_completion_in_the_period() -> None:
    due = datetime(2026, 9, 10, 17, 0)
    cases = [
        CaseFact("S1", due, datetime(2026, 9, 10, 17, 0)),  # at the due time: on time
        CaseFact("S1", due, datetime(2026, 9, 10, 17, 1)),
        CaseFact("S3", due, datetime(2026, 11, 2, 9, 0)),  # after the period
    ]
    lines = _run([], cases)
    assert (lines["A"].cases_completed, lines["A"].cases_on_time) == (2, 1)
    assert lines["A"].on_time_rate == Fraction(1, 2)
    assert lines["B"].cases_completed == 0 and lines["B"].on_time_rate is None


def test_rate() -> None:
    assert rate(1, 4) == Fraction(1, 4) and rate(0, 0) is None
