"""Table tests of the alert rules (SPEC 12): every threshold at its boundary."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from kiosk.rules.alerts import (
    Alert,
    AlertThresholds,
    DeviceSeen,
    DueItem,
    RatingPoint,
    RosterPerson,
    SeenSpan,
    bad_bursts,
    due_alerts,
    missing_am_in,
    open_alerts,
    readers_offline,
    seen_at,
    warning_starts,
)
from kiosk.rules.attendance import Excuse
from kiosk.rules.calendar import HallCalendar, Schedule
from kiosk.rules.settings import alert_thresholds, loop_terms

SCHEDULE = Schedule("all", (1, 1), (12, 31), (time(8, 30), time(12)), (time(14), time(17, 30)))
CAL = HallCalendar(schedules=(SCHEDULE,))
MON = date(2026, 11, 2)  # a Monday, a national workday
T = AlertThresholds()
US = timedelta(microseconds=1)


def at(hh: int, mm: int = 0, ss: int = 0, day: date = MON) -> datetime:
    return datetime.combine(day, time(hh, mm, ss))


def ratings(*specs: tuple[datetime, bool], window: str = "W01", valid: bool = True):
    return [RatingPoint(window, when, valid, bad) for when, bad in specs]


# --------------------------------------------------------------------------- bad_burst

BASE = at(10, 0)


@pytest.mark.parametrize(
    ("specs", "now", "expected_since"),
    [
        # 4 valid, 2 bad (exactly half) within 15 minutes: open at the 4th rating.
        (
            [
                (BASE, True),
                (BASE + timedelta(minutes=5), False),
                (BASE + timedelta(minutes=10), True),
                (BASE + timedelta(minutes=15), False),
            ],
            BASE + timedelta(minutes=15),
            BASE + timedelta(minutes=15),
        ),
        # The same, one instant before the 4th rating: nothing yet.
        (
            [
                (BASE, True),
                (BASE + timedelta(minutes=5), False),
                (BASE + timedelta(minutes=10), True),
                (BASE + timedelta(minutes=15), False),
            ],
            BASE + timedelta(minutes=15) - US,
            None,
        ),
        # Only 3 ratings, all bad: below the minimum count.
        (
            [(BASE, True), (BASE, True), (BASE + timedelta(minutes=1), True)],
            BASE + timedelta(hours=1),
            None,
        ),
        # 4 ratings, 1 bad: below half.
        (
            [(BASE, True), (BASE, False), (BASE, False), (BASE + timedelta(minutes=1), False)],
            BASE + timedelta(hours=1),
            None,
        ),
        # The 4th comes 15 min + 1 s after the first: the first is out of the span.
        (
            [
                (BASE, True),
                (BASE + timedelta(minutes=1), True),
                (BASE + timedelta(minutes=2), True),
                (BASE + timedelta(minutes=15, seconds=1), True),
            ],
            BASE + timedelta(hours=1),
            None,
        ),
        # Once open it stays open for the rest of the day, after the span has passed.
        (
            [(BASE, True), (BASE, True), (BASE, True), (BASE, True)],
            at(23, 59, 59),
            BASE,
        ),
    ],
)
def test_bad_burst_boundaries(specs, now, expected_since) -> None:
    found = bad_bursts(ratings(*specs), now, T)
    if expected_since is None:
        assert found == []
    else:
        assert found == [Alert("bad_burst", expected_since, subject="W01", window="W01")]


def test_bad_burst_counts_only_valid_ratings_and_one_window() -> None:
    four_bad = [(BASE, True)] * 4
    assert bad_bursts(ratings(*four_bad, valid=False), BASE, T) == []
    split = ratings(*four_bad[:2]) + ratings(*four_bad[2:], window="W02")
    assert bad_bursts(split, BASE, T) == []


def test_bad_burst_ends_with_the_day_and_starts_anew() -> None:
    burst = ratings(*[(BASE, True)] * 4)
    assert bad_bursts(burst, at(0, 0, day=MON + timedelta(days=1)), T) == []


def test_bad_burst_two_episodes_are_two_alerts() -> None:
    later = BASE + timedelta(hours=2)
    found = bad_bursts(ratings(*[(BASE, True)] * 4, *[(later, True)] * 4), later, T)
    assert [a.since for a in found] == [BASE, later]


def test_bad_burst_thresholds_of_the_hall() -> None:
    lenient = AlertThresholds(burst_minutes=5, burst_min_ratings=2, burst_bad_share=1.0)
    two = ratings((BASE, True), (BASE + timedelta(minutes=5), True))
    assert [a.since for a in bad_bursts(two, BASE + timedelta(minutes=5), lenient)] == [
        BASE + timedelta(minutes=5)
    ]
    apart = ratings((BASE, True), (BASE + timedelta(minutes=5, seconds=1), True))
    assert bad_bursts(apart, BASE + timedelta(hours=1), lenient) == []
    mixed = ratings((BASE, True), (BASE, False))
    assert bad_bursts(mixed, BASE, lenient) == []


# --------------------------------------------------------------------------- reader_offline


@pytest.mark.parametrize(
    ("last_seen", "now", "since"),
    [
        (at(9, 0), at(9, 5) - US, None),  # 4:59.999999 not seen: not yet
        (at(9, 0), at(9, 5), at(9, 5)),  # exactly 5 minutes
        (at(9, 0), at(12, 30), at(9, 5)),  # lunch is inside [A0, P1]
        (at(17, 0), at(17, 30), at(17, 5)),  # P1 itself is working hours
        (at(17, 0), at(17, 30) + US, None),  # after P1: not working hours
        (at(7, 0), at(8, 30) - US, None),  # before A0
        (at(7, 0), at(8, 30), at(8, 30)),  # opens at A0, not at 07:05
        (datetime(2026, 10, 30, 17, 0), at(8, 30), at(8, 30)),  # seen last on Friday
        (None, at(9, 0), at(8, 30)),  # never seen: counted from when it was added
    ],
)
def test_reader_offline_boundaries(last_seen, now, since) -> None:
    device = DeviceSeen("entrance", datetime(2026, 1, 1), last_seen)
    found = readers_offline([device], now, CAL, T)
    if since is None:
        assert found == []
    else:
        assert found == [Alert("reader_offline", since, subject="entrance", device="entrance")]


def test_reader_offline_not_on_a_weekend_nor_for_retired_or_future_readers() -> None:
    saturday = date(2026, 11, 7)
    old = DeviceSeen("a", datetime(2026, 1, 1), datetime(2026, 11, 6, 17))
    assert readers_offline([old], at(10, 0, day=saturday), CAL, T) == []
    retired = DeviceSeen("b", datetime(2026, 1, 1), at(8, 0), retired_at=at(9, 0))
    assert readers_offline([retired], at(9, 0), CAL, T) == []
    assert [a.device for a in readers_offline([retired], at(9, 0) - US, CAL, T)] == ["b"]
    future = DeviceSeen("c", at(11, 0), None)
    assert readers_offline([future], at(10, 0), CAL, T) == []


def test_reader_offline_threshold_of_the_hall() -> None:
    one = AlertThresholds(offline_minutes=1)
    device = DeviceSeen("a", datetime(2026, 1, 1), at(9, 0))
    assert readers_offline([device], at(9, 1) - US, CAL, one) == []
    assert [a.since for a in readers_offline([device], at(9, 1), CAL, one)] == [at(9, 1)]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(8, 59), None),
        (at(9, 0), at(9, 0)),  # inside the first span
        (at(9, 30), at(9, 10)),  # between spans: the end of the first
        (at(10, 5), at(10, 5)),  # inside the second
        (at(12, 0), at(11, 0)),
    ],
)
def test_seen_at(now, expected) -> None:
    spans = [SeenSpan(at(9, 0), at(9, 10)), SeenSpan(at(10, 0), at(11, 0))]
    assert seen_at(spans, now) == expected


# --------------------------------------------------------------------------- no_am_in

A0_30 = at(9, 0)


@pytest.mark.parametrize(
    ("person", "now", "listed"),
    [
        (RosterPerson("S1"), A0_30 - US, False),  # before A0 + 30 min
        (RosterPerson("S1"), A0_30, True),  # at A0 + 30 min
        (RosterPerson("S1"), at(17, 30), True),  # up to P1
        (RosterPerson("S1"), at(17, 30) + US, False),  # the working day is over
        (RosterPerson("S1", (at(6, 30),)), A0_30, False),  # A0 − 120 min is in range
        (RosterPerson("S1", (at(6, 30) - US,)), A0_30, True),  # before it: not AM_IN
        (RosterPerson("S1", (at(10, 14, 59),)), at(10, 20), False),  # just before am_mid
        (RosterPerson("S1", (at(10, 15),)), at(10, 20), True),  # am_mid is AM_OUT's
        (RosterPerson("S1", (at(9, 5),)), A0_30, True),  # a punch after now is not known
        (RosterPerson("S1", excuses=(Excuse("leave", at(8, 30), at(12)),)), A0_30, False),
        (RosterPerson("S1", excuses=(Excuse("out", at(7, 0), at(8, 30)),)), A0_30, False),
        (RosterPerson("S1", excuses=(Excuse("out", at(8, 31), at(12)),)), A0_30, True),
    ],
)
def test_no_am_in_boundaries(person, now, listed) -> None:
    found = missing_am_in([person], now, CAL, T)
    assert found == ([Alert("no_am_in", A0_30, staff=("S1",))] if listed else [])


def test_no_am_in_is_one_alert_listing_everyone_and_none_on_holidays() -> None:
    people = [RosterPerson("S2"), RosterPerson("S1"), RosterPerson("S3", (at(8, 0),))]
    assert missing_am_in(people, A0_30, CAL, T) == [Alert("no_am_in", A0_30, staff=("S1", "S2"))]
    national_day = date(2026, 10, 1)
    assert missing_am_in(people, at(9, 0, day=national_day), CAL, T) == []
    later = AlertThresholds(no_am_in_minutes=60)
    assert missing_am_in(people, at(9, 30) - US, CAL, later) == []
    assert missing_am_in(people, at(9, 30), CAL, later)[0].since == at(9, 30)


# --------------------------------------------------------------------------- *_due

FRI = date(2026, 11, 6)


@pytest.mark.parametrize(
    ("due", "days", "expected"),
    [
        (datetime(2026, 11, 7), 1, datetime(2026, 11, 6)),  # end of Friday: from Friday 00:00
        (datetime(2026, 11, 9, 10), 1, datetime(2026, 11, 9)),  # Monday 10:00: Monday 00:00
        (datetime(2026, 11, 8, 12), 1, datetime(2026, 11, 6)),  # Sunday: from Friday
        (datetime(2026, 11, 7), 2, datetime(2026, 11, 5)),  # two workdays: Thursday
        (datetime(2026, 11, 7), 0, datetime(2026, 11, 7)),  # 0: only once overdue
        # Before the National Day holiday: due on 2026-10-05 (a holiday) warns from 09-30.
        (datetime(2026, 10, 5, 12), 1, datetime(2026, 9, 30)),
    ],
)
def test_warning_starts(due, days, expected) -> None:
    assert warning_starts(due, days, CAL) == expected


@pytest.mark.parametrize(
    ("now", "done", "open_"),
    [
        (datetime(2026, 11, 6) - US, False, False),  # Thursday 23:59:59.999999
        (datetime(2026, 11, 6), False, True),  # Friday 00:00: due within one workday
        (datetime(2026, 11, 7), False, True),  # at the due instant
        (datetime(2026, 11, 20), False, True),  # overdue
        (datetime(2026, 11, 20), True, False),  # done
    ],
)
def test_due_boundaries(now, done, open_) -> None:
    for code in ("callback_due", "rectify_due", "case_due"):
        item = DueItem(code, "X1", datetime(2026, 11, 7), done=done, case_no="X1")
        found = due_alerts([item], now, CAL, T)
        assert found == (
            [
                Alert(
                    code,
                    datetime(2026, 11, 6),
                    subject="X1",
                    case_no="X1",
                    due=datetime(2026, 11, 7),
                )
            ]
            if open_
            else []
        )


# --------------------------------------------------------------------------- together


def test_open_alerts_orders_and_leaves_out_the_acknowledged() -> None:
    now = at(10, 0)
    kwargs = {
        "now": now,
        "calendar": CAL,
        "thresholds": T,
        "ratings": ratings(*[(at(9, 50), True)] * 4),
        "devices": [DeviceSeen("r1", datetime(2026, 1, 1), at(9, 0))],
        "roster": [RosterPerson("S1")],
        "due": [DueItem("case_due", "C1", at(11, 0), case_no="C1")],
    }
    found = open_alerts(**kwargs)
    assert [a.code for a in found] == ["bad_burst", "reader_offline", "no_am_in", "case_due"]
    acked = open_alerts(**kwargs, acknowledged=[found[1].key, ("bad_burst", "W01", at(9, 0))])
    assert [a.code for a in acked] == ["bad_burst", "no_am_in", "case_due"]


def test_hall_thresholds_come_from_the_alerts_table() -> None:
    assert alert_thresholds(None) == AlertThresholds()
    assert alert_thresholds({"alerts": {"burst_min_ratings": 6, "offline_minutes": 2}}) == (
        AlertThresholds(burst_min_ratings=6, offline_minutes=2.0)
    )
    # The callback term of the alerts is the loop's own (kiosk.rules.settings.loop_terms).
    assert loop_terms(None, 5).callback_workdays == 1
    assert loop_terms({"ratings": {"callback_workdays": 3}}, 5).callback_workdays == 3
    assert loop_terms({"callback_workdays": 2}, 5).callback_workdays == 2
