"""The four-slot attendance day (SPEC 3.2–3.4).

Everything here works in naive hall-local datetimes; callers convert stored instants
first. A :class:`DayPlan` holds one workday's reference times and slot ranges; it is
computed once per day and shared by every staff member of the hall.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from kiosk.rules.calendar import HallCalendar, Schedule, is_workday, schedule_for

__all__ = [
    "EARLIEST_BEFORE_A0",
    "LATEST_AFTER_P1",
    "DayPlan",
    "DayRecord",
    "Excuse",
    "MonthLine",
    "PunchClassification",
    "Slot",
    "SlotResult",
    "SlotStatus",
    "attendance_day",
    "classify_hall_punch",
    "classify_punch",
    "day_closes",
    "day_plan",
    "debounce",
    "evaluate_day",
    "month_line",
]

EARLIEST_BEFORE_A0 = timedelta(minutes=120)
"""AM_IN accepts punches from A0 − 120 min (inclusive)."""
LATEST_AFTER_P1 = timedelta(minutes=240)
"""PM_OUT accepts punches up to P1 + 240 min (exclusive)."""


class Slot(StrEnum):
    """The four punches of a day."""

    AM_IN = "AM_IN"
    AM_OUT = "AM_OUT"
    PM_IN = "PM_IN"
    PM_OUT = "PM_OUT"

    @property
    def label(self) -> str:
        """The slot's name on screens and notices."""
        return _SLOT_LABELS[self]


_SLOT_LABELS = {
    Slot.AM_IN: "上午上班",
    Slot.AM_OUT: "上午下班",
    Slot.PM_IN: "下午上班",
    Slot.PM_OUT: "下午下班",
}


class SlotStatus(StrEnum):
    """How a slot of a day came out."""

    ON_TIME = "on_time"
    LATE = "late"
    EARLY = "early"
    MISSING = "missing"
    EXCUSED = "excused"
    PENDING = "pending"
    """The day has not closed yet (SPEC 5.1): no defect can be told yet, punch or not."""


class Excuse(NamedTuple):
    """Approved leave (``leave``) or an out-of-office registration (``out``), ``[start, end]`` local."""

    kind: str
    start: datetime
    end: datetime


class SlotResult(NamedTuple):
    """One slot of one day: the punch it took (if any), its status and defect minutes.

    ``minutes`` is the distance from the reference time (A0/A1/P0/P1) for a late or early
    slot, fractional, and 0 otherwise. ``excused_by`` is the excuse's kind when excused.
    """

    slot: Slot
    reference: datetime
    punch: datetime | None
    status: SlotStatus
    minutes: float
    excused_by: str | None


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One workday's reference times and slot boundaries under a schedule."""

    day: date
    schedule: str
    a0: datetime
    a1: datetime
    p0: datetime
    p1: datetime
    opens: datetime
    """A0 − 120 min: AM_IN's first accepted instant (inclusive)."""
    am_mid: datetime
    noon_mid: datetime
    pm_mid: datetime
    closes: datetime
    """P1 + 240 min: PM_OUT's end (exclusive)."""

    def slot_of(self, at: datetime) -> Slot | None:
        """The slot whose acceptance range holds ``at``; ``None`` outside every range."""
        if at < self.opens or at >= self.closes:
            return None
        if at < self.am_mid:
            return Slot.AM_IN
        if at < self.noon_mid:
            return Slot.AM_OUT
        if at < self.pm_mid:
            return Slot.PM_IN
        return Slot.PM_OUT


def day_plan(day: date, schedule: Schedule) -> DayPlan:
    """Reference times and slot ranges of ``day`` under ``schedule``."""
    a0 = datetime.combine(day, schedule.am[0])
    a1 = datetime.combine(day, schedule.am[1])
    p0 = datetime.combine(day, schedule.pm[0])
    p1 = datetime.combine(day, schedule.pm[1])
    return DayPlan(
        day=day,
        schedule=schedule.name,
        a0=a0,
        a1=a1,
        p0=p0,
        p1=p1,
        opens=a0 - EARLIEST_BEFORE_A0,
        am_mid=a0 + (a1 - a0) / 2,
        noon_mid=a1 + (p0 - a1) / 2,
        pm_mid=p0 + (p1 - p0) / 2,
        closes=p1 + LATEST_AFTER_P1,
    )


@dataclass(frozen=True, slots=True)
class DayRecord:
    """The derived attendance of one staff member on one roster workday.

    ``slots`` is empty for a day that no schedule covers. ``punches`` are the kept punches
    inside the day's ranges and ``duplicates`` the ones dropped by debounce there.
    """

    day: date
    schedule: str | None
    slots: tuple[SlotResult, ...]
    punches: tuple[datetime, ...]
    duplicates: tuple[datetime, ...]
    late: int
    early: int
    missing: int
    absent_half_days: int
    on_duty: bool
    out_registered: bool
    """Whether an out-of-office registration made the day on duty."""
    closed: bool = True
    """False for a day still in progress at ``as_of`` (SPEC 5.1): it counts for nothing yet."""

    @property
    def clean(self) -> bool:
        """No defect of any kind, and on duty."""
        return self.on_duty and not (
            self.late or self.early or self.missing or self.absent_half_days
        )

    def defects(self) -> tuple[SlotResult, ...]:
        """The late and early slots of the day."""
        return tuple(s for s in self.slots if s.status in (SlotStatus.LATE, SlotStatus.EARLY))


def day_closes(day: date, plan: DayPlan | None) -> datetime:
    """The instant ``day`` closes (SPEC 5.1): the end of its PM_OUT range, P1 + 240 min,
    or 24:00 for a day that no schedule covers. Closed means ``as_of >= day_closes``."""
    if plan is None:
        return datetime.combine(day + timedelta(days=1), datetime.min.time())
    return plan.closes


def debounce(
    punches: Iterable[datetime], debounce_seconds: float
) -> tuple[list[datetime], list[datetime]]:
    """Split sorted punches into (kept, duplicates).

    A punch at most ``debounce_seconds`` after the last *kept* punch is a duplicate, so a
    burst of presses ten seconds apart keeps only its first one.
    """
    window = timedelta(seconds=debounce_seconds)
    kept: list[datetime] = []
    duplicates: list[datetime] = []
    last: datetime | None = None
    for at in punches:
        if last is not None and at - last <= window:
            duplicates.append(at)
        else:
            kept.append(at)
            last = at
    return kept, duplicates


def _excuse_for(reference: datetime, excuses: Sequence[Excuse]) -> str | None:
    for excuse in excuses:
        if excuse.start <= reference <= excuse.end:
            return excuse.kind
    return None


def _slot(
    slot: Slot,
    reference: datetime,
    punch: datetime | None,
    excuses: Sequence[Excuse],
    grace: timedelta,
    arriving: bool,
) -> SlotResult:
    excused_by = _excuse_for(reference, excuses) if excuses else None
    if excused_by is not None:
        return SlotResult(slot, reference, punch, SlotStatus.EXCUSED, 0.0, excused_by)
    if punch is None:
        return SlotResult(slot, reference, None, SlotStatus.MISSING, 0.0, None)
    if arriving:
        if punch > reference + grace:
            minutes = (punch - reference).total_seconds() / 60
            return SlotResult(slot, reference, punch, SlotStatus.LATE, minutes, None)
    elif punch < reference - grace:
        minutes = (reference - punch).total_seconds() / 60
        return SlotResult(slot, reference, punch, SlotStatus.EARLY, minutes, None)
    return SlotResult(slot, reference, punch, SlotStatus.ON_TIME, 0.0, None)


def evaluate_day(
    plan: DayPlan | None,
    day: date,
    kept: Sequence[datetime],
    excuses: Sequence[Excuse],
    grace_minutes: float,
    duplicates: Sequence[datetime] = (),
    as_of: datetime | None = None,
) -> DayRecord:
    """Derive one roster workday from already debounced punches.

    ``kept`` (and ``duplicates``) must be sorted and may span more than the day (the
    person's whole period): only the part inside the day's ranges is looked at, found by
    bisection. ``excuses``
    are the person's leave and out registrations (any that do not touch the day are
    harmless). ``plan`` is ``None`` for a day no schedule covers: no slots, no defects.

    ``as_of`` (naive local; None = the day is over) before :func:`day_closes` gives a
    day in progress (SPEC 5.1): ``closed`` False, not on duty, no defect, and every slot
    that is not excused is ``pending`` (still carrying the punch it has taken so far).
    """
    is_open = as_of is not None and as_of < day_closes(day, plan)
    if plan is None:
        return DayRecord(day, None, (), (), (), 0, 0, 0, 0, False, False, not is_open)
    i_open = bisect_left(kept, plan.opens)
    i_am = bisect_left(kept, plan.am_mid, i_open)
    i_noon = bisect_left(kept, plan.noon_mid, i_am)
    i_pm = bisect_left(kept, plan.pm_mid, i_noon)
    i_close = bisect_left(kept, plan.closes, i_pm)
    grace = timedelta(minutes=grace_minutes)
    day_excuses = (
        [e for e in excuses if e.start <= plan.closes and e.end >= plan.opens] if excuses else []
    )
    slots: tuple[SlotResult, ...] = (
        _slot(
            Slot.AM_IN, plan.a0, kept[i_open] if i_open < i_am else None, day_excuses, grace, True
        ),
        _slot(
            Slot.AM_OUT,
            plan.a1,
            kept[i_noon - 1] if i_am < i_noon else None,
            day_excuses,
            grace,
            False,
        ),
        _slot(
            Slot.PM_IN, plan.p0, kept[i_noon] if i_noon < i_pm else None, day_excuses, grace, True
        ),
        _slot(
            Slot.PM_OUT,
            plan.p1,
            kept[i_close - 1] if i_pm < i_close else None,
            day_excuses,
            grace,
            False,
        ),
    )
    if is_open:
        # Nothing is told before the day closes: a correction or a late leave may still come.
        slots = tuple(
            r
            if r.status is SlotStatus.EXCUSED
            else r._replace(status=SlotStatus.PENDING, minutes=0.0)
            for r in slots
        )
    late = early = missing = absent = 0
    for session in (slots[:2], slots[2:]):
        # Both slots missing and neither excused is an absent half-day, not two missing punches.
        if session[0].status is SlotStatus.MISSING and session[1].status is SlotStatus.MISSING:
            absent += 1
            continue
        for result in session:
            status = result.status
            if status is SlotStatus.MISSING:
                missing += 1
            elif status is SlotStatus.LATE:
                late += 1
            elif status is SlotStatus.EARLY:
                early += 1
    out_registered = bool(day_excuses) and any(
        e.kind == "out"
        and ((e.start <= plan.a1 and e.end >= plan.a0) or (e.start <= plan.p1 and e.end >= plan.p0))
        for e in day_excuses
    )
    in_day = tuple(kept[i_open:i_close])
    # Duplicates are sorted too: bisect rather than scan the whole period's list every day.
    day_duplicates = (
        tuple(
            duplicates[bisect_left(duplicates, plan.opens) : bisect_left(duplicates, plan.closes)]
        )
        if duplicates
        else ()
    )
    return DayRecord(
        day=day,
        schedule=plan.schedule,
        slots=slots,
        punches=in_day,
        duplicates=day_duplicates,
        late=late,
        early=early,
        missing=missing,
        absent_half_days=absent,
        on_duty=not is_open and (bool(in_day) or out_registered),
        out_registered=out_registered,
        closed=not is_open,
    )


def attendance_day(
    day: date,
    schedule: Schedule | None,
    punches: Iterable[datetime],
    excuses: Sequence[Excuse] = (),
    grace_minutes: float = 5,
    debounce_seconds: float = 60,
    as_of: datetime | None = None,
) -> DayRecord:
    """Derive one roster workday from raw punches (sorted here, then debounced).

    Convenience for screens that show a single day; the scorer calls :func:`evaluate_day`
    with the whole period's debounced punches instead.
    """
    kept, duplicates = debounce(sorted(punches), debounce_seconds)
    plan = day_plan(day, schedule) if schedule is not None else None
    return evaluate_day(plan, day, kept, excuses, grace_minutes, duplicates, as_of)


class PunchClassification(NamedTuple):
    """How one live punch reads on the clock-in screen.

    ``slot`` is ``None`` when the punch is outside every slot's range (or no schedule
    covers the day); ``status`` is then ``None`` too. For AM_OUT/PM_OUT an early reading
    is provisional: the slot takes the latest punch, so a later punch can replace it.
    """

    slot: Slot | None
    status: SlotStatus | None
    minutes: float
    reference: datetime | None


def classify_punch(
    schedule: Schedule | None, grace_minutes: float, local_dt: datetime
) -> PunchClassification:
    """Classify a single punch at naive local ``local_dt`` for the clock-in screen.

    The caller decides whether the day is a workday and picks the schedule with
    :func:`kiosk.rules.calendar.schedule_for`; excuses are not considered here.
    """
    if schedule is None:
        return PunchClassification(None, None, 0.0, None)
    plan = day_plan(local_dt.date(), schedule)
    slot = plan.slot_of(local_dt)
    if slot is None:
        return PunchClassification(None, None, 0.0, None)
    reference = {Slot.AM_IN: plan.a0, Slot.AM_OUT: plan.a1, Slot.PM_IN: plan.p0}.get(slot, plan.p1)
    arriving = slot in (Slot.AM_IN, Slot.PM_IN)
    result = _slot(slot, reference, local_dt, (), timedelta(minutes=grace_minutes), arriving)
    return PunchClassification(slot, result.status, result.minutes, reference)


def classify_hall_punch(
    calendar: HallCalendar, grace_minutes: float, local_dt: datetime
) -> PunchClassification:
    """:func:`classify_punch` for a hall: no slot on a day that is not a hall workday.

    Picks the day's schedule itself; what the clock-in screen calls for a live punch.
    """
    day = local_dt.date()
    if not is_workday(day, calendar):
        return PunchClassification(None, None, 0.0, None)
    return classify_punch(schedule_for(day, calendar.schedules), grace_minutes, local_dt)


@dataclass(frozen=True, slots=True)
class MonthLine:
    """One person's line of the monthly attendance sheet (考勤月报).

    Counts over the person's roster workdays of the month that have closed: ``late``,
    ``early`` and ``missing`` are slots (a session with both slots missing is one absent
    half-day, not two missing punches); ``absent_half_days``, ``leave_half_days`` and
    ``out_half_days`` are sessions (AM, PM), a session being on leave (or out) when one of
    its slots is excused by it. ``open_days`` are roster workdays not closed yet: counted
    for nothing else.
    """

    workdays: int = 0
    on_duty_days: int = 0
    late: int = 0
    early: int = 0
    missing: int = 0
    absent_half_days: int = 0
    leave_half_days: int = 0
    out_half_days: int = 0
    open_days: int = 0

    @property
    def clean(self) -> bool:
        """No late, early, missing or absent."""
        return not (self.late or self.early or self.missing or self.absent_half_days)


def month_line(records: Iterable[DayRecord]) -> MonthLine:
    """Sum one person's day records into their :class:`MonthLine`."""
    counts = dict.fromkeys(MonthLine.__dataclass_fields__, 0)
    for record in records:
        if not record.closed:
            counts["open_days"] += 1
            continue
        counts["workdays"] += 1
        counts["on_duty_days"] += record.on_duty
        counts["late"] += record.late
        counts["early"] += record.early
        counts["missing"] += record.missing
        counts["absent_half_days"] += record.absent_half_days
        for session in (record.slots[:2], record.slots[2:]):
            kinds = {s.excused_by for s in session if s.status is SlotStatus.EXCUSED}
            counts["leave_half_days"] += "leave" in kinds
            counts["out_half_days"] += "out" in kinds
    return MonthLine(**counts)
