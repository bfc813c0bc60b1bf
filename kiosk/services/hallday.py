"""Today's hall for the duty officer: punches per slot, who is missing, who is away,
open bad-review work orders (from :mod:`kiosk.services.workorders`), readers and
terminals, and who is on duty.

All figures come from the rules' day classification (:mod:`kiosk.rules.attendance`) via
:func:`kiosk.services.reports.attendance_records`. Until the day closes (SPEC 5.1: the end
of its PM_OUT range) nothing on it is a defect: a slot with a punch is *punched*, one whose
range is over without a punch is *unpunched* (未打卡, still correctable), one whose range has
not ended is *pending* (待打卡). After the close the rules' statuses show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import (
    Absence,
    Device,
    DutyAssignment,
    Hall,
    Punch,
    Staff,
    Terminal,
    User,
    Window,
    utcnow,
)
from kiosk.rules.attendance import DayRecord, Slot, SlotResult, SlotStatus, day_plan
from kiosk.rules.calendar import schedule_for
from kiosk.services.reports import attendance_records, hall_settings
from kiosk.services.workorders import WorkOrder, list_work_orders

SLOTS: tuple[Slot, ...] = (Slot.AM_IN, Slot.AM_OUT, Slot.PM_IN, Slot.PM_OUT)
PENDING = "pending"
PUNCHED = "punched"
UNPUNCHED = "unpunched"
# A reader that has not reported for this long is shown as silent, whatever its state says.
DEVICE_SILENT_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SlotCell:
    """One slot of one person today: the punch shown and its status (or ``pending``)."""

    slot: Slot
    punch: dt.datetime | None
    status: str
    minutes: float
    excused_by: str | None


@dataclass(frozen=True, slots=True)
class PersonToday:
    """One rostered staff member's day so far."""

    staff_no: str
    name: str
    window_code: str
    cells: tuple[SlotCell, ...]
    away: str | None
    """``leave`` or ``out`` when an absence covers the current moment."""

    @property
    def absent_half_days(self) -> int:
        """Sessions (AM, PM) whose two slots are both missing: absent half-days (旷工)."""
        cells = self.cells
        return sum(
            1
            for session in (cells[:2], cells[2:])
            if len(session) == 2 and all(c.status == SlotStatus.MISSING for c in session)
        )

    @property
    def missing_slots(self) -> tuple[SlotCell, ...]:
        """Slots whose range is over without a punch and without an excuse (missing once
        the day has closed, unpunched while it runs)."""
        return tuple(c for c in self.cells if c.status in (SlotStatus.MISSING, UNPUNCHED))


@dataclass(frozen=True, slots=True)
class AwayEntry:
    """A leave or out-of-office registration that touches today."""

    absence_id: int
    staff_no: str
    name: str
    kind: str
    start: dt.datetime
    end: dt.datetime
    note: str | None
    current: bool


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A fingerprint reader as the listener last reported it."""

    name: str
    state: str
    last_seen: dt.datetime | None
    last_error: str | None
    unrecognised: int
    punches_today: int
    silent: bool


@dataclass(frozen=True, slots=True)
class TerminalRow:
    """A counter terminal: its window, whether its key is active, and when it was last used."""

    name: str
    window_code: str
    active: bool
    last_seen: dt.datetime | None


@dataclass(slots=True)
class HallToday:
    """Everything on the duty officer's page for one hall-local day."""

    hall: Hall
    day: dt.date
    now_local: dt.datetime
    workday: bool
    schedule: str | None
    duty_officer: str | None
    people: list[PersonToday] = field(default_factory=list)
    away: list[AwayEntry] = field(default_factory=list)
    work_orders: list[WorkOrder] = field(default_factory=list)
    devices: list[DeviceRow] = field(default_factory=list)
    terminals: list[TerminalRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    closed: bool = False
    """Whether the day has closed (SPEC 5.1); before that nothing on it is a defect."""

    @property
    def missing(self) -> list[PersonToday]:
        """People with at least one missing slot so far."""
        return [p for p in self.people if p.missing_slots]

    def punched(self, slot: Slot) -> int:
        """How many people have a punch in ``slot`` so far."""
        return sum(1 for p in self.people for c in p.cells if c.slot == slot and c.punch)


def _cell(result: SlotResult, closes: dt.datetime, now_local: dt.datetime) -> SlotCell:
    status = str(result.status)
    if result.status == SlotStatus.PENDING:
        if result.punch is not None:
            status = PUNCHED
        elif now_local >= closes:
            status = UNPUNCHED
    return SlotCell(result.slot, result.punch, status, result.minutes, result.excused_by)


def duty_officer_on(session: Session, hall: Hall, day: dt.date) -> User | None:
    """The officer on the duty roster (带班表) for ``day``, if any."""
    return session.scalar(
        select(User)
        .join(DutyAssignment, DutyAssignment.user_id == User.id)
        .where(DutyAssignment.hall_id == hall.id, DutyAssignment.day == day)
    )


def device_rows(session: Session, hall: Hall, now: dt.datetime) -> list[DeviceRow]:
    """The hall's readers with today's punch count; silent when not seen for a while."""
    zone = hall_zone(hall.timezone)
    today = to_local(now, zone).date()
    start, stop = local_day_bounds(today, today, zone)
    counts: dict[int | None, int] = dict(
        session.execute(
            select(Punch.device_id, func.count(Punch.id))
            .where(Punch.device_id.is_not(None), Punch.punched_at >= start, Punch.punched_at < stop)
            .group_by(Punch.device_id)
        )
        .tuples()
        .all()
    )
    rows = []
    for device in session.scalars(
        select(Device)
        .where(Device.hall_id == hall.id, Device.retired_at.is_(None))
        .order_by(Device.name)
    ):
        silent = device.last_seen is None or now - device.last_seen > DEVICE_SILENT_AFTER
        rows.append(
            DeviceRow(
                device.name,
                device.state,
                to_local(device.last_seen, zone) if device.last_seen else None,
                device.last_error,
                device.unrecognised_count,
                counts.get(device.id, 0),
                silent,
            )
        )
    return rows


def terminal_rows(session: Session, hall: Hall) -> list[TerminalRow]:
    """The hall's counter terminals."""
    zone = hall_zone(hall.timezone)
    return [
        TerminalRow(
            terminal.name,
            code,
            terminal.active,
            to_local(terminal.last_seen, zone) if terminal.last_seen else None,
        )
        for terminal, code in session.execute(
            select(Terminal, Window.code)
            .join(Window, Window.id == Terminal.window_id)
            .where(Terminal.hall_id == hall.id)
            .order_by(Terminal.name)
        )
    ]


def hall_today(session: Session, hall: Hall, now: dt.datetime | None = None) -> HallToday:
    """The duty officer's view of ``hall`` at ``now`` (naive UTC; default the current time)."""
    now = now or utcnow()
    zone = hall_zone(hall.timezone)
    now_local = to_local(now, zone)
    today = now_local.date()
    settings = hall_settings(hall)
    schedule = schedule_for(today, settings.calendar.schedules)
    data = attendance_records(session, hall, today, today, until=now, as_of=now)
    officer = duty_officer_on(session, hall, today)
    board = HallToday(
        hall=hall,
        day=today,
        now_local=now_local,
        workday=bool(data.days),
        schedule=schedule.name if schedule else None,
        duty_officer=(officer.display_name or officer.username) if officer else None,
        warnings=list(data.warnings),
        closed=bool(data.days) and not data.open_days,
    )
    closes: dict[Slot, dt.datetime] = {}
    if data.days and schedule is not None:
        plan = day_plan(today, schedule)
        closes = {
            Slot.AM_IN: plan.am_mid,
            Slot.AM_OUT: plan.noon_mid,
            Slot.PM_IN: plan.pm_mid,
            Slot.PM_OUT: plan.closes,
        }
    start, stop = local_day_bounds(today, today, zone)
    away_now: dict[int, str] = {}
    for absence, person in session.execute(
        select(Absence, Staff)
        .join(Staff, Staff.id == Absence.staff_id)
        .where(
            Staff.hall_id == hall.id,
            Absence.start < stop,
            Absence.end >= start,
            Absence.withdrawn_at.is_(None),
        )
        .order_by(Absence.start)
    ):
        current = absence.start <= now <= absence.end
        if current:
            away_now[person.id] = absence.kind
        board.away.append(
            AwayEntry(
                absence.id,
                person.staff_no,
                person.name,
                absence.kind,
                to_local(absence.start, zone),
                to_local(absence.end, zone),
                absence.note,
                current,
            )
        )
    for item in data.records:
        record: DayRecord = item.record
        cells = (
            tuple(_cell(r, closes[r.slot], now_local) for r in record.slots) if record.slots else ()
        )
        board.people.append(
            PersonToday(
                item.staff_no, item.name, item.window_code, cells, away_now.get(item.staff_id)
            )
        )
    board.work_orders = list_work_orders(session, hall, now, status="open")
    board.devices = device_rows(session, hall, now)
    board.terminals = terminal_rows(session, hall)
    return board
