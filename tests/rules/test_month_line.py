"""The monthly attendance sheet's line (考勤月报): :func:`month_line` over day records."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from kiosk.rules.attendance import Excuse, MonthLine, day_plan, evaluate_day, month_line
from kiosk.rules.calendar import Schedule

WINTER = Schedule("winter", (10, 1), (4, 30), (time(8, 30), time(12)), (time(14), time(17, 30)))
DAY = date(2026, 10, 22)


def at(clock: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(clock))


def record(punches: list[str], excuses: tuple[Excuse, ...] = (), as_of: datetime | None = None):
    return evaluate_day(day_plan(DAY, WINTER), DAY, [at(p) for p in punches], excuses, 5, (), as_of)


NORMAL = ["08:20", "12:02", "13:55", "17:35"]


@pytest.mark.parametrize(
    ("punches", "excuses", "expected"),
    [
        (NORMAL, (), MonthLine(workdays=1, on_duty_days=1)),
        (["08:36", "12:02", "13:55", "17:20"], (), MonthLine(1, 1, late=1, early=1)),
        (["08:35", "12:02", "13:55", "17:35"], (), MonthLine(1, 1)),  # grace: not late
        (["08:20", "13:55", "17:35"], (), MonthLine(1, 1, missing=1)),
        (["13:55", "17:35"], (), MonthLine(1, 1, absent_half_days=1)),
        ([], (), MonthLine(1, 0, absent_half_days=2)),
        ([], (Excuse("leave", at("08:00"), at("18:00")),), MonthLine(1, 0, leave_half_days=2)),
        (
            ["13:55", "17:35"],
            (Excuse("leave", at("08:30"), at("12:00")),),
            MonthLine(1, 1, leave_half_days=1),
        ),
        # Out of office from 09:40 to 11:00 excuses no slot (A0 08:30, A1 12:00): not "out".
        (NORMAL, (Excuse("out", at("09:40"), at("11:00")),), MonthLine(1, 1)),
        (
            ["08:20", "12:02"],
            (Excuse("out", at("13:50"), at("18:00")),),
            MonthLine(1, 1, out_half_days=1),
        ),
    ],
)
def test_month_line_of_one_day(punches, excuses, expected) -> None:
    assert month_line([record(punches, excuses)]) == expected


def test_open_days_count_for_nothing_else() -> None:
    line = month_line([record([], as_of=at("10:00")), record(NORMAL)])
    assert line == MonthLine(workdays=1, on_duty_days=1, open_days=1)
    assert line.clean


def test_month_line_sums_days() -> None:
    days = [record(["08:36", "12:02", "13:55", "17:35"]) for _ in range(3)] + [record([])]
    line = month_line(days)
    assert (line.workdays, line.on_duty_days, line.late, line.absent_half_days) == (4, 3, 3, 2)
    assert not line.clean
    assert month_line([]) == MonthLine()
