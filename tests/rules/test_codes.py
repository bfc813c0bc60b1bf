"""The fixed value sets: one StrEnum each, and the tables' CHECK constraints built from them."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint

from kiosk import models
from kiosk.interchange import KINDS
from kiosk.rules.codes import (
    AbsenceKind,
    Channel,
    EventKind,
    ImportKind,
    PunchSource,
    Role,
    Verdict,
    values,
)


@pytest.mark.parametrize(
    ("codes", "stored"),
    [
        (PunchSource, ("device", "import", "correction")),
        (Channel, ("counter", "qr", "other", "default")),
        (Verdict, ("upheld", "unfounded")),
        (AbsenceKind, ("leave", "out")),
        (EventKind, ("spot_check", "complaint", "commendation")),
        (Role, ("admin", "leader", "duty", "unit")),
        (ImportKind, ("hall", "roster", "punches", "ratings", "cases", "absences", "events")),
    ],
)
def test_values_are_the_stored_strings(codes, stored) -> None:
    assert values(codes) == stored
    assert all(type(v) is str for v in values(codes))
    assert all(member == value for member, value in zip(codes, stored, strict=True))


def test_models_and_import_kinds_derive_from_the_enums() -> None:
    assert values(PunchSource) == models.PUNCH_SOURCES
    assert values(Channel) == models.RATING_CHANNELS
    assert values(Verdict) == models.REVIEW_VERDICTS
    assert values(AbsenceKind) == models.ABSENCE_KINDS
    assert values(EventKind) == models.EVENT_KINDS
    assert values(Role) == models.USER_ROLES
    assert values(ImportKind) == KINDS


def test_check_constraints_unchanged() -> None:
    """The CHECK text is the one the migrations created (no migration needed)."""
    checks = {
        table.name: {str(c.sqltext) for c in table.constraints if isinstance(c, CheckConstraint)}
        for table in models.db.metadata.tables.values()
    }
    assert checks["punches"] >= {"source = 'device' OR source = 'import' OR source = 'correction'"}
    assert checks["absences"] >= {"kind = 'leave' OR kind = 'out'"}
    assert checks["events"] >= {
        "kind = 'spot_check' OR kind = 'complaint' OR kind = 'commendation'"
    }
