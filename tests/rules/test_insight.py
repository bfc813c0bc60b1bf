"""Table tests of the pictures' aggregations (issue 15)."""

from __future__ import annotations

from datetime import date, datetime

from kiosk.rules.insight import HeatCell, MonthPoint, heat_grid, monthly_trend

VALUES = {5: 100, 4: 80, 3: 60, 2: 30, 1: 0}
MON = datetime(2026, 11, 2, 9, 15)


def test_heat_grid_cells() -> None:
    ratings = [
        (MON, 5),
        (MON.replace(minute=59), 2),
        (MON.replace(hour=10), 4),
        (MON.replace(hour=6), 1),
        (datetime(2026, 11, 3, 9, 0), 3),
    ]
    grid = heat_grid(ratings, VALUES, hours=range(8, 11), weekdays=range(0, 2))
    assert grid[0] == [
        HeatCell(0, 8, 0, None),
        HeatCell(0, 9, 2, 65.0),
        HeatCell(0, 10, 1, 80.0),
    ]
    assert grid[1][1] == HeatCell(1, 9, 1, 60.0)  # Tuesday 09:00 (an hour includes :00)
    assert sum(c.ratings for row in grid for c in row) == 4  # 06:15 is outside the hours


def test_monthly_trend() -> None:
    ratings = [
        (datetime(2026, 9, 3, 10), 5, True),
        (datetime(2026, 9, 4, 10), 1, True),
        (datetime(2026, 9, 5, 10), 1, False),
        (datetime(2026, 10, 1, 10), 4, True),
    ]
    cases = [
        (datetime(2026, 9, 3, 10), datetime(2026, 9, 3, 10)),  # at the due time: on time
        (datetime(2026, 9, 4, 10, 1), datetime(2026, 9, 4, 10)),
    ]
    defects = [(date(2026, 9, 1), 2), (date(2026, 10, 9), 1), (date(2026, 10, 10), 3)]
    trend = monthly_trend(
        ["2026-09", "2026-10", "2026-11"], ratings, cases, defects, VALUES, frozenset({1, 2})
    )
    assert trend == [
        MonthPoint("2026-09", 50.0, 1, 0.5, 2),
        MonthPoint("2026-10", 80.0, 0, None, 4),
        MonthPoint("2026-11", None, 0, None, 0),
    ]
