"""SPEC 5.1 (amended): what counts as of an instant — closed workdays only, ratings, cases
and events up to ``as_of``, and no ``as_of`` before the period. Boundaries in tables."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

import pytest

from kiosk.rules.attendance import SlotStatus, attendance_day, day_closes, day_plan
from kiosk.rules.calendar import HallCalendar, Period, Schedule
from kiosk.rules.ruleset import default_rules
from kiosk.rules.scoring import (
    AsOfBeforePeriod,
    Case,
    Event,
    Hall,
    Rating,
    ScoreResult,
    score_period,
    to_spec_json,
)
from tests.rules.builders import HALL, WINTER, Person, build, clock

RULES = default_rules()
WED = date(2026, 10, 28)  # the third day of the builders' week (Mon 26 – Fri 30 Oct)
TZ = "+08:00"


def at(day: date, text: str) -> datetime:
    """An aware hall instant (Asia/Shanghai) of ``day`` at ``text``."""
    return datetime.fromisoformat(f"{day.isoformat()}T{text}{TZ}")


def scored(people: list[Person], as_of: datetime, **kwargs: object) -> ScoreResult:
    return score_period(build(people, as_of=as_of, **kwargs), RULES)  # type: ignore[arg-type]


def detail(result: ScoreResult, staff_no: str) -> dict[str, int]:
    person = next(p for p in to_spec_json(result)["individuals"] if p["staff_no"] == staff_no)
    return {**person["attendance_detail"], "vetoed": int(bool(person["vetoes"]))}


# ------------------------------------------------------------------ the closing instant


def test_a_workday_closes_at_the_end_of_its_pm_out_range() -> None:
    plan = day_plan(WED, WINTER)
    assert day_closes(WED, plan) == datetime.combine(WED, time(21, 30))  # 17:30 + 240 min
    assert day_closes(WED, None) == datetime.combine(WED + timedelta(days=1), time())


# Two people rostered Mon–Fri; "S1" punched Mon and Tue only (Wed is all missing), "S2"
# punched Wednesday morning only. As of Wednesday, when does Wednesday count?
@pytest.mark.parametrize(
    ("clock_time", "workdays", "s1_absent", "s2_missing", "s2_on_duty"),
    [
        ("15:00:00", 2, 0, 0, 2),  # afternoon in progress: Wednesday is not a roster day yet
        ("21:29:59", 2, 0, 0, 2),  # one second before the PM_OUT range ends
        ("21:30:00", 3, 2, 0, 3),  # exactly at the closing instant: closed
        ("21:30:01", 3, 2, 0, 3),
        ("22:00:00", 3, 2, 0, 3),
    ],
)
def test_workday_counts_only_once_closed(
    clock_time: str, workdays: int, s1_absent: int, s2_missing: int, s2_on_duty: int
) -> None:
    s2_wed = [clock(WED, "08:25"), clock(WED, "12:01")]
    people = [
        Person("S1", days_punched=2, levels=[]),
        Person("S2", days_punched=2, levels=[], extra_punches=s2_wed),
    ]
    result = scored(people, at(WED, clock_time))
    s1, s2 = detail(result, "S1"), detail(result, "S2")
    assert s1["workdays"] == s2["workdays"] == workdays
    assert s1["absent_half_days"] == s1_absent
    assert s1["vetoed"] == (1 if s1_absent else 0)
    # S2's Wednesday afternoon is an absent half-day only once the day has closed.
    assert s2["absent_half_days"] == (1 if workdays == 3 else 0)
    assert s2["missing"] == s2_missing
    assert s2["on_duty_days"] == s2_on_duty


def test_the_whole_future_is_no_absence() -> None:
    """Reviewing a period in progress vetoes nobody for days that have not happened."""
    people = [Person(f"S{i}", days_punched=2, levels=[5] * 20) for i in range(3)]
    result = scored(people, at(WED, "13:50:00"))
    for p in to_spec_json(result)["individuals"]:
        assert p["vetoes"] == []
        assert p["attendance_detail"]["absent_half_days"] == 0
        assert p["attendance_detail"]["workdays"] == 2


UNCOVERED_HALL = Hall(
    "QJ",
    "测试中心",
    "Asia/Shanghai",
    # Schedules that leave 28 October uncovered: the day has no slots and closes at 24:00.
    HallCalendar(
        schedules=(
            Schedule("early", (10, 1), (10, 27), (time(8, 30), time(12)), (time(14), time(17, 30))),
            Schedule("late", (10, 29), (9, 30), (time(8, 30), time(12)), (time(14), time(17, 30))),
        )
    ),
)


@pytest.mark.parametrize(
    ("instant", "workdays"),
    [
        (at(WED, "22:00:00"), 2),
        (at(WED, "23:59:59"), 2),
        (at(WED + timedelta(days=1), "00:00:00"), 3),
        (at(WED + timedelta(days=1), "00:00:01"), 3),
    ],
)
def test_a_day_no_schedule_covers_closes_at_midnight(instant: datetime, workdays: int) -> None:
    result = scored([Person("S1", days_punched=2, levels=[])], instant, hall=UNCOVERED_HALL)
    s1 = detail(result, "S1")
    assert s1["workdays"] == workdays
    assert s1["absent_half_days"] == 0  # an uncovered day has no slots, hence no defect


B5 = Period.parse("2026-B5")  # 1 September (a Tuesday) – 31 October 2026
SEP1 = date(2026, 9, 1)


@pytest.mark.parametrize(
    ("instant", "workdays", "scored_count"),
    [
        (at(SEP1, "00:00:00"), None, 0),  # the first instant of the period: nobody scored yet
        (at(SEP1, "15:00:00"), None, 0),  # the first workday in progress
        (at(SEP1, "21:29:59"), None, 0),
        (at(SEP1, "21:30:00"), 1, 1),  # summer P1 17:30 + 240 min: the first day closed
        (at(SEP1, "22:00:00"), 1, 1),
    ],
)
def test_first_day_of_a_period(instant: datetime, workdays: int | None, scored_count: int) -> None:
    person = Person("S1", start=SEP1, end=None, days_punched=0, levels=[])
    result = scored([person], instant, period=B5)
    assert len(result.individuals) == scored_count
    if workdays is not None:
        assert detail(result, "S1")["workdays"] == workdays
        assert detail(result, "S1")["absent_half_days"] == 2


@pytest.mark.parametrize(
    "instant",
    [at(date(2026, 8, 31), "23:59:59"), at(date(2026, 1, 5), "12:00:00")],
)
def test_as_of_before_the_period_is_refused(instant: datetime) -> None:
    with pytest.raises(AsOfBeforePeriod, match="早于考评期 2026-B5"):
        scored([Person("S1", start=SEP1, end=None)], instant, period=B5)


def test_home_window_is_decided_over_closed_workdays() -> None:
    """Moved to W2 from Wednesday: on Wednesday 15:00 W1 holds 2 closed days (home W1);
    at Friday 22:00 W2 holds 3 (home W2)."""
    from kiosk.rules.scoring import Assignment

    person = Person(
        "S1",
        levels=[],
        assignments=(
            Assignment("W1", date(2026, 10, 26), date(2026, 10, 27)),
            Assignment("W2", WED, None),
        ),
    )
    assert scored([person], at(WED, "15:00:00")).individual("S1").window == "W1"
    friday = at(date(2026, 10, 30), "22:00:00")
    assert scored([person], friday).individual("S1").window == "W2"


# ------------------------------------------------------------------ ratings, cases, events


@pytest.mark.parametrize(
    ("clock_time", "valid", "completed", "bonus"),
    [
        ("09:59:59", 1, 0, 0.0),
        ("10:00:00", 2, 1, 2.0),
        ("10:00:01", 2, 1, 2.0),
    ],
)
def test_ratings_cases_and_events_count_up_to_as_of(
    clock_time: str, valid: int, completed: int, bonus: float
) -> None:
    ten = clock(WED, "10:00")
    person = Person(
        "S1",
        levels=[],
        ratings=[
            Rating("early", "S1", clock(date(2026, 10, 27), "10:00"), 5),
            Rating("at-ten", "S1", ten, 1),
        ],
        events=[Event("E1", "S1", ten, "commendation", 2)],
    )
    data = build([person], as_of=at(WED, clock_time))
    data = dataclasses.replace(data, cases=[Case("C1", "S1", ten, ten)])
    result = score_period(data, RULES)
    spec = to_spec_json(result)["individuals"][0]
    assert spec["ratings"]["valid"] == valid
    assert spec["cases"]["completed"] == completed
    assert spec["bonus"] == bonus
    # C is taken over the same ratings: the level-1 rating moves the hall mean only once due.
    assert result.hall_mean == (100 if valid == 1 else 50)


def test_default_channel_is_never_valid_bad_or_misuse() -> None:
    person = Person(
        "S1",
        levels=[5],
        ratings=[
            Rating("D1", "S1", clock(date(2026, 10, 27), "11:00"), 3, channel="default"),
            Rating("D2", "S1", clock(date(2026, 10, 27), "11:01"), 3, channel="default"),
        ],
    )
    result = scored([person], at(date(2026, 11, 15), "00:00:00"), hall=HALL)
    one = result.individual("S1")
    assert one is not None
    assert one.ratings.valid == 1
    assert one.ratings.bad == 0
    assert result.hall_mean == 100  # the two level-3 defaults do not pull C down
    assert dict(one.ratings.excluded) == {"D1": "default", "D2": "default"}


# ------------------------------------------------------------------ one day on a screen


@pytest.mark.parametrize(
    ("now", "closed", "statuses", "on_duty"),
    [
        ("13:50", False, ["pending"] * 4, False),
        ("21:29:59", False, ["pending"] * 4, False),
        ("21:30", True, ["late", "on_time", "missing", "missing"], True),
    ],
)
def test_a_day_in_progress_has_no_defect(
    now: str, closed: bool, statuses: list[str], on_duty: bool
) -> None:
    punches = [clock(WED, "08:40"), clock(WED, "12:01")]
    record = attendance_day(WED, WINTER, punches, as_of=clock(WED, now))
    assert record.closed is closed
    assert [str(s.status) for s in record.slots] == statuses
    assert [s.punch for s in record.slots][:2] == punches  # the punches are still shown
    assert record.on_duty is on_duty
    assert (record.late, record.absent_half_days) == ((1, 1) if closed else (0, 0))


def test_an_excused_slot_stays_excused_while_the_day_runs() -> None:
    from kiosk.rules.attendance import Excuse

    leave = Excuse("leave", clock(WED, "13:00"), clock(WED, "18:00"))
    record = attendance_day(WED, WINTER, [], [leave], as_of=clock(WED, "13:50"))
    assert [s.status for s in record.slots] == [SlotStatus.PENDING] * 2 + [SlotStatus.EXCUSED] * 2
