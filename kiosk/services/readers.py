"""The database sink of the listener: punches, device events and reader status.

The listener runs in its own process next to the web server; both share the database.
Each match becomes, in one transaction, a ``Punch`` (source ``device``, the host's time as
naive UTC) and a ``DeviceEvent`` the clock-in screen picks up. A page no staff member is
mapped to, and a finger the module did not find, become a ``DeviceEvent`` only, and count
in ``Device.unrecognised_count``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from devices.listener import DeviceSpec, Match, Status, pause_point
from kiosk.extensions import db
from kiosk.localtime import hall_zone, local_day_bounds
from kiosk.models import Device, DeviceTemplate, Hall, Punch
from kiosk.models_devices import DeviceEvent

log = logging.getLogger(__name__)

# The listener's own wait for a locked SQLite file, in ms (the web server waits 30 s): the
# press is in the journal, so rather give up soon, say "held" and try again than sit blocked.
SQLITE_BUSY_MS = 2000


def naive_utc(value: dt.datetime) -> dt.datetime:
    """An aware instant as the naive UTC the models store."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _short_busy_timeout(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def spec_of(device: Device) -> DeviceSpec:
    """How the listener reaches ``device``."""
    return DeviceSpec(device.name, device.port, device.baud, device.address, device.password)


class DeviceGone(Exception):
    """The device was removed from the database while the listener ran."""


class DatabaseSink:
    """Implements ``devices.listener.Sink`` on the application's database."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        # One writer at a time: the workers are threads of one process, and SQLite takes one
        # writer anyway; serialising here avoids needless busy waits.
        self.lock = threading.Lock()
        with app.app_context():
            engine = db.engine
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _short_busy_timeout)
                engine.dispose()  # connections opened before get it too, when reopened

    def _device(self, name: str) -> Device:
        device = db.session.scalar(select(Device).where(Device.name == name))
        if device is None:
            raise DeviceGone(name)
        return device

    def record_match(self, match: Match) -> None:
        """Store the punch (or the unmapped page) and its event, in one transaction."""
        at = naive_utc(match.at)
        with self.lock, self.app.app_context():
            if match.press_id and self._held(match.press_id):
                return  # stored before a crash: the journal had not marked it done
            try:
                device = self._device(match.device)
            except DeviceGone:
                log.error(
                    "device %s no longer exists; match on page %s dropped", match.device, match.page
                )
                return
            mapping = db.session.scalar(
                select(DeviceTemplate).where(
                    DeviceTemplate.device_id == device.id, DeviceTemplate.page == match.page
                )
            )
            if mapping is None:
                device.unrecognised_count += 1
                db.session.add(
                    DeviceEvent(
                        device_id=device.id,
                        at=at,
                        kind="unmapped",
                        page=match.page,
                        press_id=match.press_id or None,
                    )
                )
                name = device.name
                db.session.commit()
                log.info("%s: page %s matched but mapped to nobody", name, match.page)
                return
            punch = Punch(
                staff_id=mapping.staff_id, punched_at=at, source="device", device_id=device.id
            )
            db.session.add(punch)
            try:
                db.session.flush()
            except IntegrityError:
                # The same (staff, instant) is there already: a retry of a commit whose
                # outcome we did not see. Storing it again would be a double punch.
                db.session.rollback()
                log.warning("punch %s at %s already stored", mapping.staff_id, at)
                return
            db.session.add(
                DeviceEvent(
                    device_id=device.id,
                    at=at,
                    kind="punch",
                    page=match.page,
                    staff_id=mapping.staff_id,
                    punch_id=punch.id,
                    press_id=match.press_id or None,
                )
            )
            db.session.flush()
            # Read before the commit expires them: after it, nothing may touch the database.
            said = (device.name, match.page, mapping.staff_id)
            pause_point("before_commit")
            db.session.commit()
            log.info("%s: page %s -> punch of staff id %s", *said)

    def _held(self, press_id: str) -> bool:
        return (
            db.session.scalar(select(DeviceEvent.id).where(DeviceEvent.press_id == press_id))
            is not None
        )

    def record_no_match(self, device: str, at: dt.datetime) -> None:
        """A finger the module did not find."""
        with self.lock, self.app.app_context():
            try:
                row = self._device(device)
            except DeviceGone:
                return
            row.unrecognised_count += 1
            db.session.add(DeviceEvent(device_id=row.id, at=naive_utc(at), kind="no_match"))
            db.session.commit()
            log.info("%s: finger not found on the module", device)

    def report_status(self, device: str, status: Status) -> None:
        """Write the reader's state for the dashboard."""
        with self.lock, self.app.app_context():
            try:
                row = self._device(device)
            except DeviceGone:
                return
            row.state = status.state
            if status.last_seen is not None:
                row.last_seen = naive_utc(status.last_seen)
            row.last_error = status.last_error
            db.session.commit()


def punches_today(device: Device, now: dt.datetime | None = None) -> int:
    """Punches the reader took on the hall's current local date."""
    hall = db.session.get(Hall, device.hall_id)
    zone = hall_zone(hall.timezone if hall else "Asia/Shanghai")
    today = (now or dt.datetime.now(dt.UTC)).astimezone(zone).date()
    start, end = local_day_bounds(today, today, zone)
    count = db.session.scalar(
        select(func.count(Punch.id)).where(
            Punch.device_id == device.id, Punch.punched_at >= start, Punch.punched_at < end
        )
    )
    return int(count or 0)
