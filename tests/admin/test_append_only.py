"""The audit log and published results refuse UPDATE and DELETE in the database itself."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from kiosk.extensions import db
from kiosk.models import AuditEntry, Hall, PublishedPeriod
from kiosk.services import audit


def _one_entry(app: Flask) -> int:
    with app.app_context():
        entry = audit.record(
            db.session,
            action="test.write",
            object_type="thing",
            object_id=1,
            user_id=None,
            hall_id=None,
            after={"x": 1},
            reason="setup",
        )
        db.session.commit()
        return entry.id


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET reason = 'rewritten' WHERE id = :id",
        "DELETE FROM audit_log WHERE id = :id",
        "DELETE FROM audit_log",
    ],
)
def test_audit_rows_cannot_be_changed_with_sql(app: Flask, statement: str) -> None:
    entry_id = _one_entry(app)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(statement), {"id": entry_id})
        db.session.rollback()
        entry = db.session.get(AuditEntry, entry_id)
        assert entry is not None and entry.reason == "setup"


def test_audit_rows_cannot_be_changed_through_the_orm(app: Flask) -> None:
    entry_id = _one_entry(app)
    with app.app_context():
        entry = db.session.get(AuditEntry, entry_id)
        assert entry is not None
        entry.reason = "rewritten"
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEntry, entry_id))
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        assert db.session.get(AuditEntry, entry_id).reason == "setup"  # type: ignore[union-attr]


def test_published_results_cannot_be_changed(app: Flask) -> None:
    with app.app_context():
        hall = Hall(code="T", name="test hall", timezone="Asia/Shanghai", settings={})
        db.session.add(hall)
        db.session.flush()
        row = PublishedPeriod(
            hall_id=hall.id,
            period="2026-B5",
            revision=1,
            as_of=dt.datetime(2026, 11, 5),
            rules_sha256="r" * 64,
            inputs_sha256="i" * 64,
            result_json="{}",
            sha256="s" * 64,
        )
        db.session.add(row)
        db.session.commit()
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("UPDATE published_periods SET result_json = '{\"x\": 1}'"))
        db.session.rollback()
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text("DELETE FROM published_periods"))
        db.session.rollback()
        assert db.session.scalar(db.select(PublishedPeriod.result_json)) == "{}"
