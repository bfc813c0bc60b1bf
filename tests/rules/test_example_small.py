"""The worked example of shared/examples/small (copied to tests/data/small), scored by the pure rules.

The bar is the example README's: every part within 0.01, rank, award, eligible, vetoes,
ineligible_reasons, the individual's window and the window's members.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.rules.ruleset import default_rules
from kiosk.rules.scoring import ScoreResult, score_period, to_spec_json
from tests.rules.example_loader import load_example

DATA = Path(__file__).resolve().parent.parent / "data" / "small"
AS_OF = datetime.fromisoformat("2026-11-05T12:00:00+08:00")
PARTS = ("total", "satisfaction", "attendance", "workload", "discipline", "bonus")
EXACT_INDIVIDUAL = ("window", "rank", "award", "eligible", "vetoes", "ineligible_reasons")
EXACT_WINDOW = ("rank", "award", "eligible", "vetoes", "ineligible_reasons", "members")


@pytest.fixture(scope="module")
def result() -> ScoreResult:
    return score_period(load_example(DATA, "2026-B5", AS_OF), default_rules())


@pytest.fixture(scope="module")
def actual(result: ScoreResult) -> dict[str, Any]:
    return to_spec_json(result)


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return json.loads((DATA / "expected.json").read_text(encoding="utf-8"))


def assert_matches_expected(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """The README's bar, shared with the CLI test."""
    for key in ("period", "hall", "from", "to", "as_of"):
        assert actual[key] == expected[key], key
    assert actual["warnings"] == []
    assert [p["staff_no"] for p in actual["individuals"]] == [
        p["staff_no"] for p in expected["individuals"]
    ]
    for got, want in zip(actual["individuals"], expected["individuals"], strict=True):
        for part in PARTS:
            if want[part] is None:
                assert got[part] is None, (got["staff_no"], part)
            else:
                assert got[part] == pytest.approx(want[part], abs=0.01), (got["staff_no"], part)
        for key in EXACT_INDIVIDUAL:
            assert got[key] == want[key], (got["staff_no"], key)
    assert [w["window"] for w in actual["windows"]] == [w["window"] for w in expected["windows"]]
    for got, want in zip(actual["windows"], expected["windows"], strict=True):
        assert got["total"] == pytest.approx(want["total"], abs=0.01), got["window"]
        for key in EXACT_WINDOW:
            assert got[key] == want[key], (got["window"], key)


def test_matches_expected_json(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert_matches_expected(actual, expected)


def test_spec_json_shape_and_key_order(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual) == list(expected)
    assert list(actual["individuals"][0]) == list(expected["individuals"][0])
    assert list(actual["windows"][0]) == list(expected["windows"][0])
    assert actual["rules"]["name"] == "default"
    assert len(actual["rules"]["sha256"]) == 64
    json.dumps(actual)  # plain JSON types only


def test_details_match_expected(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Beyond the bar: the counts and means the README walks through."""
    for got, want in zip(actual["individuals"], expected["individuals"], strict=True):
        assert got["attendance_detail"] == want["attendance_detail"], got["staff_no"]
        assert got["cases"] == want["cases"], got["staff_no"]
        assert got["ratings"] == want["ratings"], got["staff_no"]
        assert got["name"] == want["name"]
    for got, want in zip(actual["windows"], expected["windows"], strict=True):
        assert got["valid_ratings"] == want["valid_ratings"]
        assert (got["name"], got["unit"]) == (want["name"], want["unit"])


def test_hall_mean_and_walkthrough_figures(result: ScoreResult) -> None:
    from fractions import Fraction

    assert result.hall_mean == Fraction(16630, 179)
    assert result.max_weighted == 40
    s002 = result.individual("S002")
    assert s002 is not None
    assert [(c.rating_id, c.status) for c in s002.ratings.bad_reviews] == [
        ("R0053", "late"),
        ("R0054", "on_time"),
    ]
    assert s002.ratings.bad_reviews[0].deadline == datetime(2026, 9, 25)
    assert s002.ratings.bad_reviews[1].deadline == datetime(2026, 10, 13)
    assert sorted(s002.ratings.excluded) == [("R0055", "misuse"), ("R0056", "unfounded")]
    s003 = result.individual("S003")
    assert s003 is not None
    assert [(c.rating_id, c.status, c.deadline) for c in s003.ratings.bad_reviews] == [
        ("R0085", "pending", datetime(2026, 11, 6))
    ]
    s007 = result.individual("S007")
    assert s007 is not None
    assert [(c.status, c.deadline) for c in s007.ratings.bad_reviews] == [
        ("overdue", datetime(2026, 11, 5))
    ]
    assert result.individual("S008") is None
    assert result.individual_quota == 1 and result.window_quota == 1
