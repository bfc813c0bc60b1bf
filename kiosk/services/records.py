"""What the duty officer records: corrections, absences and events, each audited.

Every function checks its input first and raises :class:`RecordError` with a message for
the officer; on an error nothing is added to the session. The caller commits.
Punches are never edited nor deleted (SPEC 3.1): a correction adds a punch with source
``correction`` or voids one with a :class:`~kiosk.models.PunchVoid`, both with a reason.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_local, to_storage
from kiosk.models import (
    ABSENCE_KINDS,
    EVENT_KINDS,
    Absence,
    Event,
    Hall,
    PublishedPeriod,
    Punch,
    PunchVoid,
    Staff,
    utcnow,
)
from kiosk.services import audit
from kiosk.services.errors import RecordError
from kiosk.services.texts import _

MAX_REASON = 500
MAX_EVENT_POINTS = 100


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise RecordError(_("必须填写原因。"))
    if len(text) > MAX_REASON:
        raise RecordError(_("原因不能超过 %(n)d 个字。", n=MAX_REASON))
    return text


def staff_by_no(session: Session, hall: Hall, staff_no: str | None) -> Staff:
    """The hall's staff member with this number, or a :class:`RecordError`."""
    code = (staff_no or "").strip()
    person = session.scalar(select(Staff).where(Staff.hall_id == hall.id, Staff.staff_no == code))
    if person is None:
        raise RecordError(_("本中心没有工号为“%(no)s”的工作人员。", no=code), "not_found")
    return person


def staff_choices(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(staff_no, "staff_no name") of the hall's staff, for select boxes."""
    return [
        (s.staff_no, f"{s.staff_no} {s.name}")
        for s in session.scalars(
            select(Staff).where(Staff.hall_id == hall.id).order_by(Staff.staff_no)
        )
    ]


def _local_naive(value: dt.datetime | None, what: str) -> dt.datetime:
    if value is None:
        raise RecordError(_("请填写%(what)s。", what=what))
    # Seconds from a browser's datetime-local are kept; microseconds never mean anything here.
    return value.replace(microsecond=0, tzinfo=None)


def punch_snapshot(punch: Punch, zone_name: str) -> dict[str, object]:
    """A punch as the audit log shows it (local time for people, UTC id for the record)."""
    return {
        "staff_no": punch.staff.staff_no,
        "punched_at_local": to_local(punch.punched_at, hall_zone(zone_name)),
        "source": punch.source,
    }


def add_correction_punch(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    local_time: dt.datetime | None,
    reason: str | None,
    user_id: int,
    now: dt.datetime | None = None,
) -> Punch:
    """Add a punch with source ``correction`` at hall-local ``local_time`` (audited)."""
    person = staff_by_no(session, hall, staff_no)
    local = _local_naive(local_time, _("打卡时间"))
    why = _reason(reason)
    zone = hall_zone(hall.timezone)
    stored = to_storage(local, zone)
    if stored > (now or utcnow()):
        raise RecordError(_("补录的打卡时间不能晚于当前时间。"))
    if session.scalar(
        select(Punch.id).where(Punch.staff_id == person.id, Punch.punched_at == stored)
    ):
        raise RecordError(_("%(no)s 在 %(at)s 已有一条打卡记录。", no=person.staff_no, at=local))
    punch = Punch(
        staff_id=person.id,
        punched_at=stored,
        source="correction",
        reason=why,
        created_by=user_id,
    )
    punch.staff = person
    session.add(punch)
    session.flush()
    audit.record(
        session,
        action="punch.add",
        object_type="punch",
        object_id=punch.id,
        user_id=user_id,
        hall_id=hall.id,
        after=punch_snapshot(punch, hall.timezone),
        reason=why,
    )
    return punch


def void_punch(
    session: Session, hall: Hall, *, punch_id: int | None, reason: str | None, user_id: int
) -> PunchVoid:
    """Void a punch of the hall with a reason; the raw punch stays (audited)."""
    why = _reason(reason)
    punch = session.get(Punch, punch_id) if punch_id is not None else None
    if punch is None or punch.staff.hall_id != hall.id:
        raise RecordError(_("找不到这条打卡记录。"), "not_found")
    if punch.void is not None:
        raise RecordError(_("这条打卡记录已作废。"))
    void = PunchVoid(punch_id=punch.id, reason=why, voided_by=user_id)
    session.add(void)
    session.flush()
    audit.record(
        session,
        action="punch.void",
        object_type="punch",
        object_id=punch.id,
        user_id=user_id,
        hall_id=hall.id,
        before={**punch_snapshot(punch, hall.timezone), "voided": False},
        after={**punch_snapshot(punch, hall.timezone), "voided": True},
        reason=why,
    )
    return void


def _absence_snapshot(absence: Absence, person: Staff, zone_name: str) -> dict[str, object]:
    zone = hall_zone(zone_name)
    return {
        "staff_no": person.staff_no,
        "kind": absence.kind,
        "start_local": to_local(absence.start, zone),
        "end_local": to_local(absence.end, zone),
        "note": absence.note,
    }


def add_absence(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    kind: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    note: str | None,
    user_id: int,
) -> Absence:
    """Register leave (请假) or an out-of-office trip (外出登记), local ``[start, end]`` (audited)."""
    person = staff_by_no(session, hall, staff_no)
    if kind not in ABSENCE_KINDS:
        raise RecordError(_("类型必须是请假或外出。"))
    first = _local_naive(start, _("开始时间"))
    last = _local_naive(end, _("结束时间"))
    if last <= first:
        raise RecordError(_("结束时间必须晚于开始时间。"))
    if last - first > dt.timedelta(days=366):
        raise RecordError(_("一次登记不能超过一年。"))
    zone = hall_zone(hall.timezone)
    stored_start, stored_end = to_storage(first, zone), to_storage(last, zone)
    existing = session.scalar(
        select(Absence).where(
            Absence.staff_id == person.id, Absence.kind == kind, Absence.start == stored_start
        )
    )
    if existing is not None and existing.withdrawn_at is not None:
        # The withdrawn row keeps its key (staff_no + kind + start, SPEC 6).
        raise RecordError(
            _(
                "%(no)s 在该开始时间有一条已撤销的同类登记，请将开始时间调整一分钟后登记。",
                no=person.staff_no,
            )
        )
    if existing is not None:
        raise RecordError(_("%(no)s 在该开始时间已有同类登记。", no=person.staff_no))
    absence = Absence(
        staff_id=person.id,
        kind=kind,
        start=stored_start,
        end=stored_end,
        note=(note or "").strip() or None,
        created_by=user_id,
    )
    session.add(absence)
    session.flush()
    audit.record(
        session,
        action=f"absence.{kind}.add",
        object_type="absence",
        object_id=absence.id,
        user_id=user_id,
        hall_id=hall.id,
        after=_absence_snapshot(absence, person, hall.timezone),
        reason=absence.note,
    )
    return absence


def withdraw_absence(
    session: Session,
    hall: Hall,
    *,
    absence_id: int | None,
    reason: str | None,
    user_id: int,
    now: dt.datetime | None = None,
) -> Absence:
    """Withdraw a registration entered by mistake (audited).

    The row is kept, marked with who, when and why; from then on it excuses nothing
    (attendance, scoring) and is left out of the export.
    """
    why = _reason(reason)
    absence = session.get(Absence, absence_id) if absence_id is not None else None
    if absence is None or absence.staff.hall_id != hall.id:
        raise RecordError(_("找不到这条登记。"), "not_found")
    if absence.withdrawn_at is not None:
        raise RecordError(_("这条登记已撤销。"))
    snapshot = _absence_snapshot(absence, absence.staff, hall.timezone)
    absence.withdrawn_at = now or utcnow()
    absence.withdrawn_by = user_id
    absence.withdraw_reason = why
    session.flush()
    audit.record(
        session,
        action=f"absence.{absence.kind}.withdraw",
        object_type="absence",
        object_id=absence.id,
        user_id=user_id,
        hall_id=hall.id,
        before={**snapshot, "withdrawn": False},
        after={**snapshot, "withdrawn": True},
        reason=why,
    )
    return absence


def _event_snapshot(event: Event, zone_name: str) -> dict[str, object]:
    return {
        "staff_no": event.staff.staff_no,
        "at_local": to_local(event.at, hall_zone(zone_name)),
        "kind": event.kind,
        "category": event.category,
        "points": event.points,
        "veto": event.veto,
        "note": event.note,
    }


def withdraw_event(
    session: Session,
    hall: Hall,
    *,
    event_id: str | None,
    reason: str | None,
    user_id: int,
    now: dt.datetime | None = None,
) -> Event:
    """Withdraw a spot check, complaint or commendation recorded by mistake (audited).

    Kept and marked like a withdrawn absence; it no longer adds or deducts points and
    its veto no longer bars anyone.
    """
    why = _reason(reason)
    code = (event_id or "").strip()
    event = (
        session.scalar(select(Event).where(Event.hall_id == hall.id, Event.event_id == code))
        if code and len(code) <= 64
        else None
    )
    if event is None:
        raise RecordError(_("找不到这条记录。"), "not_found")
    if event.withdrawn_at is not None:
        raise RecordError(_("这条记录已撤销。"))
    snapshot = _event_snapshot(event, hall.timezone)
    event.withdrawn_at = now or utcnow()
    event.withdrawn_by = user_id
    event.withdraw_reason = why
    session.flush()
    audit.record(
        session,
        action="event.withdraw",
        object_type="event",
        object_id=event.event_id,
        user_id=user_id,
        hall_id=hall.id,
        before={**snapshot, "withdrawn": False},
        after={**snapshot, "withdrawn": True},
        reason=why,
    )
    return event


def add_event(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    kind: str,
    at: dt.datetime | None,
    points: float | None,
    veto: bool,
    category: str | None,
    note: str | None,
    user_id: int,
    now: dt.datetime | None = None,
) -> Event:
    """Record a spot check, complaint or commendation with signed points and veto flag (audited).

    Commendations carry points of at least 0 and never a veto; spot checks and complaints
    carry points of at most 0: a sign typed the wrong way round would turn a deduction
    into a bonus.
    """
    person = staff_by_no(session, hall, staff_no)
    if kind not in EVENT_KINDS:
        raise RecordError(_("类型必须是巡查抽查、投诉或表扬。"))
    local = _local_naive(at, _("发生时间"))
    if to_storage(local, hall_zone(hall.timezone)) > (now or utcnow()) + dt.timedelta(minutes=5):
        raise RecordError(_("发生时间不能晚于当前时间。"))
    if points is None or not math.isfinite(points):
        raise RecordError(_("请填写分值（可为负数）。"))
    if abs(points) > MAX_EVENT_POINTS:
        raise RecordError(_("分值的绝对值不能超过 %(n)d。", n=MAX_EVENT_POINTS))
    if kind == "commendation":
        if points < 0:
            raise RecordError(_("表扬的分值不能为负数。"))
        if veto:
            raise RecordError(_("表扬不能一票否决。"))
    elif points > 0:
        raise RecordError(_("巡查抽查和投诉的分值不能为正数（扣分请填负数，如 -2）。"))
    event = Event(
        hall_id=hall.id,
        event_id=f"W{utcnow():%Y%m%d%H%M%S}{secrets.token_hex(2).upper()}",
        staff_id=person.id,
        at=to_storage(local, hall_zone(hall.timezone)),
        kind=kind,
        category=(category or "").strip() or None,
        points=float(points),
        veto=bool(veto),
        note=(note or "").strip() or None,
        created_by=user_id,
    )
    session.add(event)
    session.flush()
    audit.record(
        session,
        action=f"event.{kind}.add",
        object_type="event",
        object_id=event.event_id,
        user_id=user_id,
        hall_id=hall.id,
        after={
            "staff_no": person.staff_no,
            "at_local": local,
            "kind": kind,
            "category": event.category,
            "points": event.points,
            "veto": event.veto,
            "note": event.note,
        },
        reason=event.note,
    )
    return event


@dataclass(frozen=True, slots=True)
class PunchLine:
    """A raw punch of one day as the corrections page lists it (voided ones too)."""

    id: int
    local_time: dt.datetime
    source: str
    reason: str | None
    voided: bool
    void_reason: str | None


def punches_on(session: Session, hall: Hall, person: Staff, day: dt.date) -> list[PunchLine]:
    """Every raw punch of ``person`` on the local ``day``, in time order."""
    zone = hall_zone(hall.timezone)
    start, stop = local_day_bounds(day, day, zone)
    lines = []
    for punch in session.scalars(
        select(Punch)
        .where(Punch.staff_id == person.id, Punch.punched_at >= start, Punch.punched_at < stop)
        .order_by(Punch.punched_at)
    ):
        void = punch.void
        lines.append(
            PunchLine(
                punch.id,
                to_local(punch.punched_at, zone),
                punch.source,
                punch.reason,
                void is not None,
                void.reason if void else None,
            )
        )
    return lines


def period_code(day: dt.date) -> str:
    """The bimonthly period ``YYYY-Bn`` holding ``day``."""
    return f"{day.year:04d}-B{(day.month + 1) // 2}"


def published_period_of(session: Session, hall: Hall, day: dt.date) -> str | None:
    """The period code when the period holding ``day`` is already published, else None."""
    code = period_code(day)
    found = session.scalar(
        select(PublishedPeriod.id).where(
            PublishedPeriod.hall_id == hall.id, PublishedPeriod.period == code
        )
    )
    return code if found else None


def recent_absences(session: Session, hall: Hall, limit: int = 50) -> list[tuple[Absence, Staff]]:
    """The latest registrations of the hall, newest first."""
    return list(
        session.execute(
            select(Absence, Staff)
            .join(Staff, Staff.id == Absence.staff_id)
            .where(Staff.hall_id == hall.id)
            .order_by(Absence.start.desc())
            .limit(limit)
        ).tuples()
    )


def recent_events(session: Session, hall: Hall, limit: int = 50) -> list[tuple[Event, Staff]]:
    """The latest events of the hall, newest first."""
    return list(
        session.execute(
            select(Event, Staff)
            .join(Staff, Staff.id == Event.staff_id)
            .where(Event.hall_id == hall.id)
            .order_by(Event.at.desc())
            .limit(limit)
        ).tuples()
    )
