"""kiosk.cli.common: the commands' shared refusal and "create a row, audit, commit" helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from kiosk.cli.common import add_audited, audited_commit, fail, hall_or_exit
from kiosk.extensions import db
from kiosk.models import AuditEntry, Device, Hall, Terminal


def test_fail_says_why_on_stderr_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        fail("no such thing")
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "error: no such thing\n"


def test_hall_or_exit_refuses_an_unknown_hall(
    app: Flask, example_hall: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with app.app_context():
        hall = hall_or_exit(None)  # the only hall
        assert isinstance(hall, Hall)
        with pytest.raises(SystemExit):
            hall_or_exit("NOPE")
    assert "NOPE" in capsys.readouterr().err


def test_add_audited_stores_the_row_and_its_entry_in_one_commit(
    app: Flask, example_hall: Path
) -> None:
    with app.app_context():
        hall = hall_or_exit(None)
        device = add_audited(
            Device(hall_id=hall.id, name="side", port="/dev/null"),
            action="device.add",
            hall_id=hall.id,
            after={"name": "side"},
            reason="test",
        )
        assert device.id is not None
        db.session.rollback()  # nothing left uncommitted: the row and its entry stay
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry is not None
        assert (entry.action, entry.object_type, entry.object_id) == (
            "device.add",
            "device",
            str(device.id),
        )
        assert entry.user_id is None and entry.hall_id == hall.id and entry.reason == "test"
        assert db.session.get(Device, device.id) is not None

        device.port = "/dev/ttyUSB9"
        audited_commit(
            action="device.edit", object_id=device.id, hall_id=hall.id, before={"port": "x"}
        )
        db.session.rollback()
        assert db.session.get(Device, device.id).port == "/dev/ttyUSB9"  # type: ignore[union-attr]


def test_the_terminal_and_device_commands_audit_through_it(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    def actions() -> list[tuple[str, str]]:
        with app.app_context():
            rows = db.session.execute(
                select(AuditEntry.action, AuditEntry.object_type).order_by(AuditEntry.id)
            ).all()
            db.session.remove()
            return [(a, t) for a, t in rows]

    before = len(actions())
    with app.app_context():
        window = db.session.scalars(select(Hall)).one().windows[0].code
    assert runner.invoke(args=["terminals", "add", "pad", "--window", window]).exit_code == 0
    assert runner.invoke(args=["terminals", "revoke", "pad"]).exit_code == 0
    assert runner.invoke(args=["devices", "add", "door", "--port", "/dev/null"]).exit_code == 0
    assert actions()[before:] == [
        ("terminal.add", "terminal"),
        ("terminal.revoke", "terminal"),
        ("device.add", "device"),
    ]
    refused = runner.invoke(args=["terminals", "add", "pad", "--window", window])
    assert refused.exit_code == 1 and "already has a terminal" in refused.output
    with app.app_context():
        assert db.session.scalar(select(Terminal).where(Terminal.name == "pad")) is not None
