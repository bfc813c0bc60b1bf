"""Device rows added, edited and removed while the listener runs, and `devices remove`."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, DeviceSpec, Listener
from kiosk.extensions import db
from kiosk.models import AuditEntry, Device, DeviceTemplate, Punch
from kiosk.services.readers import DatabaseSink, spec_of
from tests.devices.helpers import FAST, wait_for


def cli(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(args=["devices", *args])
    return result.exit_code, result.output


def count(app: Flask, model: type, *where: object) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return int(n or 0)


def rows(app: Flask) -> list[DeviceSpec]:
    with app.app_context():
        specs = [
            spec_of(d)
            for d in db.session.scalars(
                select(Device).where(Device.retired_at.is_(None)).order_by(Device.name)
            )
        ]
        db.session.remove()
        return specs


def names(listener: Listener) -> list[str]:
    return sorted(w.spec.name for w in listener.workers)


def punch_on(emu: EmulatorProcess, app: Flask, page: int, expected: int) -> None:
    emu.ok(f"press {page}")
    wait_for(lambda: count(app, Punch) == expected, what=f"punch {expected}")
    emu.ok("release")


def test_listener_follows_added_edited_and_removed_rows(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess, tmp_path: Path
) -> None:
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert cli(runner, "map", "door", "--page", "3", "--staff", "S005")[0] == 0
    with EmulatorProcess(tmp_path / "fp1", templates=5) as second:
        listener = Listener(
            rows(hall), DatabaseSink(hall), FAST, reload=lambda: rows(hall), reload_interval=0.1
        )
        with listener:
            wait_for(lambda: listener.workers[0].state == CONNECTED, what="door connected")
            punch_on(emu, hall, 3, 1)
            # Added.
            assert cli(runner, "add", "side", "--port", str(second.link))[0] == 0
            assert cli(runner, "map", "side", "--page", "1", "--staff", "S001")[0] == 0
            wait_for(lambda: names(listener) == ["door", "side"], what="side picked up")
            wait_for(lambda: all(w.state == CONNECTED for w in listener.workers))
            punch_on(second, hall, 1, 2)
            # Edited: "door" now on the second emulator's link.
            with hall.app_context():
                db.session.execute(
                    update(Device).where(Device.name == "door").values(port=str(second.link))
                )
                db.session.commit()
                db.session.remove()
            wait_for(
                lambda: any(
                    w.spec.port == str(second.link) and w.spec.name == "door"
                    for w in listener.workers
                ),
                what="door restarted on the new port",
            )
            # Removed ("side" has a punch: retired).
            code, out = cli(runner, "remove", "side", "--keep-punches")
            assert code == 0, out
            wait_for(lambda: names(listener) == ["door"], what="side dropped")
            gen_img = emu.status()["gen_img"]
            wait_for(lambda: second.status()["gen_img"] > 5, what="door polls the second link")
            assert emu.status()["gen_img"] <= gen_img + 1  # the old link is not polled
            punch_on(second, hall, 3, 3)  # door's mapping, on its new line


def test_remove_is_refused_while_punches_reference_the_reader(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert cli(runner, "map", "door", "--page", "3", "--staff", "S005")[0] == 0
    listener = Listener(rows(hall), DatabaseSink(hall), FAST)
    with listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED)
        punch_on(emu, hall, 3, 1)
    audits = count(hall, AuditEntry)
    code, out = cli(runner, "remove", "door")
    assert code == 1 and "1 punches" in out and "--keep-punches" in out
    assert count(hall, Device) == 1 and count(hall, DeviceTemplate) == 1
    assert count(hall, AuditEntry) == audits
    code, out = cli(runner, "remove", "door", "--keep-punches")
    assert code == 0, out
    # The punch stays, still pointing at the (retired) reader; the name is free again.
    with hall.app_context():
        device = db.session.scalar(select(Device))
        punch = db.session.scalar(select(Punch))
        assert device.retired_at is not None and punch.device_id == device.id
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "device.remove"))
        assert entry is not None and entry.before["punches"] == 1
        db.session.remove()
    assert count(hall, DeviceTemplate) == 0
    code, out = cli(runner, "status", "--format", "json")
    assert json.loads(out) == []
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert cli(runner, "remove", "door")[0] == 0  # no punches: removed outright
    assert count(hall, Device) == 1  # only the retired one
    code, out = cli(runner, "remove", "nosuch")
    assert code == 1 and "unknown device" in out
