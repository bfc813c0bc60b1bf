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
from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Select,
    bindparam,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from devices.enrol import EnrolJob, Outcome, Stage
from devices.listener import DeviceSpec, Match, Status, pause_point
from devices.sharing import Kind, Result, TemplateJob, TemplateOutcome
from kiosk.extensions import db
from kiosk.localtime import hall_zone, local_day_bounds
from kiosk.models import (
    Assignment,
    Device,
    DeviceJob,
    DeviceTemplate,
    Hall,
    Punch,
    Staff,
    utcnow,
)
from kiosk.models_devices import SEEN_GAP_SECONDS, DeviceEvent, DeviceSeen
from kiosk.services import audit
from kiosk.services.driversql import Prepared

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


class ListenerRows:
    """The reads of the listener's reload tick, at the driver level (see
    :meth:`~kiosk.services.driversql.Prepared.read`): how to reach each reader not retired,
    and whether some staff member may have left with templates still on a reader."""

    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        for statement in (_ACTIVE_SPECS, _MAYBE_LEAVERS):
            statement.on(self.engine)  # compiled now, not on the first tick

    def specs(self) -> list[DeviceSpec]:
        """How the listener reaches each reader not retired, by name (as :func:`spec_of`)."""
        return [
            DeviceSpec(r["name"], r["port"], r["baud"], r["address"], r["password"])
            for r in _ACTIVE_SPECS.read(self.engine)
        ]

    def maybe_leavers(self, now: dt.datetime | None = None) -> bool:
        """Whether :func:`queue_deletions` may find a leaver now (see :func:`_maybe_leavers`)."""
        today = _latest_today((now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC))
        return bool(_MAYBE_LEAVERS.read(self.engine, {"today": today}))


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
            engine = self.engine = db.engine
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
        self.report_statuses({device: status})

    def report_statuses(self, statuses: Mapping[str, Status]) -> None:
        """Write several readers' states for the dashboard, in one transaction (the
        listener's readers report "still alive" together; a device removed is skipped).

        A few statements, built once, for all the readers, on a connection of its own and
        no session: this runs every few seconds for as long as the listener runs, and
        loading and flushing ORM objects one reader at a time cost several times the CPU."""
        with self.lock, self.engine.begin() as conn:
            ids: dict[str, int] = {
                name: device_id
                for name, device_id in conn.execute(_DEVICE_IDS, {"names": list(statuses)})
            }
            rows: list[dict[str, object]] = []
            seen: dict[int, dt.datetime] = {}
            for name, status in sorted(statuses.items()):
                if name not in ids:
                    continue
                at = naive_utc(status.last_seen) if status.last_seen is not None else None
                rows.append(
                    {
                        "b_id": ids[name],
                        "b_state": status.state,
                        "b_error": status.last_error,
                        "b_seen": at,
                    }
                )
                if at is not None and status.state == "connected":
                    seen[ids[name]] = at
            if rows:
                conn.execute(_STATE_UPDATE, rows)
            note_seen_many(conn, seen)


# The statements of ``report_statuses`` and ``note_seen_many``, built once (see there).
_devices = Device.__table__.c
_DEVICE_IDS = select(_devices.name, _devices.id).where(
    _devices.name.in_(bindparam("names", expanding=True))
)
_STATE_UPDATE = (
    update(Device.__table__)
    .where(_devices.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        last_error=bindparam("b_error"),
        # A report without an instant keeps the one the row has.
        last_seen=func.coalesce(bindparam("b_seen", type_=DateTime), _devices.last_seen),
    )
)
_spans = DeviceSeen.__table__.c
_other = DeviceSeen.__table__.alias("other")
_LATEST_SPANS = select(_spans.device_id, _spans.id, _spans.last_seen).where(
    _spans.device_id.in_(bindparam("ids", expanding=True)),
    _spans.last_seen
    == select(func.max(_other.c.last_seen))
    .where(_other.c.device_id == _spans.device_id)
    .scalar_subquery(),
)
_EXTEND_SPAN = (
    update(DeviceSeen.__table__)
    .where(_spans.id == bindparam("b_id"))
    .values(last_seen=bindparam("b_at"))
)
_NEW_SPAN = insert(DeviceSeen.__table__)

SeenTarget = Session | scoped_session[Any] | Connection


def note_seen(session: SeenTarget, device_id: int, at: dt.datetime) -> None:
    """Record that the reader answered at ``at`` (naive UTC) in its seen spans (SPEC 12).

    Extends the latest span when ``at`` is at most :data:`SEEN_GAP_SECONDS` after its end,
    else starts a new span; a report older than the latest span's end changes nothing.
    """
    note_seen_many(session, {device_id: at})


def note_seen_many(session: SeenTarget, seen: Mapping[int, dt.datetime]) -> None:
    """:func:`note_seen` for several readers (device id: instant), in two or three
    statements whatever their number."""
    if not seen:
        return
    found: dict[int, tuple[int, dt.datetime]] = {
        device_id: (span_id, last_seen)
        for device_id, span_id, last_seen in session.execute(_LATEST_SPANS, {"ids": list(seen)})
    }
    extend: list[dict[str, object]] = []
    start: list[dict[str, object]] = []
    for device_id, at in sorted(seen.items()):
        span = found.get(device_id)
        if span is not None and at <= span[1]:
            continue
        if span is not None and (at - span[1]).total_seconds() <= SEEN_GAP_SECONDS:
            extend.append({"b_id": span[0], "b_at": at})
        else:
            start.append({"device_id": device_id, "first_seen": at, "last_seen": at})
    if extend:
        session.execute(_EXTEND_SPAN, extend)
    if start:
        session.execute(_NEW_SPAN, start)


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


# Stages that end a job, and the state the job then has.
FINAL_STATES = {Stage.DONE: "done", Stage.CANCELLED: "cancelled"}
OPEN_STATES = ("pending", "running")
ENROLL = "enroll"
TEMPLATE_KINDS = (Kind.COPY.value, Kind.DELETE.value)

# The listener's periodic asks, nearly always answered "nothing" or "the same": run at the
# driver level on a pooled connection, with no session (Prepared.read). Measured on SQLite:
# 12 µs of CPU against 53 µs for the same Core select in a loop; in the idle listener,
# whose code is cold by the next ask, the jobs thread's ask went from 0.5 to 0.2 ms. ORs,
# not IN lists: the driver-level form takes plain binds only.
_ENROL_OPEN = Prepared(
    select(DeviceJob.id)
    .where(DeviceJob.kind == ENROLL, or_(*(DeviceJob.state == state for state in OPEN_STATES)))
    .limit(1)
)
_TEMPLATES_PENDING = Prepared(
    select(DeviceJob.id)
    .where(or_(*(DeviceJob.kind == kind for kind in TEMPLATE_KINDS)), DeviceJob.state == "pending")
    .limit(1)
)
_ACTIVE_SPECS = Prepared(
    select(Device.name, Device.port, Device.baud, Device.address, Device.password)
    .where(Device.retired_at.is_(None))
    .order_by(Device.name)
)


def _leavers_query() -> Select[tuple[int]]:
    """One staff member, of any hall, who may be a leaver (see :func:`leavers`) on the
    date ``today`` (a bind): with the latest local date of any hall, it never misses one
    that :func:`leavers` finds on a hall's own date (a later "today" ends more assignments,
    never fewer)."""
    today = bindparam("today", type_=Date)
    live = exists().where(
        Assignment.staff_id == Staff.id,
        or_(Assignment.end_date.is_(None), Assignment.end_date >= today),
    )
    had = exists().where(Assignment.staff_id == Staff.id)
    mapped = exists().where(DeviceTemplate.staff_id == Staff.id)
    return select(Staff.id).where(had, ~live, mapped).limit(1)


_MAYBE_LEAVERS = Prepared(_leavers_query())


class DatabaseJobs:
    """Implements ``devices.enrol.Jobs`` on the ``device_jobs`` table (the listener side).

    Each call is its own short transaction; it commits (the listener has no request).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.lock = threading.Lock()
        self._first = True
        self._first_templates = True
        with app.app_context():
            self.engine = db.engine
        for statement in (_ENROL_OPEN, _TEMPLATES_PENDING):
            statement.on(self.engine)  # compiled now, not on the first ask

    def claim(self, devices: list[str]) -> list[EnrolJob]:
        """The oldest pending job of each reader, marked running; stale jobs ended first."""
        if not _ENROL_OPEN.read(self.engine):
            # The usual answer, once a second: no job open at all, none left running either.
            self._first = False
            return []
        now = utcnow()
        with self.lock, self.app.app_context():
            rows = db.session.execute(
                select(DeviceJob, Device.name)
                .join(Device, Device.id == DeviceJob.device_id)
                .where(
                    Device.name.in_(devices),
                    DeviceJob.state.in_(OPEN_STATES),
                    DeviceJob.kind == ENROLL,
                )
                .order_by(DeviceJob.id)
            ).all()
            if not rows:
                # The usual answer, once a second: no write, no commit (idle CPU).
                self._first = False
                db.session.remove()
                return []
            claimed: list[EnrolJob] = []
            busy: set[str] = set()
            for job, name in rows:
                if job.state == "running":
                    if self._first:
                        # Left running by a listener that died: nobody runs it any more.
                        self._end(job, "failed", Stage.ERROR, None, "the listener restarted")
                    else:
                        busy.add(name)
                    continue
                if (now - job.created_at).total_seconds() > job.timeout:
                    self._end(job, "failed", Stage.TIMEOUT, None, "no listener took the job")
                    continue
                if name in busy:
                    continue
                # Claimed only if still pending (the command may have cancelled it).
                taken = db.session.execute(
                    update(DeviceJob)
                    .where(DeviceJob.id == job.id, DeviceJob.state == "pending")
                    .values(
                        state="running", stage=Stage.PRESS.value, started_at=now, updated_at=now
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount  # type: ignore[attr-defined]
                if not taken:
                    continue
                busy.add(name)
                pages = db.session.scalars(
                    select(DeviceTemplate.page).where(DeviceTemplate.device_id == job.device_id)
                )
                staff = db.session.get(Staff, job.staff_id)
                claimed.append(
                    EnrolJob(
                        job.id,
                        name,
                        staff.staff_no if staff else str(job.staff_id),
                        job.timeout,
                        frozenset(pages),
                    )
                )
            db.session.commit()
            self._first = False
            db.session.remove()
            return claimed

    def progress(self, job_id: int, stage: Stage) -> None:
        """Record the stage of a running job."""
        with self.lock, self.app.app_context():
            db.session.execute(
                update(DeviceJob)
                .where(DeviceJob.id == job_id, DeviceJob.state == "running")
                .values(stage=stage.value, updated_at=utcnow())
            )
            db.session.commit()
            db.session.remove()

    def cancelled(self, job_ids: list[int]) -> set[int]:
        """Which of these jobs were cancelled."""
        with self.lock, self.app.app_context():
            found = set(
                db.session.scalars(
                    select(DeviceJob.id).where(
                        DeviceJob.id.in_(job_ids), DeviceJob.state == "cancelled"
                    )
                )
            )
            db.session.remove()
            return found

    def finish(self, job_id: int, outcome: Outcome) -> None:
        """End the job; for ``done`` map the stored page to the staff member, audited."""
        with self.lock, self.app.app_context():
            job = db.session.get(DeviceJob, job_id)
            if job is None:
                return
            state = FINAL_STATES.get(outcome.stage, "failed")
            stage = outcome.stage
            if job.state == "cancelled" and state != "done":
                # Cancelled meanwhile: keep what the command said (cancelled, or timeout).
                state, stage = "cancelled", Stage(job.stage or Stage.CANCELLED)
            if state == "done":
                assert outcome.page is not None
                device = db.session.get(Device, job.device_id)
                staff = db.session.get(Staff, job.staff_id)
                assert device is not None and staff is not None
                db.session.add(
                    DeviceTemplate(device_id=device.id, page=outcome.page, staff_id=staff.id)
                )
                audit.record(
                    db.session,
                    action="device.enroll",
                    object_type="device",
                    object_id=device.id,
                    user_id=None,
                    hall_id=device.hall_id,
                    after={"page": outcome.page, "staff_no": staff.staff_no, "job": job.id},
                )
                copies = queue_copies(device, outcome.page, staff)
                if copies:
                    log.info(
                        "%s: page %s of %s to be copied to %s",
                        device.name,
                        outcome.page,
                        staff.staff_no,
                        ", ".join(str(c.device_id) for c in copies),
                    )
            self._end(job, state, stage, outcome.page, outcome.detail or job.detail or "")
            db.session.commit()
            db.session.remove()

    # --- template sharing (``devices.sharing.TemplateJobs``) ------------------------------

    def claim_templates(self, devices: list[str]) -> list[TemplateJob]:
        """The oldest pending copy or deletion of each reader in ``devices`` whose readers
        (target, and source for a copy) are all in ``devices``, marked running."""
        if not self._first_templates and not _TEMPLATES_PENDING.read(self.engine):
            return []  # the usual answer: nothing to copy or delete
        now = utcnow()
        with self.lock, self.app.app_context():
            if self._first_templates:
                # Left running by a listener that died: not done, so to be done again. (A
                # read first: no write at start unless there is one, the readers' first
                # status reports are writing then.)
                left = db.session.scalars(
                    select(DeviceJob.id).where(
                        DeviceJob.kind.in_(TEMPLATE_KINDS), DeviceJob.state == "running"
                    )
                ).all()
                if left:
                    db.session.execute(
                        update(DeviceJob)
                        .where(DeviceJob.id.in_(left), DeviceJob.state == "running")
                        .values(state="pending", started_at=None, detail="the listener restarted")
                        .execution_options(synchronize_session=False)
                    )
                    db.session.commit()
                self._first_templates = False
            ids: dict[int, str] = {
                device_id: name
                for device_id, name in db.session.execute(
                    select(Device.id, Device.name).where(
                        Device.name.in_(devices), Device.retired_at.is_(None)
                    )
                )
            }
            rows = db.session.scalars(
                select(DeviceJob)
                .where(
                    DeviceJob.kind.in_(TEMPLATE_KINDS),
                    DeviceJob.state == "pending",
                    DeviceJob.device_id.in_(list(ids)),
                )
                .order_by(DeviceJob.id)
            ).all()
            if not rows:
                db.session.remove()  # the usual answer: no write, no commit
                return []
            claimed: list[TemplateJob] = []
            for job in rows:
                target = ids[job.device_id]
                if any(c.device == target for c in claimed):
                    continue
                template = self._template_job(job, target, ids)
                if template is None:
                    continue
                job.state, job.started_at, job.updated_at = "running", now, now
                claimed.append(template)
            db.session.commit()
            db.session.remove()
            return claimed

    def _template_job(self, job: DeviceJob, target: str, ids: dict[int, str]) -> TemplateJob | None:
        staff = db.session.get(Staff, job.staff_id)
        staff_no = staff.staff_no if staff else str(job.staff_id)
        if job.kind == Kind.DELETE.value:
            return TemplateJob(job.id, Kind.DELETE, target, staff_no, page=job.page)
        source = ids.get(job.source_device_id or -1)
        if source is None:
            return None  # the reader that holds it is away: wait for it
        still = db.session.scalar(
            select(DeviceTemplate.id).where(
                DeviceTemplate.device_id == job.source_device_id,
                DeviceTemplate.page == job.source_page,
                DeviceTemplate.staff_id == job.staff_id,
            )
        )
        if still is None:
            self._end(job, "failed", Stage.ERROR, None, "no longer mapped on the source reader")
            return None
        taken = db.session.scalars(
            select(DeviceTemplate.page).where(DeviceTemplate.device_id == job.device_id)
        )
        return TemplateJob(
            job.id,
            Kind.COPY,
            target,
            staff_no,
            source=source,
            source_page=job.source_page,
            taken=frozenset(taken),
        )

    def finish_template(self, job_id: int, outcome: TemplateOutcome) -> None:
        """Record a copy (map the page, audited), a deletion (unmap it, audited), a failure,
        or put the job back to wait (``retry``)."""
        with self.lock, self.app.app_context():
            job = db.session.get(DeviceJob, job_id)
            if job is None:
                return
            if outcome.result == Result.RETRY:
                if job.state == "running":
                    job.state, job.started_at = "pending", None
                job.detail = outcome.detail or None
                job.updated_at = utcnow()
            elif outcome.result == Result.FAILED:
                self._end(job, "failed", Stage.ERROR, None, outcome.detail)
            elif job.kind == Kind.COPY.value:
                self._copied(job, outcome)
            else:
                self._deleted(job)
            db.session.commit()
            db.session.remove()

    def _copied(self, job: DeviceJob, outcome: TemplateOutcome) -> None:
        assert outcome.page is not None
        device = db.session.get(Device, job.device_id)
        staff = db.session.get(Staff, job.staff_id)
        assert device is not None and staff is not None
        there = db.session.scalar(
            select(DeviceTemplate).where(
                DeviceTemplate.device_id == device.id, DeviceTemplate.page == outcome.page
            )
        )
        if there is not None and there.staff_id != staff.id:
            other = db.session.get(Staff, there.staff_id)
            self._end(
                job,
                "failed",
                Stage.DUPLICATE,
                outcome.page,
                f"this finger is on page {outcome.page} already, mapped to "
                f"{other.staff_no if other else there.staff_id}",
            )
            return
        if there is None:
            db.session.add(
                DeviceTemplate(device_id=device.id, page=outcome.page, staff_id=staff.id)
            )
        source = db.session.get(Device, job.source_device_id) if job.source_device_id else None
        audit.record(
            db.session,
            action="device.template_copy",
            object_type="device",
            object_id=device.id,
            user_id=None,
            hall_id=device.hall_id,
            after={
                "page": outcome.page,
                "staff_no": staff.staff_no,
                "from": source.name if source else None,
                "from_page": job.source_page,
                "was_there": outcome.existed,
                "job": job.id,
            },
        )
        detail = "the reader had this finger already" if outcome.existed else ""
        self._end(job, "done", Stage.DONE, outcome.page, detail)

    def _deleted(self, job: DeviceJob) -> None:
        device = db.session.get(Device, job.device_id)
        staff = db.session.get(Staff, job.staff_id)
        assert device is not None and staff is not None
        db.session.execute(
            delete(DeviceTemplate).where(
                DeviceTemplate.device_id == device.id,
                DeviceTemplate.page == job.page,
                DeviceTemplate.staff_id == staff.id,
            )
        )
        audit.record(
            db.session,
            action="device.template_delete",
            object_type="device",
            object_id=device.id,
            user_id=None,
            hall_id=device.hall_id,
            before={"page": job.page, "staff_no": staff.staff_no},
            after={"job": job.id},
            reason="last assignment ended",
        )
        self._end(job, "done", Stage.DONE, job.page, "")

    @staticmethod
    def _end(job: DeviceJob, state: str, stage: Stage, page: int | None, detail: str) -> None:
        now = utcnow()
        job.state = state
        job.stage = stage.value
        job.page = page
        job.detail = detail or None
        job.updated_at = now
        job.finished_at = now


def listener_alive(device: Device, stale_seconds: float, now: dt.datetime | None = None) -> bool:
    """Whether a running listener polls ``device``: its row was reported connected within
    ``stale_seconds`` (the listener's heartbeat, every ``DEVICE_STATUS_INTERVAL``)."""
    if device.state != "connected" or device.last_seen is None:
        return False
    now = now or utcnow()
    return (now - device.last_seen).total_seconds() <= stale_seconds


def open_job(device: Device) -> DeviceJob | None:
    """The pending or running enrol job of ``device``, if any."""
    return db.session.scalar(
        select(DeviceJob)
        .where(
            DeviceJob.device_id == device.id,
            DeviceJob.state.in_(OPEN_STATES),
            DeviceJob.kind == ENROLL,
        )
        .order_by(DeviceJob.id)
    )


def queue_copies(source: Device, page: int, staff: Staff) -> list[DeviceJob]:
    """Add a copy job of ``source``'s ``page`` to every other reader of its hall (none for
    a reader with the same copy open already). The caller commits."""
    targets = db.session.scalars(
        select(Device)
        .where(
            Device.hall_id == source.hall_id,
            Device.id != source.id,
            Device.retired_at.is_(None),
        )
        .order_by(Device.name)
    ).all()
    jobs: list[DeviceJob] = []
    for target in targets:
        already = db.session.scalar(
            select(DeviceJob.id).where(
                DeviceJob.kind == Kind.COPY.value,
                DeviceJob.device_id == target.id,
                DeviceJob.source_device_id == source.id,
                DeviceJob.source_page == page,
                DeviceJob.state.in_(OPEN_STATES),
            )
        )
        if already is not None:
            continue
        job = DeviceJob(
            device_id=target.id,
            staff_id=staff.id,
            kind=Kind.COPY.value,
            source_device_id=source.id,
            source_page=page,
            timeout=0.0,  # never times out: an away reader gets it when it is back
        )
        db.session.add(job)
        jobs.append(job)
    db.session.flush()
    return jobs


def leavers(hall: Hall, today: dt.date) -> list[Staff]:
    """Staff of ``hall`` with a template mapped on some reader whose last assignment has
    ended before ``today`` (they had one; none is open or runs on or after today)."""
    live = exists().where(
        Assignment.staff_id == Staff.id,
        or_(Assignment.end_date.is_(None), Assignment.end_date >= today),
    )
    had = exists().where(Assignment.staff_id == Staff.id)
    mapped = exists().where(DeviceTemplate.staff_id == Staff.id)
    return list(
        db.session.scalars(
            select(Staff)
            .where(Staff.hall_id == hall.id, had, ~live, mapped)
            .order_by(Staff.staff_no)
        )
    )


def _latest_today(now: dt.datetime) -> dt.date:
    # The latest local date any hall can have at ``now`` (UTC): zones go up to UTC+14.
    return (now + dt.timedelta(hours=14)).date()


def _maybe_leavers(now: dt.datetime) -> bool:
    """Whether some hall may have a leaver: one query over every hall."""
    found = db.session.execute(_MAYBE_LEAVERS.statement, {"today": _latest_today(now)}).first()
    return found is not None


def queue_deletions(
    now: dt.datetime | None = None, retry_failed: bool = False, user_id: int | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Queue a DeleteChar job for every template of every leaver (see :func:`leavers`) on
    every reader, and cancel their copies still open; audited per staff member. Idempotent:
    a page with a deletion open (or one failed already, unless ``retry_failed``) gets none.
    Returns, per staff number, the (reader, page) pairs queued now. The caller commits."""
    now_aware = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    queued: dict[str, list[tuple[str, int]]] = {}
    if not _maybe_leavers(now_aware):
        return queued  # the usual answer: nobody has left
    for hall in db.session.scalars(select(Hall).order_by(Hall.id)):
        today = now_aware.astimezone(hall_zone(hall.timezone)).date()
        for staff in leavers(hall, today):
            pages = _queue_staff_deletions(staff, retry_failed)
            cancelled = _cancel_copies(staff)
            if not pages:
                continue
            queued[staff.staff_no] = pages
            ended = db.session.scalar(
                select(func.max(Assignment.end_date)).where(Assignment.staff_id == staff.id)
            )
            audit.record(
                db.session,
                action="device.prune",
                object_type="staff",
                object_id=staff.id,
                user_id=user_id,
                hall_id=hall.id,
                before={"pages": ", ".join(f"{d} {p}" for d, p in pages)},
                after={"queued": len(pages), "copies_cancelled": cancelled},
                reason=f"last assignment ended {ended.isoformat() if ended else '-'}",
            )
    db.session.flush()
    return queued


def _queue_staff_deletions(staff: Staff, retry_failed: bool) -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(DeviceTemplate.page, Device)
        .join(Device, Device.id == DeviceTemplate.device_id)
        .where(DeviceTemplate.staff_id == staff.id, Device.retired_at.is_(None))
        .order_by(Device.name, DeviceTemplate.page)
    ).all()
    states = ["pending", "running"] if retry_failed else ["pending", "running", "failed"]
    pages: list[tuple[str, int]] = []
    for page, device in rows:
        busy = db.session.scalar(
            select(DeviceJob.id).where(
                DeviceJob.kind == Kind.DELETE.value,
                DeviceJob.device_id == device.id,
                DeviceJob.page == page,
                DeviceJob.staff_id == staff.id,
                DeviceJob.state.in_(states),
            )
        )
        if busy is not None:
            continue
        db.session.add(
            DeviceJob(
                device_id=device.id,
                staff_id=staff.id,
                kind=Kind.DELETE.value,
                page=page,
                timeout=0.0,
            )
        )
        pages.append((device.name, page))
    return pages


def _cancel_copies(staff: Staff) -> int:
    now = utcnow()
    return int(
        db.session.execute(
            update(DeviceJob)
            .where(
                DeviceJob.kind == Kind.COPY.value,
                DeviceJob.staff_id == staff.id,
                DeviceJob.state == "pending",
            )
            .values(
                state="cancelled",
                stage=Stage.CANCELLED.value,
                detail="last assignment ended",
                updated_at=now,
                finished_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        or 0
    )


def template_jobs_open(device: Device) -> int:
    """Copies and deletions waiting for (or running on) ``device``."""
    return int(
        db.session.scalar(
            select(func.count(DeviceJob.id)).where(
                DeviceJob.device_id == device.id,
                DeviceJob.kind.in_(TEMPLATE_KINDS),
                DeviceJob.state.in_(OPEN_STATES),
            )
        )
        or 0
    )


def new_enrol_job(device: Device, staff: Staff, timeout: float) -> DeviceJob:
    """Add a pending enrol job to the session (the command commits)."""
    job = DeviceJob(device_id=device.id, staff_id=staff.id, kind="enroll", timeout=timeout)
    db.session.add(job)
    db.session.flush()
    return job


def cancel_job(job_id: int, stage: Stage = Stage.CANCELLED, detail: str = "") -> bool:
    """Mark an open job cancelled; False when it was over already. A running job is
    stopped by the listener at its next look (``job_interval``), which then sets its
    ``finished_at``: until then the clock screen still shows it. The command commits."""
    now = utcnow()
    done = 0
    for state, finished in (("pending", now), ("running", None)):
        done += db.session.execute(
            update(DeviceJob)
            .where(DeviceJob.id == job_id, DeviceJob.state == state)
            .values(
                state="cancelled",
                stage=stage.value,
                detail=detail or None,
                updated_at=now,
                finished_at=finished,
            )
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    return bool(done)
