"""Attendance over a range of local dates, from the database, through the rules' day logic.

:func:`attendance_records` builds the derived day record (SPEC 3) of every rostered staff
member for each hall workday in a range: punches that are not voided, debounced, slotted
and excused exactly as the scorer does. :func:`weekly_report` sums them per person and per
unit for the weekly meeting (每周例会通报).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import Absence, Assignment, Hall, Punch, PunchVoid, Staff, Unit, Window, utcnow
from kiosk.rules.attendance import (
    DayRecord,
    Excuse,
    SlotResult,
    SlotStatus,
    day_closes,
    day_plan,
    debounce,
    evaluate_day,
)
from kiosk.rules.calendar import (
    schedule_for,
    uncovered_years,
    workdays,
)
from kiosk.rules.seating import holding_on
from kiosk.rules.settings import HallSettings
from kiosk.rules.settings import hall_settings as read_hall_settings


def hall_settings(hall: Hall) -> HallSettings:
    """Calendar, grace, debounce and the other settings of ``hall`` (SPEC 2)."""
    return read_hall_settings(hall.settings)


def calendar_warnings(first: dt.date, last: dt.date) -> list[str]:
    """The SPEC 2 warning for years the holiday calendar does not cover."""
    return [
        f"{year} 年的法定节假日不在日历包中，按周一至周五计算工作日；如有出入请在中心配置中用"
        f" extra_workdays / closed_days 更正"
        for year in uncovered_years(first, last)
    ]


@dataclass(frozen=True, slots=True)
class StaffDay:
    """One roster workday of one staff member: where they were assigned, and the record."""

    staff_id: int
    staff_no: str
    name: str
    window_code: str
    window_name: str
    unit_id: int
    record: DayRecord


@dataclass(slots=True)
class AttendanceRange:
    """Every rostered staff member's day records for a range of local dates."""

    hall: Hall
    first: dt.date
    last: dt.date
    days: tuple[dt.date, ...]
    records: list[StaffDay] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    as_of_local: dt.datetime | None = None
    """The instant the records are judged at (hall-local); later-closing days are open."""
    open_days: tuple[dt.date, ...] = ()
    """Workdays of the range not closed at ``as_of_local`` (SPEC 5.1): 待打卡, no defect."""


def attendance_records(
    session: Session,
    hall: Hall,
    first: dt.date,
    last: dt.date,
    *,
    unit_id: int | None = None,
    staff_id: int | None = None,
    until: dt.datetime | None = None,
    as_of: dt.datetime | None = None,
) -> AttendanceRange:
    """Day records of the hall's rostered staff for the workdays ``first``..``last``.

    ``unit_id`` keeps only days on which the person sat at a window of that unit (a unit
    viewer's view); ``staff_id`` keeps one person; ``until`` (naive UTC) leaves out punches
    after that instant, so a board "as of" a moment shows what was known then.

    ``as_of`` (naive UTC, default now) decides which days have closed (SPEC 5.1): a day
    still in progress or in the future comes back open, every slot ``pending``, with no
    defect, so no screen calls the future an absence.
    """
    settings = hall_settings(hall)
    zone = hall_zone(hall.timezone)
    days = workdays(first, last, settings.calendar)
    as_of_local = to_local(as_of or utcnow(), zone)
    result = AttendanceRange(
        hall, first, last, days, warnings=calendar_warnings(first, last), as_of_local=as_of_local
    )
    if not days:
        return result

    query = (
        select(Staff)
        .where(Staff.hall_id == hall.id)
        .options(selectinload(Staff.assignments).selectinload(Assignment.window))
        .order_by(Staff.staff_no)
    )
    if staff_id is not None:
        query = query.where(Staff.id == staff_id)
    people = session.scalars(query).all()
    if not people:
        return result
    ids = [p.id for p in people]

    # Slot ranges reach at most a few hours around the working day: a day on each side
    # of the range covers every schedule a hall can set.
    start, stop = local_day_bounds(first - dt.timedelta(days=1), last + dt.timedelta(days=1), zone)
    punch_stop = stop if until is None else min(stop, until + dt.timedelta(microseconds=1))
    punches: dict[int, list[dt.datetime]] = defaultdict(list)
    rows = session.execute(
        select(Punch.staff_id, Punch.punched_at)
        .outerjoin(PunchVoid, PunchVoid.punch_id == Punch.id)
        .where(
            Punch.staff_id.in_(ids),
            Punch.punched_at >= start,
            Punch.punched_at < punch_stop,
            PunchVoid.id.is_(None),
        )
        .order_by(Punch.staff_id, Punch.punched_at)
    )
    for person_id, at in rows:
        punches[person_id].append(to_local(at, zone))
    excuses: dict[int, list[Excuse]] = defaultdict(list)
    for absence in session.scalars(
        select(Absence).where(
            Absence.staff_id.in_(ids),
            Absence.start < stop,
            Absence.end >= start,
            Absence.withdrawn_at.is_(None),
        )
    ):
        excuses[absence.staff_id].append(
            Excuse(absence.kind, to_local(absence.start, zone), to_local(absence.end, zone))
        )

    plans = {}
    for day in days:
        schedule = schedule_for(day, settings.calendar.schedules)
        plans[day] = day_plan(day, schedule) if schedule is not None else None
    result.open_days = tuple(d for d in days if as_of_local < day_closes(d, plans[d]))

    for person in people:
        kept, duplicates = debounce(punches.get(person.id, []), settings.debounce_seconds)
        for day in days:
            assignment = holding_on(person.assignments, day)
            if assignment is None:
                continue
            window = assignment.window
            if unit_id is not None and window.unit_id != unit_id:
                continue
            record = evaluate_day(
                plans[day],
                day,
                kept,
                excuses.get(person.id, []),
                settings.grace_minutes,
                duplicates,
                as_of_local,
            )
            result.records.append(
                StaffDay(
                    person.id,
                    person.staff_no,
                    person.name,
                    window.code,
                    window.name,
                    window.unit_id,
                    record,
                )
            )
    return result


# --------------------------------------------------------------------------- weekly report


@dataclass(slots=True)
class AttendanceTotals:
    """Sums of day records: workdays, on-duty days and each kind of defect."""

    workdays: int = 0
    on_duty_days: int = 0
    late: int = 0
    early: int = 0
    missing: int = 0
    absent_half_days: int = 0
    late_minutes: float = 0.0
    early_minutes: float = 0.0

    def add(self, record: DayRecord) -> None:
        """Count one roster workday; a day not closed yet counts for nothing (SPEC 5.1)."""
        if not record.closed:
            return
        self.workdays += 1
        self.on_duty_days += record.on_duty
        self.late += record.late
        self.early += record.early
        self.missing += record.missing
        self.absent_half_days += record.absent_half_days
        for slot in record.defects():
            if slot.status == "late":
                self.late_minutes += slot.minutes
            else:
                self.early_minutes += slot.minutes

    @property
    def defects(self) -> int:
        """Late, early, missing and absent half-days together."""
        return self.late + self.early + self.missing + self.absent_half_days


def day_defects(record: DayRecord) -> list[SlotResult]:
    """The late, early and missing slots of a day, leaving out sessions that are absent
    half-days (their two missing slots are the absence, not two missing punches)."""
    found = []
    for session in (record.slots[:2], record.slots[2:]):
        statuses = [s.status for s in session]
        if statuses == [SlotStatus.MISSING, SlotStatus.MISSING]:
            continue
        found += [
            s
            for s in session
            if s.status in (SlotStatus.LATE, SlotStatus.EARLY, SlotStatus.MISSING)
        ]
    return found


@dataclass(slots=True)
class PersonWeek:
    """One person's line of the weekly report, with the days that had a defect."""

    staff_no: str
    name: str
    window_code: str
    unit_id: int
    totals: AttendanceTotals = field(default_factory=AttendanceTotals)
    defect_days: list[DayRecord] = field(default_factory=list)


@dataclass(slots=True)
class UnitWeek:
    """A unit's lines and totals in the weekly report."""

    unit_id: int
    code: str
    name: str
    people: list[PersonWeek] = field(default_factory=list)
    totals: AttendanceTotals = field(default_factory=AttendanceTotals)


@dataclass(slots=True)
class WeeklyReport:
    """The weekly attendance notice: per unit, per person, for one ISO week."""

    hall: Hall
    monday: dt.date
    sunday: dt.date
    workdays: tuple[dt.date, ...]
    units: list[UnitWeek]
    totals: AttendanceTotals
    warnings: list[str]
    as_of_local: dt.datetime | None = None
    open_days: tuple[dt.date, ...] = ()
    """Workdays of the week still in progress or to come: shown as 待打卡, never counted."""


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the ISO week holding ``day``."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def parse_week(text: str | None, today: dt.date) -> dt.date:
    """The Monday of ``YYYY-Www`` (HTML week input) or of a date; the current week if empty.

    Raises ``ValueError`` with a readable message for anything else.
    """
    if not text:
        return week_of(today)[0]
    text = text.strip()
    try:
        if "W" in text:
            year, week = text.split("-W")
            return dt.date.fromisocalendar(int(year), int(week), 1)
        return week_of(dt.date.fromisoformat(text))[0]
    except ValueError:
        raise ValueError(
            f"“{text}”不是有效的周（格式 2026-W45）或日期（格式 2026-11-02）"
        ) from None


def weekly_report(
    session: Session,
    hall: Hall,
    monday: dt.date,
    *,
    unit_id: int | None = None,
    as_of: dt.datetime | None = None,
) -> WeeklyReport:
    """Late, early, missing and absent per person and per unit for the week of ``monday``,
    over the workdays closed at ``as_of`` (naive UTC, default now)."""
    sunday = monday + dt.timedelta(days=6)
    data = attendance_records(session, hall, monday, sunday, unit_id=unit_id, as_of=as_of)
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    by_unit: dict[int, UnitWeek] = {}
    people: dict[tuple[int, str], PersonWeek] = {}
    totals = AttendanceTotals()
    for item in data.records:
        unit = units[item.unit_id]
        unit_week = by_unit.setdefault(unit.id, UnitWeek(unit.id, unit.code, unit.name))
        person = people.get((unit.id, item.staff_no))
        if person is None:
            person = PersonWeek(item.staff_no, item.name, item.window_code, unit.id)
            people[(unit.id, item.staff_no)] = person
            unit_week.people.append(person)
        person.totals.add(item.record)
        unit_week.totals.add(item.record)
        totals.add(item.record)
        if item.record.closed and not item.record.clean:
            person.defect_days.append(item.record)
    ordered = sorted(by_unit.values(), key=lambda u: u.code)
    for unit_week in ordered:
        unit_week.people.sort(key=lambda p: (-p.totals.defects, p.staff_no))
    return WeeklyReport(
        hall,
        monday,
        sunday,
        data.days,
        ordered,
        totals,
        data.warnings,
        data.as_of_local,
        data.open_days,
    )


def window_choices(session: Session, hall: Hall) -> list[Window]:
    """The hall's windows in code order (for forms and filters)."""
    return list(
        session.scalars(select(Window).where(Window.hall_id == hall.id).order_by(Window.code))
    )
