"""Half-year and year-end appraisal (年度考核): each person's published results over the
periods of a year, from the frozen results only (the current revision of each period)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kiosk.models import Hall
from kiosk.services import publishing

SCOPES = {"year": (1, 6), "h1": (1, 3), "h2": (4, 6)}


@dataclass(frozen=True, slots=True)
class PeriodLine:
    """One published period of one person."""

    period: str
    revision: int
    window: str
    unit: str
    rank: int
    scored: int
    total: float
    award: str | None
    vetoes: tuple[str, ...]
    late: int
    early: int
    missing: int
    absent_half_days: int
    on_duty_days: int
    workdays: int
    valid_ratings: int
    bad_ratings: int
    cases: int
    cases_on_time: int


@dataclass(slots=True)
class PersonYear:
    """A person's appraisal sheet: one line per published period, and the sums."""

    staff_no: str
    name: str
    lines: list[PeriodLine] = field(default_factory=list)

    @property
    def average_total(self) -> float | None:
        """Mean of the period totals (None without any period)."""
        return round(sum(x.total for x in self.lines) / len(self.lines), 2) if self.lines else None

    @property
    def awards(self) -> int:
        """How many times the person was an advanced individual."""
        return sum(1 for x in self.lines if x.award == "advanced")

    @property
    def vetoed_periods(self) -> int:
        """Periods with at least one veto."""
        return sum(1 for x in self.lines if x.vetoes)

    def total(self, name: str) -> int:
        """The sum of an integer attribute over the periods (late, missing, cases...)."""
        return sum(int(getattr(x, name)) for x in self.lines)


@dataclass(slots=True)
class Appraisal:
    """The appraisal of a hall for a year or half-year."""

    year: int
    scope: str
    periods: list[str]
    missing_periods: list[str]
    people: list[PersonYear]


def appraisal(
    session: Session, hall: Hall, year: int, scope: str = "year", unit_code: str | None = None
) -> Appraisal:
    """Everyone's published results in the year (or half) ``scope``; one unit's if given.

    With ``unit_code`` only the periods a person spent at a window of that unit are shown.
    Periods not published yet are listed in ``missing_periods``.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    first, last = SCOPES[scope]
    codes = [f"{year:04d}-B{i}" for i in range(first, last + 1)]
    people: dict[str, PersonYear] = {}
    published: list[str] = []
    for code in codes:
        row = publishing.latest(session, hall, code)
        if row is None:
            continue
        published.append(code)
        result: dict[str, Any] = publishing.frozen(row)
        unit_of = {w["window"]: w["unit"] for w in result["windows"]}
        scored = len(result["individuals"])
        for p in result["individuals"]:
            unit = unit_of.get(p["window"], "")
            if unit_code is not None and unit != unit_code:
                continue
            a, r, c = p["attendance_detail"], p["ratings"], p["cases"]
            person = people.setdefault(p["staff_no"], PersonYear(p["staff_no"], p["name"]))
            person.name = p["name"]
            person.lines.append(
                PeriodLine(
                    code,
                    row.revision,
                    p["window"],
                    unit,
                    p["rank"],
                    scored,
                    p["total"],
                    p["award"],
                    tuple(p["vetoes"]),
                    a["late"],
                    a["early"],
                    a["missing"],
                    a["absent_half_days"],
                    a["on_duty_days"],
                    a["workdays"],
                    r["valid"],
                    r["bad"],
                    c["completed"],
                    c["on_time"],
                )
            )
    return Appraisal(
        year,
        scope,
        published,
        [c for c in codes if c not in published],
        sorted(people.values(), key=lambda p: p.staff_no),
    )
