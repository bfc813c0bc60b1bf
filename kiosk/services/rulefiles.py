"""Uploading, comparing and adopting rule files (SPEC 5.3, 10 ``/admin/rules``).

An uploaded file is checked by :func:`kiosk.rules.ruleset.parse_rules` (a bad one is
refused with the parser's message) and kept byte for byte in ``rule_files``; adopting
it adds a row to ``rule_adoptions``, and the newest adoption is the rule file in force
for every process (:mod:`kiosk.services.rulefile`). Before adopting, a leader sees how
the ranking of a period would change: the period is scored with both rule sets through
the scoring service, and every person whose rank, award or total moves is listed with
the parts that changed, beside the rule values that differ. Changes are audited with
before and after; the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import Hall
from kiosk.models_rules import RuleAdoption, RuleFile
from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import RuleSet, parse_rules
from kiosk.rules.scoring import IndividualScore, ScoreResult, round_half_up
from kiosk.services import audit
from kiosk.services.errors import Invalid
from kiosk.services.scoring import score_hall_period

__all__ = [
    "MAX_RULE_FILE_BYTES",
    "Mover",
    "RuleChange",
    "RuleFileError",
    "adopt",
    "adoptions",
    "compare_ranking",
    "current_period",
    "rule_changes",
    "rules_of",
    "upload",
]

# A rule file is a page of TOML; anything much larger is not one.
MAX_RULE_FILE_BYTES = 64 * 1024
PARTS = ("satisfaction", "attendance", "workload", "discipline", "bonus", "total")


class RuleFileError(Invalid):
    """A refused rule file or adoption; nothing was stored."""


def rules_of(row: RuleFile) -> RuleSet:
    """The rule set of a stored rule file."""
    return parse_rules(bytes(row.content), name=row.name)


def upload(
    session: Session, data: bytes, *, filename: str, user_id: int | None, hall_id: int | None
) -> RuleFile:
    """Check and keep an uploaded rule file (the same bytes twice are one row)."""
    if not data:
        raise RuleFileError(_("请选择要上传的规则文件（文件不能为空）。"))
    if len(data) > MAX_RULE_FILE_BYTES:
        raise RuleFileError(
            _("规则文件过大（上限 %(n)s KiB），不是规则文件。", n=MAX_RULE_FILE_BYTES // 1024)
        )
    stem = (filename or "rules").rsplit("/", 1)[-1].rsplit(".", 1)[0][:100] or "rules"
    try:
        rules = parse_rules(data, name=stem)
    except ValueError as exc:
        raise RuleFileError(_("规则文件有误，未予保存：%(why)s", why=str(exc))) from exc
    if len(rules.name) > 100:
        raise RuleFileError(_("规则文件的 name 不能超过 100 个字符。"))
    existing = session.scalar(select(RuleFile).where(RuleFile.sha256 == rules.sha256))
    if existing is not None:
        return existing
    row = RuleFile(
        name=rules.name,
        sha256=rules.sha256,
        content=data,
        filename=(filename or "")[:200] or None,
        uploaded_by=user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action="rules.upload",
        object_type="rule_file",
        object_id=row.id,
        user_id=user_id,
        hall_id=hall_id,
        after={"name": row.name, "sha256": row.sha256, "filename": row.filename},
    )
    return row


def adopt(
    session: Session,
    rule_file_id: int | None,
    *,
    in_force: RuleSet,
    user_id: int | None,
    hall_id: int | None,
    reason: str,
) -> RuleAdoption:
    """Put a stored rule file in force (for every hall and process), audited with the
    rule file in force before. Refused for an unknown file or the one already in force."""
    row = session.get(RuleFile, rule_file_id) if rule_file_id else None
    if row is None:
        raise RuleFileError(_("没有这个规则文件。"), code="not_found")
    if row.sha256 == in_force.sha256:
        raise RuleFileError(_("该规则文件已在使用中，无需再次启用。"), code="conflict")
    adoption = RuleAdoption(rule_file_id=row.id, adopted_by=user_id, reason=reason or None)
    session.add(adoption)
    session.flush()
    audit.record(
        session,
        action="rules.adopt",
        object_type="rule_file",
        object_id=row.id,
        user_id=user_id,
        hall_id=hall_id,
        before={"name": in_force.name, "sha256": in_force.sha256},
        after={"name": row.name, "sha256": row.sha256},
        reason=reason or None,
    )
    return adoption


def adoptions(session: Session, limit: int = 20) -> list[tuple[RuleAdoption, RuleFile]]:
    """The latest adoptions, newest first."""
    rows = session.execute(
        select(RuleAdoption, RuleFile)
        .join(RuleFile, RuleFile.id == RuleAdoption.rule_file_id)
        .order_by(RuleAdoption.adopted_at.desc(), RuleAdoption.id.desc())
        .limit(limit)
    ).all()
    return [(a, f) for a, f in rows]


# --- what differs ---------------------------------------------------------------------


@dataclass(frozen=True)
class RuleChange:
    """One rule value that differs between the file in force and the candidate."""

    key: str
    before: str
    after: str


def _shown(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(round_half_up(value, 4).normalize()) if value.denominator != 1 else str(value)
    if isinstance(value, frozenset):
        return ", ".join(str(v) for v in sorted(value))
    return str(value)


def rule_changes(before: RuleSet, after: RuleSet) -> list[RuleChange]:
    """Every rule value that differs (levels one by one), in the file's order."""
    changes = []
    for f in fields(RuleSet):
        if f.name in ("name", "sha256"):
            continue
        old, new = getattr(before, f.name), getattr(after, f.name)
        if f.name == "level_values":
            old_map, new_map = dict(old), dict(new)
            for level in sorted(set(old_map) | set(new_map), reverse=True):
                if old_map.get(level) != new_map.get(level):
                    changes.append(
                        RuleChange(
                            f"levels.{level}",
                            _shown(old_map.get(level, "—")),
                            _shown(new_map.get(level, "—")),
                        )
                    )
        elif old != new:
            changes.append(RuleChange(f.name, _shown(old), _shown(new)))
    return changes


# --- who moves ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mover:
    """One person whose rank, award or total differs under the candidate rules."""

    staff_no: str
    name: str
    window: str
    rank_before: int | None
    rank_after: int | None
    total_before: Decimal | None
    total_after: Decimal | None
    award_before: str | None
    award_after: str | None
    parts: tuple[tuple[str, Decimal | None, Decimal | None], ...]
    """(part, before, after) of every score part that changed."""
    reasons_before: tuple[str, ...]
    reasons_after: tuple[str, ...]

    @property
    def direction(self) -> str:
        """``up``, ``down`` or ``same`` (rank)."""
        if self.rank_before is None or self.rank_after is None:
            return "same"
        if self.rank_after < self.rank_before:
            return "up"
        return "down" if self.rank_after > self.rank_before else "same"


def _rounded(value: Fraction | None) -> Decimal | None:
    return None if value is None else round_half_up(value)


def _mover(before: IndividualScore | None, after: IndividualScore | None) -> Mover | None:
    person = after or before
    assert person is not None
    parts = []
    for part in PARTS:
        old = _rounded(getattr(before, part)) if before is not None else None
        new = _rounded(getattr(after, part)) if after is not None else None
        if old != new:
            parts.append((part, old, new))
    rank = (before.rank if before else None, after.rank if after else None)
    award = (before.award if before else None, after.award if after else None)
    reasons = (
        tuple(before.ineligible_reasons) if before else (),
        tuple(after.ineligible_reasons) if after else (),
    )
    if not parts and rank[0] == rank[1] and award[0] == award[1] and reasons[0] == reasons[1]:
        return None
    return Mover(
        person.staff_no,
        person.name,
        person.window,
        rank[0],
        rank[1],
        _rounded(before.total) if before else None,
        _rounded(after.total) if after else None,
        award[0],
        award[1],
        tuple(parts),
        reasons[0],
        reasons[1],
    )


def current_period(today: dt.date) -> Period:
    """The bimonthly period that contains ``today``."""
    return Period.parse(f"{today.year}-B{(today.month - 1) // 2 + 1}")


def compare_ranking(
    session: Session,
    hall: Hall,
    period: Period,
    as_of: dt.datetime,
    in_force: RuleSet,
    candidate: RuleSet,
) -> tuple[ScoreResult, ScoreResult, list[Mover]]:
    """Score ``period`` as of ``as_of`` with both rule sets; who moves, by new rank."""
    before = score_hall_period(session, period, as_of, hall.code, in_force)
    after = score_hall_period(session, period, as_of, hall.code, candidate)
    old = {i.staff_no: i for i in before.individuals}
    new = {i.staff_no: i for i in after.individuals}
    movers = []
    for staff_no in [i.staff_no for i in after.individuals] + [s for s in old if s not in new]:
        mover = _mover(old.get(staff_no), new.get(staff_no))
        if mover is not None:
            movers.append(mover)
    return before, after, movers
