"""Small builders for scoring tests: a winter-schedule hall and people with controlled records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from kiosk.rules.calendar import HallCalendar, Period, Schedule, workdays
from kiosk.rules.scoring import (
    Absence,
    Assignment,
    Case,
    Event,
    Hall,
    PeriodData,
    Punch,
    Rating,
    Staff,
    Window,
)

WINTER = Schedule("winter", (10, 1), (4, 30), (time(8, 30), time(12)), (time(14), time(17, 30)))
SUMMER = Schedule("summer", (5, 1), (9, 30), (time(8), time(12)), (time(14, 30), time(17, 30)))
HALL = Hall("QJ", "测试中心", "Asia/Shanghai", HallCalendar(schedules=(WINTER, SUMMER)))
PERIOD = Period.parse("2026-B5")
AS_OF = datetime.fromisoformat("2026-11-15T00:00:00+08:00")
# Mon 26 Oct – Fri 30 Oct 2026: five plain winter workdays.
WEEK = (date(2026, 10, 26), date(2026, 10, 30))
CLEAN = ("08:20", "12:02", "13:55", "17:35")


def clock(day: date, text: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(text))


@dataclass
class Person:
    """A staff member's raw data for one test; defaults give a clean week at window W1."""

    staff_no: str
    window: str = "W1"
    start: date = WEEK[0]
    end: date | None = WEEK[1]
    assignments: tuple[Assignment, ...] | None = None
    days_punched: int = 5
    extra_punches: list[datetime] = field(default_factory=list)
    levels: list[int] = field(default_factory=lambda: [5] * 20)
    cases: list[tuple[int, bool]] = field(
        default_factory=list
    )  # (weight or 0 for default, on time)
    ratings: list[Rating] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    absences: list[Absence] = field(default_factory=list)


def build(
    people: list[Person],
    windows: tuple[Window, ...] = (Window("W1", "窗口一", "U1"), Window("W2", "窗口二", "U1")),
    hall: Hall = HALL,
    period: Period = PERIOD,
    as_of: datetime = AS_OF,
) -> PeriodData:
    punches: list[Punch] = []
    ratings: list[Rating] = []
    cases: list[Case] = []
    events: list[Event] = []
    absences: list[Absence] = []
    staff: list[Staff] = []
    for p in people:
        assignments = p.assignments or (Assignment(p.window, p.start, p.end),)
        staff.append(Staff(p.staff_no, f"姓名{p.staff_no}", assignments))
        roster_end = p.end or period.last_day
        days = workdays(
            max(p.start, period.first_day), min(roster_end, period.last_day), hall.calendar
        )
        for d in days[: p.days_punched]:
            punches.extend(Punch(p.staff_no, clock(d, c)) for c in CLEAN)
        punches.extend(Punch(p.staff_no, t) for t in p.extra_punches)
        for i, level in enumerate(p.levels):
            ratings.append(
                Rating(
                    f"{p.staff_no}-R{i}",
                    p.staff_no,
                    datetime(2026, 10, 27, 9) + timedelta(minutes=i),
                    level,
                )
            )
        ratings.extend(p.ratings)
        for i, (weight, on_time) in enumerate(p.cases):
            done = datetime(2026, 10, 27, 10)
            cases.append(
                Case(
                    f"{p.staff_no}-C{i}",
                    p.staff_no,
                    done + timedelta(hours=1 if on_time else -1),
                    done,
                    Decimal(weight) if weight else None,
                )
            )
        events.extend(p.events)
        absences.extend(p.absences)
    return PeriodData(
        hall=hall,
        period=period,
        as_of=as_of,
        staff=tuple(staff),
        windows=windows,
        punches=punches,
        absences=absences,
        ratings=ratings,
        cases=cases,
        events=events,
    )


def event(staff_no: str, points: str, veto: bool = False, at: datetime | None = None) -> Event:
    kind = "commendation" if Decimal(points) > 0 else "spot_check"
    return Event(
        f"E-{staff_no}-{points}-{veto}",
        staff_no,
        at or datetime(2026, 10, 28, 10),
        kind,
        Decimal(points),
        veto,
    )
