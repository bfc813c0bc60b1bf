"""The four-slot day of SPEC 3.2–3.4, boundary by boundary.

Winter schedule: A0 08:30, A1 12:00, P0 14:00, P1 17:30, so am_mid 10:15, noon_mid 13:00,
pm_mid 15:45, AM_IN opens 06:30 and PM_OUT closes 21:30; grace 5 min, debounce 60 s.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from kiosk.rules.attendance import (
    DayRecord,
    Excuse,
    Slot,
    SlotStatus,
    attendance_day,
    classify_hall_punch,
    classify_punch,
    day_plan,
    debounce,
)
from kiosk.rules.calendar import HallCalendar, Schedule

WINTER = Schedule("winter", (10, 1), (4, 30), (time(8, 30), time(12)), (time(14), time(17, 30)))
DAY = date(2026, 10, 22)


def at(clock: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(clock))


def day(punches: list[str], excuses: tuple[Excuse, ...] = ()) -> DayRecord:
    return attendance_day(DAY, WINTER, [at(p) for p in punches], excuses, 5, 60)


NORMAL = ["08:20", "12:02", "13:55", "17:35"]


def test_day_plan_midpoints_and_range_ends() -> None:
    plan = day_plan(DAY, WINTER)
    assert (plan.opens, plan.am_mid, plan.noon_mid, plan.pm_mid, plan.closes) == (
        at("06:30"),
        at("10:15"),
        at("13:00"),
        at("15:45"),
        at("21:30"),
    )
    odd = Schedule("odd", (1, 1), (12, 31), (time(8), time(12, 1)), (time(14), time(17)))
    assert day_plan(DAY, odd).am_mid == at("10:00:30")


@pytest.mark.parametrize(
    ("clock", "slot", "status", "minutes"),
    [
        ("06:29:59", None, None, 0.0),  # before A0 − 120 min
        ("06:30:00", Slot.AM_IN, SlotStatus.ON_TIME, 0.0),  # A0 − 120 min is inclusive
        ("08:30:00", Slot.AM_IN, SlotStatus.ON_TIME, 0.0),
        ("08:35:00", Slot.AM_IN, SlotStatus.ON_TIME, 0.0),  # exactly A0 + grace
        (
            "08:35:01",
            Slot.AM_IN,
            SlotStatus.LATE,
            301 / 60,
        ),  # measured from A0, not the grace bound
        ("10:14:59", Slot.AM_IN, SlotStatus.LATE, 6299 / 60),
        ("10:15:00", Slot.AM_OUT, SlotStatus.EARLY, 105.0),  # am_mid belongs to AM_OUT
        ("11:54:59", Slot.AM_OUT, SlotStatus.EARLY, 301 / 60),
        ("11:55:00", Slot.AM_OUT, SlotStatus.ON_TIME, 0.0),  # exactly A1 − grace
        ("12:59:59", Slot.AM_OUT, SlotStatus.ON_TIME, 0.0),
        ("13:00:00", Slot.PM_IN, SlotStatus.ON_TIME, 0.0),  # noon_mid belongs to PM_IN
        ("14:05:00", Slot.PM_IN, SlotStatus.ON_TIME, 0.0),
        ("14:05:01", Slot.PM_IN, SlotStatus.LATE, 301 / 60),
        ("15:44:59", Slot.PM_IN, SlotStatus.LATE, 6299 / 60),
        ("15:45:00", Slot.PM_OUT, SlotStatus.EARLY, 105.0),  # pm_mid belongs to PM_OUT
        ("17:24:59", Slot.PM_OUT, SlotStatus.EARLY, 301 / 60),
        ("17:25:00", Slot.PM_OUT, SlotStatus.ON_TIME, 0.0),
        ("21:29:59", Slot.PM_OUT, SlotStatus.ON_TIME, 0.0),
        ("21:30:00", None, None, 0.0),  # P1 + 240 min is exclusive
    ],
)
def test_classify_punch(
    clock: str, slot: Slot | None, status: SlotStatus | None, minutes: float
) -> None:
    result = classify_punch(WINTER, 5, at(clock))
    assert result.slot == slot
    assert result.status == status
    assert result.minutes == pytest.approx(minutes)


def test_classify_punch_reference_and_no_schedule() -> None:
    assert classify_punch(WINTER, 5, at("14:10")).reference == at("14:00")
    assert classify_punch(None, 5, at("08:30")).slot is None
    # grace is a parameter: with 0 minutes one second late is late
    assert classify_punch(WINTER, 0, at("08:30:01")).status is SlotStatus.LATE


@pytest.mark.parametrize(
    ("seconds", "kept", "duplicates"),
    [
        ([0, 30, 61, 90], [0, 61], [30, 90]),  # measured from the last KEPT punch
        ([0, 60], [0], [60]),  # at most debounce_seconds: exactly 60 s is a duplicate
        ([0, 61], [0, 61], []),  # just outside
        ([0, 50, 100], [0, 100], [50]),  # not chained through the duplicate
        ([0, 59, 118, 177], [0, 118], [59, 177]),
    ],
)
def test_debounce(seconds: list[int], kept: list[int], duplicates: list[int]) -> None:
    base = at("08:00")
    k, d = debounce([base + timedelta(seconds=s) for s in seconds], 60)
    assert k == [base + timedelta(seconds=s) for s in kept]
    assert d == [base + timedelta(seconds=s) for s in duplicates]


def test_clean_day() -> None:
    record = day(NORMAL)
    assert [s.status for s in record.slots] == [SlotStatus.ON_TIME] * 4
    assert (record.late, record.early, record.missing, record.absent_half_days) == (0, 0, 0, 0)
    assert record.on_duty and record.clean
    assert record.schedule == "winter"


def test_slots_take_earliest_in_and_latest_out() -> None:
    record = day(["07:00", "08:40", "11:00", "12:05", "13:10", "14:20", "16:00", "18:00"])
    assert [s.punch for s in record.slots] == [at("07:00"), at("12:05"), at("13:10"), at("18:00")]
    assert record.clean


def test_duplicate_inside_debounce_does_not_replace_am_out() -> None:
    # README S002, 13 Oct: 11:54:30 then 11:55:20 (50 s later) is a duplicate.
    record = day(["08:20", "11:54:30", "11:55:20", "13:55", "17:35"])
    am_out = record.slots[1]
    assert am_out.punch == at("11:54:30")
    assert am_out.status is SlotStatus.EARLY and am_out.minutes == pytest.approx(5.5)
    assert record.duplicates == (at("11:55:20"),)
    assert record.early == 1


def test_punch_just_outside_debounce_replaces_am_out() -> None:
    record = day(["08:20", "11:54:30", "11:55:31", "13:55", "17:35"])
    assert record.slots[1].punch == at("11:55:31")
    assert record.slots[1].status is SlotStatus.ON_TIME
    assert record.duplicates == ()


def test_range_ends() -> None:
    opens = day(["06:30:00", "12:02", "13:55", "17:35"])
    assert opens.slots[0].punch == at("06:30") and opens.slots[0].status is SlotStatus.ON_TIME
    closes = day(["08:20", "12:02", "13:55", "21:30:00"])
    assert closes.slots[3].status is SlotStatus.MISSING
    assert closes.missing == 1 and closes.absent_half_days == 0
    before = day(["06:29:59", "12:02", "13:55", "17:35"])
    assert before.slots[0].status is SlotStatus.MISSING


@pytest.mark.parametrize(
    ("punches", "missing", "absent"),
    [
        (["08:20", "12:02"], 0, 1),  # no afternoon punch: one absent half-day
        (["13:55", "17:35"], 0, 1),
        ([], 0, 2),
        (["08:20", "13:55", "17:35"], 1, 0),  # AM_OUT missing, AM_IN punched: missing punch
        (["08:20", "17:35"], 2, 0),
        (["05:00", "22:00"], 0, 2),  # punches outside every range count for nothing
    ],
)
def test_absent_half_day_versus_missing_punch(
    punches: list[str], missing: int, absent: int
) -> None:
    record = day(punches)
    assert (record.missing, record.absent_half_days) == (missing, absent)


def test_on_duty_needs_a_punch_inside_a_range() -> None:
    assert day(["05:00", "22:00"]).on_duty is False
    assert day(["21:29"]).on_duty is True
    assert day([]).on_duty is False


def test_late_and_early_counts() -> None:
    record = day(["09:05", "11:00", "14:45", "16:00"])
    assert (record.late, record.early) == (2, 2)
    assert [round(s.minutes, 2) for s in record.slots] == [35.0, 60.0, 45.0, 90.0]
    assert [s.status for s in record.defects()] == [
        SlotStatus.LATE,
        SlotStatus.EARLY,
        SlotStatus.LATE,
        SlotStatus.EARLY,
    ]


@pytest.mark.parametrize(
    ("start", "end", "excused"),
    [
        ("07:30", "08:30", True),  # reference A0 at the interval's end (inclusive)
        ("08:30", "09:30", True),  # reference A0 at the interval's start (inclusive)
        ("07:30", "08:29:59", False),
        ("08:30:01", "09:30", False),
    ],
)
def test_excuse_by_reference_time(start: str, end: str, excused: bool) -> None:
    record = day(["09:20", "12:02", "13:55", "17:35"], (Excuse("leave", at(start), at(end)),))
    am_in = record.slots[0]
    assert (am_in.status is SlotStatus.EXCUSED) is excused
    assert record.late == (0 if excused else 1)
    if excused:
        assert am_in.excused_by == "leave" and am_in.punch == at("09:20") and am_in.minutes == 0


def test_excused_session_without_punches_is_not_absent() -> None:
    leave = Excuse("leave", at("08:00"), at("12:30"))
    record = day(["13:55", "17:35"], (leave,))
    assert record.absent_half_days == 0 and record.missing == 0
    assert [s.status for s in record.slots[:2]] == [SlotStatus.EXCUSED] * 2


def test_one_excused_slot_and_one_missing_is_a_missing_punch() -> None:
    leave = Excuse("leave", at("08:00"), at("09:00"))  # holds A0 only
    record = day(["13:55", "17:35"], (leave,))
    assert (record.absent_half_days, record.missing) == (0, 1)


def test_full_day_leave_is_excused_but_not_on_duty() -> None:
    leave = Excuse("leave", datetime.combine(DAY, time()), at("23:59:59"))
    record = day([], (leave,))
    assert [s.status for s in record.slots] == [SlotStatus.EXCUSED] * 4
    assert (record.missing, record.absent_half_days) == (0, 0)
    assert record.on_duty is False


@pytest.mark.parametrize(
    ("start", "end", "on_duty"),
    [
        ("13:50", "18:00", True),  # afternoon trip
        ("12:00", "12:30", True),  # touches A1: closed interval
        ("13:00", "14:00", True),  # touches P0
        ("17:30", "19:00", True),  # touches P1
        ("07:00", "08:30", True),  # touches A0
        ("12:00:01", "13:59:59", False),  # lunch only: no intersection
        ("18:00", "20:00", False),
    ],
)
def test_on_duty_by_out_registration(start: str, end: str, on_duty: bool) -> None:
    record = day([], (Excuse("out", at(start), at(end)),))
    assert record.on_duty is on_duty
    assert record.out_registered is on_duty


def test_out_registration_excuses_afternoon_slots() -> None:
    record = day(["08:20", "12:02"], (Excuse("out", at("13:50"), at("18:00")),))
    assert [s.status for s in record.slots[2:]] == [SlotStatus.EXCUSED] * 2
    assert record.clean


def test_leave_never_makes_on_duty() -> None:
    record = day([], (Excuse("leave", at("12:00"), at("14:00")),))
    assert record.on_duty is False


def test_day_without_schedule_has_no_slots() -> None:
    record = attendance_day(DAY, None, [at("08:30"), at("17:30")])
    assert record.slots == () and record.schedule is None
    assert (record.late, record.early, record.missing, record.absent_half_days) == (0, 0, 0, 0)
    assert record.on_duty is False


def test_unsorted_input_is_sorted_before_debounce() -> None:
    record = day(["17:35", "13:55", "12:02", "08:20", "08:20:30"])
    assert record.clean and record.duplicates == (at("08:20:30"),)


@pytest.mark.parametrize(
    ("moment", "slot", "status"),
    [
        (datetime(2026, 10, 22, 8, 36), Slot.AM_IN, SlotStatus.LATE),  # Thursday, winter
        (datetime(2026, 9, 20, 8, 6), Slot.AM_IN, SlotStatus.LATE),  # make-up Sunday, summer
        (datetime(2026, 9, 20, 8, 5), Slot.AM_IN, SlotStatus.ON_TIME),
        (datetime(2026, 10, 5, 8, 30), None, None),  # National Day holiday
        (datetime(2026, 10, 24, 8, 30), None, None),  # ordinary Saturday
        (datetime(2026, 10, 16, 8, 30), None, None),  # closed day
        (datetime(2026, 9, 12, 17, 30), Slot.PM_OUT, SlotStatus.ON_TIME),  # extra Saturday
    ],
)
def test_classify_hall_punch(
    moment: datetime, slot: Slot | None, status: SlotStatus | None
) -> None:
    summer = Schedule("summer", (5, 1), (9, 30), (time(8), time(12)), (time(14, 30), time(17, 30)))
    calendar = HallCalendar(
        schedules=(WINTER, summer),
        closed_days=frozenset({date(2026, 10, 16)}),
        extra_workdays=frozenset({date(2026, 9, 12)}),
    )
    result = classify_hall_punch(calendar, 5, moment)
    assert (result.slot, result.status) == (slot, status)
