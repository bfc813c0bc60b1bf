"""The listener with the database sink: punches, device events and status in the DB."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import select

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, DISCONNECTED, DeviceSpec, Listener, Match
from kiosk.extensions import db
from kiosk.models import Device, DeviceTemplate, Hall, Punch, Staff
from kiosk.models_devices import DeviceEvent
from kiosk.services.readers import DatabaseSink, punches_today, spec_of
from tests.devices.helpers import FAST, wait_for


def make_device(app: Flask, port: str, maps: dict[int, str]) -> tuple[DeviceSpec, int]:
    with app.app_context():
        hall = db.session.scalar(select(Hall))
        device = Device(hall_id=hall.id, name="door", port=port)
        db.session.add(device)
        db.session.flush()
        for page, staff_no in maps.items():
            staff = db.session.scalar(select(Staff).where(Staff.staff_no == staff_no))
            db.session.add(DeviceTemplate(device_id=device.id, page=page, staff_id=staff.id))
        db.session.commit()
        return spec_of(device), device.id


def count(app: Flask, model: type) -> int:
    with app.app_context():
        n = len(db.session.scalars(select(model)).all())
        db.session.remove()
        return n


def test_punches_events_and_status_in_the_database(hall: Flask, emu: EmulatorProcess) -> None:
    spec, device_id = make_device(hall, str(emu.link), {0: "S001", 1: "S002"})
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with Listener([spec], DatabaseSink(hall), FAST) as listener:
        worker = listener.workers[0]
        wait_for(lambda: worker.state == CONNECTED)
        for target, events in (("0", 1), ("1", 2), ("3", 3), ("unknown", 4), ("0", 5)):
            emu.ok(f"press {target}")
            wait_for(lambda events=events: count(hall, DeviceEvent) == events, what=target)
            emu.ok("release")
            wait_for(lambda: not worker.finger_down)
        emu.ok("unplug")
        wait_for(lambda: worker.state == DISCONNECTED)
        wait_for(lambda: _device(hall).state == DISCONNECTED, what="state in DB")
        assert _device(hall).last_error  # why it is disconnected, for the dashboard
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with hall.app_context():
        punches = db.session.scalars(select(Punch).order_by(Punch.id)).all()
        assert [(p.staff.staff_no, p.source, p.device_id) for p in punches] == [
            ("S001", "device", device_id),
            ("S002", "device", device_id),
            ("S001", "device", device_id),
        ]
        assert all(before <= p.punched_at <= after for p in punches)
        kinds = [
            (e.kind, e.page)
            for e in db.session.scalars(select(DeviceEvent).order_by(DeviceEvent.id))
        ]
        assert kinds == [
            ("punch", 0),
            ("punch", 1),
            ("unmapped", 3),
            ("no_match", None),
            ("punch", 0),
        ]
        row = db.session.get(Device, device_id)
        assert row.unrecognised_count == 2
        assert row.last_seen is not None and before <= row.last_seen <= after
        assert row.last_error == "listener stopped"
        assert punches_today(row) == 3


def _device(app: Flask) -> Device:
    with app.app_context():
        row = db.session.scalar(select(Device).where(Device.name == "door"))
        db.session.expunge(row)  # loaded, not expired: readable after the session is gone
        db.session.remove()
        return row


def test_a_retried_store_does_not_double(hall: Flask, emu: EmulatorProcess) -> None:
    make_device(hall, str(emu.link), {2: "S003"})
    sink = DatabaseSink(hall)
    match = Match("door", 2, 150, dt.datetime.now(dt.UTC))
    sink.record_match(match)
    sink.record_match(match)  # as if the first commit's outcome had been lost
    assert count(hall, Punch) == 1
    assert count(hall, DeviceEvent) == 1
