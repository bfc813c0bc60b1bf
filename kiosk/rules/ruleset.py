"""The scoring rule set (SPEC 5.3–5.6) read from a TOML rule file.

Every number of the formulas comes from the file; a result records the file's name and
the sha256 of its bytes, so a published award can be reproduced by anyone holding it.
Numbers are kept as :class:`~fractions.Fraction` so the arithmetic is exact and
half-up rounding behaves as on paper.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_RULES_PATH", "RuleSet", "default_rules", "load_rules", "parse_rules"]

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """All the numbers of the scoring rules, plus which file they came from."""

    name: str
    sha256: str
    level_values: tuple[tuple[int, Fraction], ...]
    bad_levels: frozenset[int]
    misuse_seconds: Fraction
    rectification_workdays: int
    satisfaction_max: Fraction
    prior_weight: Fraction
    no_ratings_score: Fraction
    attendance_max: Fraction
    short_defect_points: Fraction
    long_defect_points: Fraction
    long_defect_minutes: Fraction
    missing_punch_points: Fraction
    absent_half_day_points: Fraction
    workload_max: Fraction
    weighted_points: Fraction
    on_time_points: Fraction
    default_case_weight: Fraction
    discipline_max: Fraction
    bonus_max: Fraction
    individual_min_ratings: int
    individual_min_duty_ratio: Fraction
    individual_threshold: Fraction
    individual_quota_divisor: int
    window_min_ratings: int
    window_threshold: Fraction
    window_quota_divisor: int
    source: bytes = field(default=b"", repr=False, compare=False)
    """The rule file's bytes (what ``sha256`` is taken of), kept for publication bundles."""

    def level_map(self) -> dict[int, Fraction]:
        """Rating level -> value."""
        return dict(self.level_values)

    @property
    def no_workload_scale(self) -> Fraction:
        """Rescale factor for staff whose window has no cases: full marks over marks without workload (100/80)."""
        full = self.satisfaction_max + self.attendance_max + self.workload_max + self.discipline_max
        return full / (full - self.workload_max)


def _num(value: Any, where: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"rule {where} must be a number, not {value!r}")
    # str() first so 0.8 becomes 4/5 rather than the binary float's expansion.
    return Fraction(str(value))


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"rule {where} must be a positive integer, not {value!r}")
    return int(value)


def parse_rules(content: bytes, name: str | None = None) -> RuleSet:
    """Build a :class:`RuleSet` from the bytes of a rule file; raises ``ValueError`` if incomplete."""
    try:
        data = tomllib.loads(content.decode("utf-8"))
        levels = data["levels"]
        ratings, sat, att = data["ratings"], data["satisfaction"], data["attendance"]
        work, ind, win = data["workload"], data["individual"], data["window"]
        level_values = tuple(
            sorted(((int(k), _num(v, f"levels.{k}")) for k, v in levels.items()), reverse=True)
        )
        rules = RuleSet(
            name=str(data.get("name") or name or "rules"),
            sha256=hashlib.sha256(content).hexdigest(),
            level_values=level_values,
            bad_levels=frozenset(int(x) for x in ratings["bad_levels"]),
            misuse_seconds=_num(ratings["misuse_seconds"], "ratings.misuse_seconds"),
            rectification_workdays=_int(
                ratings["rectification_workdays"], "ratings.rectification_workdays"
            ),
            satisfaction_max=_num(sat["max"], "satisfaction.max"),
            prior_weight=_num(sat["prior_weight"], "satisfaction.prior_weight"),
            no_ratings_score=_num(sat["no_ratings_score"], "satisfaction.no_ratings_score"),
            attendance_max=_num(att["max"], "attendance.max"),
            short_defect_points=_num(att["short_defect_points"], "attendance.short_defect_points"),
            long_defect_points=_num(att["long_defect_points"], "attendance.long_defect_points"),
            long_defect_minutes=_num(att["long_defect_minutes"], "attendance.long_defect_minutes"),
            missing_punch_points=_num(
                att["missing_punch_points"], "attendance.missing_punch_points"
            ),
            absent_half_day_points=_num(
                att["absent_half_day_points"], "attendance.absent_half_day_points"
            ),
            workload_max=_num(work["max"], "workload.max"),
            weighted_points=_num(work["weighted_points"], "workload.weighted_points"),
            on_time_points=_num(work["on_time_points"], "workload.on_time_points"),
            default_case_weight=_num(work["default_case_weight"], "workload.default_case_weight"),
            discipline_max=_num(data["discipline"]["max"], "discipline.max"),
            bonus_max=_num(data["bonus"]["max"], "bonus.max"),
            individual_min_ratings=_int(ind["min_ratings"], "individual.min_ratings"),
            individual_min_duty_ratio=_num(ind["min_duty_ratio"], "individual.min_duty_ratio"),
            individual_threshold=_num(ind["threshold"], "individual.threshold"),
            individual_quota_divisor=_int(ind["quota_divisor"], "individual.quota_divisor"),
            window_min_ratings=_int(win["min_ratings"], "window.min_ratings"),
            window_threshold=_num(win["threshold"], "window.threshold"),
            window_quota_divisor=_int(win["quota_divisor"], "window.quota_divisor"),
            source=content,
        )
    except (KeyError, TypeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"incomplete or malformed rule file: {exc!r}") from exc
    if {level for level, _ in rules.level_values} != {1, 2, 3, 4, 5}:
        raise ValueError("[levels] must give a value to each of the levels 1 to 5")
    if not rules.bad_levels <= {1, 2, 3, 4, 5}:
        raise ValueError("ratings.bad_levels must be levels 1 to 5")
    if rules.weighted_points + rules.on_time_points != rules.workload_max:
        raise ValueError(
            "workload.weighted_points + workload.on_time_points must equal workload.max"
        )
    return rules


def load_rules(path: str | Path) -> RuleSet:
    """Read a rule file; its stem is the name unless the file sets ``name``."""
    path = Path(path)
    return parse_rules(path.read_bytes(), name=path.stem)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The rule file shipped with the service (``kiosk/rules/default_rules.toml``)."""
    return load_rules(DEFAULT_RULES_PATH)
