"""Table tests of the rating fraud signals (SPEC 12)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kiosk.rules.fraud import (
    CorrectionFact,
    FraudSignal,
    FraudThresholds,
    RatingFact,
    fraud_signals,
)

T0 = datetime(2026, 11, 2, 9, 0)


def fact(rid: str, seconds: float, staff: str = "S1", channel: str = "counter", **kw) -> RatingFact:
    return RatingFact(rid, staff, T0 + timedelta(seconds=seconds), channel, opened_at=T0, **kw)


@pytest.mark.parametrize(
    ("seconds", "flagged"),
    [(0, True), (14.999, True), (15, False), (600, False)],
)
def test_quick_rating_boundary(seconds: float, flagged: bool) -> None:
    found = fraud_signals([fact("R1", seconds)], [], [])
    assert found == ([FraudSignal("quick_rating", "S1", ("R1",))] if flagged else [])


def test_quick_rating_without_a_session_is_not_judged() -> None:
    imported = RatingFact("R1", "S1", T0, "other")
    assert fraud_signals([imported], [], []) == []


@pytest.mark.parametrize(("count", "flagged"), [(2, False), (3, True), (5, True)])
def test_same_phone_boundary(count: int, flagged: bool) -> None:
    facts = [fact(f"R{i}", 60 + i, channel="qr", client_tag="aa") for i in range(count)]
    found = fraud_signals(facts, [], [])
    expected = [FraudSignal("same_phone", "S1", tuple(f"R{i}" for i in range(count)), phone="aa")]
    assert found == (expected if flagged else [])


def test_same_phone_counts_one_person_one_phone_qr_only() -> None:
    facts = [
        fact("R1", 60, channel="qr", client_tag="aa"),
        fact("R2", 70, channel="qr", client_tag="aa"),
        fact("R3", 80, channel="qr", client_tag="bb"),  # another phone
        fact("R4", 90, staff="S2", channel="qr", client_tag="aa"),  # another person
        fact("R5", 95, channel="counter", client_tag="aa"),  # at the counter
    ]
    assert fraud_signals(facts, [], []) == []
    lenient = FraudThresholds(same_phone_min=2)
    assert [s.ratings for s in fraud_signals(facts, [], [], lenient)] == [("R1", "R2")]


@pytest.mark.parametrize(
    ("channel", "tag", "opened_from", "flagged"),
    [
        ("qr", "t1", "t1", True),
        ("qr", "t2", "t1", False),
        ("counter", "t1", "t1", False),  # the counter's own rating is expected to match
        ("qr", None, None, False),
    ],
)
def test_terminal_address(channel, tag, opened_from, flagged) -> None:
    found = fraud_signals(
        [fact("R1", 60, channel=channel, client_tag=tag, opened_from=opened_from)], [], []
    )
    assert found == ([FraudSignal("terminal_address", "S1", ("R1",))] if flagged else [])


def corrections(staff: str, officers: list[str]) -> list[CorrectionFact]:
    return [CorrectionFact(staff, o, T0 + timedelta(days=i)) for i, o in enumerate(officers)]


def test_many_corrections_needs_the_minimum_and_to_stand_out() -> None:
    staff = [f"S{i}" for i in range(20)]
    # S0 has 3 corrections, nobody else any: 3 >= minimum and far above mean + 2 sd.
    found = fraud_signals([], corrections("S0", ["duty1", "duty2", "duty1"]), staff)
    assert found == [
        FraudSignal(
            "many_corrections", "S0", corrections=3, by_officer=(("duty1", 2), ("duty2", 1))
        )
    ]
    # Two corrections stand out but are below the minimum.
    assert fraud_signals([], corrections("S0", ["d", "d"]), staff) == []
    # Everyone has three: nobody stands out.
    every = [c for s in staff for c in corrections(s, ["d", "d", "d"])]
    assert fraud_signals([], every, staff) == []


def test_signals_are_ordered_by_code_then_staff() -> None:
    facts = [
        fact("R2", 1, staff="S2"),
        fact("R1", 1, staff="S1", channel="qr", client_tag="x", opened_from="x"),
    ]
    found = fraud_signals(facts, [], [])
    assert [(s.code, s.staff_no) for s in found] == [
        ("quick_rating", "S1"),
        ("quick_rating", "S2"),
        ("terminal_address", "S1"),
    ]
