"""The rule file: every number of SPEC 5.3–5.6 and its identity (name, sha256)."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import pytest

from kiosk.rules.ruleset import DEFAULT_RULES_PATH, default_rules, load_rules, parse_rules


def test_default_rule_numbers() -> None:
    rules = default_rules()
    assert rules.name == "default"
    assert rules.sha256 == hashlib.sha256(DEFAULT_RULES_PATH.read_bytes()).hexdigest()
    assert rules.level_map() == {5: 100, 4: 80, 3: 60, 2: 30, 1: 0}
    assert rules.bad_levels == {1, 2}
    assert (rules.satisfaction_max, rules.prior_weight, rules.no_ratings_score) == (40, 20, 100)
    assert (rules.attendance_max, rules.short_defect_points, rules.long_defect_points) == (30, 1, 2)
    assert (
        rules.long_defect_minutes,
        rules.missing_punch_points,
        rules.absent_half_day_points,
    ) == (
        30,
        1,
        3,
    )
    assert (rules.workload_max, rules.weighted_points, rules.on_time_points) == (20, 10, 10)
    assert (rules.discipline_max, rules.bonus_max, rules.default_case_weight) == (10, 5, 1)
    assert rules.individual_min_ratings == 20
    assert rules.individual_min_duty_ratio == Fraction(4, 5)  # exactly, not 0.8000000000000000444
    assert (rules.individual_threshold, rules.individual_quota_divisor) == (85, 10)
    assert (rules.window_min_ratings, rules.window_threshold, rules.window_quota_divisor) == (
        30,
        85,
        10,
    )
    assert (rules.misuse_seconds, rules.rectification_workdays) == (10, 5)
    assert rules.no_workload_scale == Fraction(100, 80)


def test_any_byte_changes_the_hash(tmp_path: Path) -> None:
    content = DEFAULT_RULES_PATH.read_bytes() + b"\n# local copy\n"
    copy = tmp_path / "hall_rules.toml"
    copy.write_bytes(content)
    rules = load_rules(copy)
    assert rules.sha256 == hashlib.sha256(content).hexdigest() != default_rules().sha256
    unnamed = tmp_path / "quarterly.toml"
    unnamed.write_bytes(content.replace(b'name = "default"\n', b""))
    assert load_rules(unnamed).name == "quarterly"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"[bonus]", b"[bonus_points]"),  # a section missing
        (b"prior_weight = 20", b'prior_weight = "20"'),  # not a number
        (b"on_time_points = 10", b"on_time_points = 11"),  # halves do not add up to the maximum
        (b"min_ratings = 20", b"min_ratings = 0"),
        (b"max = 5 ", b"max = true "),
        (b"[levels]", b"[levels"),  # not TOML
        (b"1 = 0\n", b""),  # a level without a value
        (b"bad_levels = [1, 2]", b"bad_levels = [0, 1, 2]"),
    ],
)
def test_bad_rule_files_are_refused(old: bytes, new: bytes) -> None:
    content = DEFAULT_RULES_PATH.read_bytes()
    assert old in content
    with pytest.raises(ValueError):
        parse_rules(content.replace(old, new, 1))
