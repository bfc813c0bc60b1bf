"""The one "window on a day" rule (SPEC 5.2) and the home window, table-tested."""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import pytest

from kiosk.rules.seating import Assignment, covers, holding_on, roster_and_home

OLD = Assignment("W01", date(2026, 1, 1))
NEW = Assignment("W02", date(2026, 9, 25))
ENDED = Assignment("W03", date(2026, 1, 1), date(2026, 9, 24))


@pytest.mark.parametrize(
    ("assignments", "day", "window"),
    [
        ((), date(2026, 9, 1), None),
        ((OLD,), date(2025, 12, 31), None),
        ((OLD,), date(2026, 1, 1), "W01"),
        ((OLD, NEW), date(2026, 9, 24), "W01"),
        ((OLD, NEW), date(2026, 9, 25), "W02"),  # both cover: the later start holds
        ((NEW, OLD), date(2026, 9, 25), "W02"),  # whatever the order
        ((ENDED,), date(2026, 9, 24), "W03"),  # end date inclusive
        ((ENDED,), date(2026, 9, 25), None),
    ],
)
def test_holding_on(assignments, day, window) -> None:
    held = holding_on(assignments, day)
    assert (held.window if held else None) == window


def test_any_dated_row_works() -> None:
    class Row(NamedTuple):
        window_id: int
        start_date: date
        end_date: date | None

    rows = [Row(1, date(2026, 1, 1), None), Row(2, date(2026, 3, 1), date(2026, 3, 31))]
    assert holding_on(rows, date(2026, 3, 15)) == rows[1]
    assert holding_on(rows, date(2026, 4, 1)) == rows[0]
    assert covers(rows[1], date(2026, 3, 31)) and not covers(rows[1], date(2026, 4, 1))


def test_roster_and_home_window() -> None:
    days = [date(2026, 9, d) for d in (22, 23, 24, 25, 28)]
    assert roster_and_home((OLD, NEW), days) == (days, "W01")  # 3 days against 2
    # A tie goes to the later assignment.
    assert roster_and_home((OLD, NEW), days[1:]) == (days[1:], "W02")
    assert roster_and_home((ENDED,), days) == (days[:3], "W03")
    assert roster_and_home((), days) == ([], None)
