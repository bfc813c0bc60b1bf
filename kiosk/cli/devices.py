"""``flask --app kiosk devices ...``: add, map, enroll, listen, status (SPEC section 7).

Every bad input is refused with a message on standard error, exit status 1, and no change.
"""

from __future__ import annotations

import json
import logging
import string
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from devices import protocol as p
from devices.client import ModuleClient
from devices.enrol import PROMPTS, Stage
from devices.journal import Journal
from devices.listener import DeviceSpec, Listener, ListenerSettings
from devices.protocol import Confirmation as C
from devices.transport import SerialTransport, Timeouts, TransportError
from kiosk.cli.common import add_audited, audited_commit, fail, hall_or_exit
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_aware
from kiosk.models import Device, DeviceJob, DeviceTemplate, Hall, Punch, Staff, utcnow
from kiosk.models_devices import DeviceEvent
from kiosk.services.readers import (
    ENROLL,
    OPEN_STATES,
    DatabaseJobs,
    DatabaseSink,
    ListenerRows,
    cancel_job,
    listener_alive,
    new_enrol_job,
    open_job,
    punches_today,
    queue_copies,
    queue_deletions,
    spec_of,
    template_jobs_open,
)

devices_cli = AppGroup(
    "devices", help="Fingerprint readers: add, map, enroll, listen, status, jobs, prune."
)

MAX_PAGE = 0xFFFF - 1


def active_devices() -> Select[tuple[Device]]:
    """Readers not retired, by name."""
    return select(Device).where(Device.retired_at.is_(None)).order_by(Device.name)


def _known_devices() -> str:
    names = [d.name for d in db.session.scalars(active_devices())]
    return ", ".join(names) if names else "none (add one with `devices add`)"


def _get_device(name: str) -> Device:
    device = db.session.scalar(active_devices().where(Device.name == name))
    if device is None:
        fail(f'unknown device "{name}" (known devices: {_known_devices()})')
    return device


def _get_staff(device: Device, staff_no: str) -> Staff:
    staff = db.session.scalar(
        select(Staff).where(Staff.hall_id == device.hall_id, Staff.staff_no == staff_no)
    )
    if staff is None:
        fail(f'unknown staff number "{staff_no}" in the hall of device "{device.name}"')
    return staff


def parse_address(text: str) -> int:
    """Eight hex digits (an optional 0x prefix allowed) -> int."""
    digits = text[2:] if text.lower().startswith("0x") else text
    if len(digits) != 8 or any(c not in string.hexdigits for c in digits):
        raise click.BadParameter(f'"{text}" is not 8 hex digits (e.g. FFFFFFFF)')
    return int(digits, 16)


def listener_settings(app: Flask) -> ListenerSettings:
    """Listener timing from the configuration (``DEVICE_*`` keys; tests shorten them)."""
    cfg = app.config
    return ListenerSettings(
        poll_interval=float(cfg["DEVICE_POLL_INTERVAL"]),
        timeouts=Timeouts(
            reply=float(cfg["DEVICE_REPLY_TIMEOUT"]),
            corrupt_grace=float(cfg["DEVICE_CORRUPT_GRACE"]),
        ),
        backoff_min=float(cfg["DEVICE_BACKOFF_MIN"]),
        backoff_max=float(cfg["DEVICE_BACKOFF_MAX"]),
        failures_before_reconnect=int(cfg["DEVICE_FAILURES_BEFORE_RECONNECT"]),
        status_interval=float(cfg["DEVICE_STATUS_INTERVAL"]),
        job_interval=float(cfg["DEVICE_JOB_SECONDS"]),
    )


def journal_path(app: Flask) -> Path:
    """The listener's press journal: in the instance folder (local disk, not the database)."""
    return Path(app.instance_path) / "devices" / "journal.jsonl"


def status_path(app: Flask) -> Path:
    """The listener's status file (readers, backlog, database state), next to the journal."""
    return Path(app.instance_path) / "devices" / "status.json"


def read_status_file(app: Flask) -> dict[str, object] | None:
    """The listener's last status file, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(status_path(app).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@devices_cli.command("add")
@click.argument("name")
@click.option("--port", required=True, help="Serial port path, stored as given (symlinks kept).")
@click.option("--baud", default=p.DEFAULT_BAUD, show_default=True, type=int)
@click.option("--address", "address_text", default="FFFFFFFF", show_default=True)
@click.option("--password", default=0, show_default=True, type=int)
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
def add_command(
    name: str, port: str, baud: int, address_text: str, password: int, hall_code: str | None
) -> None:
    """Register reader NAME on serial port PORT."""
    name = name.strip()
    if not name or len(name) > 64:
        fail("the device name must be 1 to 64 characters")
    if not port.strip():
        fail("--port must not be empty")
    if baud % 9600 or not 1 <= baud // 9600 <= 12:
        fail(f"--baud {baud} is not a module speed (9600 × 1..12, e.g. 57600)")
    try:
        address = parse_address(address_text)
    except click.BadParameter as exc:
        fail(f"--address: {exc.message}")
    if not 0 <= password <= 0xFFFFFFFF:
        fail("--password must be 0..4294967295")
    if db.session.scalar(select(Device).where(Device.name == name)) is not None:
        fail(f'a device named "{name}" exists already')
    hall = hall_or_exit(hall_code)
    add_audited(
        Device(
            hall_id=hall.id, name=name, port=port, baud=baud, address=address, password=password
        ),
        action="device.add",
        hall_id=hall.id,
        after={"name": name, "port": port, "baud": baud, "address": f"{address:08X}"},
    )
    click.echo(f'added device "{name}" on {port} ({baud} baud, address {address:08X})')


@devices_cli.command("remove")
@click.argument("name")
@click.option(
    "--keep-punches",
    is_flag=True,
    help="Retire a reader whose punches exist: the punches stay and keep their reference.",
)
def remove_command(name: str, keep_punches: bool) -> None:
    """Remove reader NAME (a running listener stops polling it within seconds)."""
    device = _get_device(name)
    punches = int(
        db.session.scalar(select(func.count(Punch.id)).where(Punch.device_id == device.id)) or 0
    )
    if punches and not keep_punches:
        fail(
            f'{punches} punches were taken on "{name}"; nothing changed. '
            "Use --keep-punches to retire the reader: the punches stay."
        )
    templates = int(
        db.session.scalar(
            select(func.count(DeviceTemplate.id)).where(DeviceTemplate.device_id == device.id)
        )
        or 0
    )
    before = {"name": device.name, "port": device.port, "punches": punches, "templates": templates}
    device_id, hall_id = device.id, device.hall_id
    db.session.execute(delete(DeviceTemplate).where(DeviceTemplate.device_id == device_id))
    # Its open jobs (copies to or from it, deletions on it, an enrolment) end with it.
    now = utcnow()
    db.session.execute(
        update(DeviceJob)
        .where(
            or_(DeviceJob.device_id == device_id, DeviceJob.source_device_id == device_id),
            DeviceJob.state.in_(OPEN_STATES),
        )
        .values(state="cancelled", detail="reader removed", updated_at=now, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if punches:
        # Punches are never edited: the row stays, retired, under a name that frees the
        # old one for the reader that replaces it.
        device.retired_at = utcnow()
        device.name = f"{device.name[:40]}~retired-{device_id}"
        device.state = "retired"
    else:
        db.session.execute(delete(DeviceEvent).where(DeviceEvent.device_id == device_id))
        db.session.execute(
            update(DeviceJob)
            .where(DeviceJob.source_device_id == device_id)
            .values(source_device_id=None)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(delete(DeviceJob).where(DeviceJob.device_id == device_id))
        db.session.delete(device)
    audited_commit(
        action="device.remove",
        object_id=device_id,
        hall_id=hall_id,
        before=before,
        after={"retired": bool(punches)},
    )
    if punches:
        click.echo(f'retired device "{name}"; its {punches} punches stay')
    else:
        click.echo(f'removed device "{name}" ({templates} page mappings dropped)')


@devices_cli.command("map")
@click.argument("name")
@click.option("--page", required=True, type=int, help="Template page on the module.")
@click.option("--staff", "staff_no", required=True, help="Staff number.")
def map_command(name: str, page: int, staff_no: str) -> None:
    """Map template PAGE on reader NAME (already on the module) to a staff member."""
    device = _get_device(name)
    if not 0 <= page <= MAX_PAGE:
        fail(f"--page must be 0..{MAX_PAGE}")
    staff = _get_staff(device, staff_no)
    _map(device, page, staff)


def _map(device: Device, page: int, staff: Staff) -> None:
    existing = db.session.scalar(
        select(DeviceTemplate).where(
            DeviceTemplate.device_id == device.id, DeviceTemplate.page == page
        )
    )
    if existing is not None:
        if existing.staff_id == staff.id:
            click.echo(f"page {page} of {device.name} is already mapped to {staff.staff_no}")
            return
        other = db.session.get(Staff, existing.staff_id)
        fail(
            f"page {page} of {device.name} is already mapped to "
            f"{other.staff_no if other else existing.staff_id}; nothing changed"
        )
    db.session.add(DeviceTemplate(device_id=device.id, page=page, staff_id=staff.id))
    audited_commit(
        action="device.map",
        object_id=device.id,
        hall_id=device.hall_id,
        after={"page": page, "staff_no": staff.staff_no},
    )
    click.echo(f"mapped page {page} of {device.name} to {staff.staff_no} {staff.name}")


def _wait_finger(client: ModuleClient, present: bool, timeout: float, poll: float) -> None:
    """Poll GenImg until a finger is (``present``) or is not on the sensor."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = client.capture()
        if present and code == C.OK:
            return
        if not present and code == C.NO_FINGER:
            return
        time.sleep(poll)
    fail("timed out waiting for the finger" + (" to be lifted" if not present else ""))


@devices_cli.command("enroll")
@click.argument("name")
@click.option("--staff", "staff_no", required=True, help="Staff number.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait per press.")
@click.option(
    "--no-wait",
    is_flag=True,
    help="With a running listener: hand the job over and return (see `devices jobs`).",
)
def enroll_command(name: str, staff_no: str, timeout: float, no_wait: bool) -> None:
    """Enrol a finger of a staff member on reader NAME: two presses, stored on a free page.

    While a listener polls NAME the job goes to it through the database (the port has one
    owner; the clock screen tells the person what to do); otherwise the port is opened here.
    """
    device = _get_device(name)
    staff = _get_staff(device, staff_no)
    if not 1 <= timeout <= 600:
        fail("--timeout must be 1..600 seconds")
    if listener_alive(device, float(current_app.config["CLOCK_READER_STALE_SECONDS"])):
        _enrol_through_listener(device, staff, timeout, no_wait)
        return
    click.echo(f"no running listener polls {name}: opening {device.port} here")
    poll = float(current_app.config["DEVICE_POLL_INTERVAL"])
    transport = SerialTransport(
        device.port,
        device.baud,
        device.address,
        Timeouts(reply=float(current_app.config["DEVICE_REPLY_TIMEOUT"])),
    )
    client = ModuleClient(transport, device.password)
    try:
        with transport:
            client.handshake()
            click.echo("请按手指 (place the finger on the reader)")
            _wait_finger(client, True, timeout, poll)
            if client.convert(1) != C.OK:
                fail("the image was not usable; try again")
            found = client.search(1)
            if found.found:
                mapped = db.session.scalar(
                    select(DeviceTemplate).where(
                        DeviceTemplate.device_id == device.id, DeviceTemplate.page == found.page
                    )
                )
                owner = db.session.get(Staff, mapped.staff_id) if mapped else None
                who = f"mapped to {owner.staff_no}" if owner else "not mapped to anyone"
                fail(
                    f"this finger is already enrolled on page {found.page} ({who}); nothing changed"
                )
            click.echo("请抬起手指 (lift the finger)")
            _wait_finger(client, False, timeout, poll)
            click.echo("请再按一次 (place the same finger again)")
            _wait_finger(client, True, timeout, poll)
            if client.convert(2) != C.OK:
                fail("the second image was not usable; nothing changed")
            if client.reg_model() != C.OK:
                fail("the two presses do not match; nothing changed")
            page = client.free_page()
            if page is None:
                fail(f"the module's library is full ({client.capacity}); nothing changed")
            taken = db.session.scalar(
                select(DeviceTemplate).where(
                    DeviceTemplate.device_id == device.id, DeviceTemplate.page == page
                )
            )
            if taken is not None:
                fail(
                    f"page {page} is empty on the module but mapped in the database; "
                    "fix the mapping first"
                )
            code = client.store(page)
            if code != C.OK:
                fail(f"storing on page {page} failed: {C.describe(code)}")
    except TransportError as exc:
        fail(f"reader {name} on {device.port}: {exc}")
    except p.ModuleError as exc:
        fail(f"reader {name}: {exc}")
    _map(device, page, staff)
    click.echo(f"enrolled {staff.staff_no} on page {page}")
    # The hall's other readers get it from the listener (the port has one owner).
    copies = queue_copies(device, page, staff)
    db.session.commit()
    if copies:
        click.echo(f"copy to {len(copies)} other readers of the hall queued for the listener")


def _say(stage: Stage) -> str:
    zh, en = PROMPTS[stage]
    return f"{zh} ({en})"


def _enrol_through_listener(device: Device, staff: Staff, timeout: float, no_wait: bool) -> None:
    """Leave a pending job for the listener and follow it until it ends (Ctrl-C cancels)."""
    busy = open_job(device)
    if busy is not None:
        fail(
            f'reader "{device.name}" has enrol job {busy.id} open already '
            f"({busy.state}); wait for it or cancel it: `devices jobs --cancel {busy.id}`"
        )
    job = new_enrol_job(device, staff, timeout)
    job_id, name, staff_no = job.id, device.name, staff.staff_no
    db.session.commit()
    click.echo(
        f"enrol job {job_id} handed to the listener of {name}; "
        f"the clock screen tells {staff.name} what to do"
    )
    if no_wait:
        return
    poll = max(0.05, float(current_app.config["DEVICE_POLL_INTERVAL"]) * 5)
    said: str | None = None
    changed = time.monotonic()
    try:
        while True:
            db.session.expire_all()
            row = db.session.get(DeviceJob, job_id)
            assert row is not None
            if row.state not in OPEN_STATES:
                break
            if row.stage != said:
                said, changed = row.stage, time.monotonic()
                if row.stage:
                    click.echo(_say(Stage(row.stage)))
            # The listener took no notice (it stopped, or lost the reader): give up cleanly.
            limit = timeout + 5 if row.state == "pending" else 2 * timeout + 10
            if time.monotonic() - changed > limit:
                cancel_job(job_id, Stage.TIMEOUT, "no answer from the listener")
                db.session.commit()
                fail(f"enrol job {job_id}: no answer from the listener; cancelled")
            db.session.remove()
            time.sleep(poll)
    except KeyboardInterrupt:
        db.session.rollback()
        cancel_job(job_id)
        db.session.commit()
        fail(f"enrol job {job_id} cancelled")
    stage = Stage(row.stage) if row.stage else Stage.ERROR
    if row.state == "done":
        click.echo(_say(Stage.DONE))
        click.echo(f"enrolled {staff_no} on page {row.page}")
        return
    if stage == Stage.DUPLICATE:
        mapped = db.session.scalar(
            select(DeviceTemplate).where(
                DeviceTemplate.device_id == row.device_id, DeviceTemplate.page == row.page
            )
        )
        owner = db.session.get(Staff, mapped.staff_id) if mapped else None
        who = f"mapped to {owner.staff_no}" if owner else "not mapped to anyone"
        fail(f"this finger is already enrolled on page {row.page} ({who}); nothing changed")
    fail(f"enrol job {job_id} {row.state}: {_say(stage)}; {row.detail or ''}; nothing changed")


@devices_cli.command("jobs")
@click.option("--cancel", "cancel_id", type=int, help="Cancel this pending or running job.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def jobs_command(cancel_id: int | None, fmt: str) -> None:
    """The listener's jobs (enrolments, template copies and deletions): the last 20, or
    cancel one with --cancel ID."""
    if cancel_id is not None:
        job = db.session.get(DeviceJob, cancel_id)
        if job is None:
            fail(f"no enrol job {cancel_id}")
        if not cancel_job(cancel_id):
            fail(f"enrol job {cancel_id} is {job.state} already; nothing changed")
        db.session.commit()
        click.echo(f"cancelled enrol job {cancel_id}")
        return
    rows = []
    for job in db.session.scalars(select(DeviceJob).order_by(DeviceJob.id.desc()).limit(20)):
        rows.append(
            {
                "id": job.id,
                "kind": job.kind,
                "device": job.device.name,
                "staff_no": job.staff.staff_no,
                "state": job.state,
                "stage": job.stage,
                "page": job.page,
                "source": job.source_device.name if job.source_device else None,
                "source_page": job.source_page,
                "detail": job.detail,
                "created_at": job.created_at.isoformat(timespec="seconds") + "Z",
            }
        )
    rows.reverse()
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no jobs")
    for r in rows:
        kind = "" if r["kind"] == ENROLL else f" {r['kind']}"
        if r["source"] is not None:
            kind += f" from {r['source']} page {r['source_page']}"
        click.echo(
            f"{r['id']}: {r['device']} {r['staff_no']}{kind} {r['state']}"
            + (f" ({r['stage']})" if r["stage"] and r["kind"] == ENROLL else "")
            + (f" page {r['page']}" if r["page"] is not None else "")
            + (f"; {r['detail']}" if r["detail"] else "")
        )


@devices_cli.command("listen")
@click.argument("names", nargs=-1)
def listen_command(names: tuple[str, ...]) -> None:
    """Poll the named readers (default: all) until SIGINT or SIGTERM."""
    if names:
        devices = []
        for name in names:
            device = db.session.scalar(active_devices().where(Device.name == name))
            if device is None:
                fail(f'unknown device "{name}" (known devices: {_known_devices()})')
            devices.append(device)
    else:
        devices = list(db.session.scalars(active_devices()))
        if not devices:
            fail("no devices yet: add one with `flask --app kiosk devices add NAME --port PATH`")
    specs = [spec_of(d) for d in devices]
    db.session.remove()  # the workers use sessions of their own
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s %(message)s"
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    journal = Journal(journal_path(app))
    if journal.pending():
        click.echo(f"{len(journal.pending())} journaled presses to store first", err=True)
    only = frozenset(names)
    rows = ListenerRows(app)

    def reload() -> list[DeviceSpec]:
        return reload_tick(app, rows, only)

    jobs = DatabaseJobs(app)
    listener = Listener(
        specs,
        DatabaseSink(app),
        listener_settings(app),
        journal,
        status_path(app),
        reload=reload,
        reload_interval=float(app.config["DEVICE_RELOAD_SECONDS"]),
        jobs=jobs,
        templates=jobs,
    )
    click.echo(f"listening on {', '.join(s.name for s in specs)}; stop with Ctrl-C", err=True)
    listener.run_until_signal()
    click.echo("stopped", err=True)


def reload_tick(
    app: Flask, rows: ListenerRows, only: frozenset[str] = frozenset()
) -> list[DeviceSpec]:
    """The listener's reload tick (every DEVICE_RELOAD_SECONDS): the device rows as they are
    now (the ``only`` ones, if named); and the leavers' template deletions queued, when a
    quick read says there may be a leaver (nearly always there is none)."""
    specs = rows.specs()
    if rows.maybe_leavers():
        prune(app)
    return [spec for spec in specs if not only or spec.name in only]


def prune(app: Flask) -> None:
    """The listener's reload tick: queue the deletions of leavers' templates (idempotent:
    nothing new most of the time); a failure is logged and the readers go on."""
    with app.app_context():
        try:
            queued = queue_deletions()
            if queued:
                db.session.commit()
                for staff_no, pages in queued.items():
                    logging.getLogger(__name__).info(
                        "last assignment of %s ended: deleting %d templates", staff_no, len(pages)
                    )
        except SQLAlchemyError as exc:
            db.session.rollback()
            logging.getLogger(__name__).debug("could not queue template deletions: %s", exc)
        finally:
            db.session.remove()


@devices_cli.command("prune")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=0.0,
    help="Seconds to wait for the running listener to do the deletions (default: return).",
)
def prune_command(wait_seconds: float) -> None:
    """Delete the templates of staff whose last assignment has ended from every reader.

    Queues one deletion per reader and page for the running listener (the port has one
    owner; it also does this by itself on every reload tick), and retries deletions that
    failed before. Idempotent: a second run queues nothing new.
    """
    if not 0 <= wait_seconds <= 600:
        fail("--wait must be 0..600 seconds")
    queued = queue_deletions(retry_failed=True)
    db.session.commit()
    if not queued:
        click.echo("no templates of leavers to delete")
    for staff_no, pages in queued.items():
        where = ", ".join(f"{device} page {page}" for device, page in pages)
        click.echo(f"{staff_no}: deletion queued on {where}")
    open_jobs = _open_deletions()
    if open_jobs and wait_seconds:
        deadline = time.monotonic() + wait_seconds
        while open_jobs and time.monotonic() < deadline:
            time.sleep(0.1)
            db.session.remove()
            open_jobs = _open_deletions()
    if open_jobs:
        click.echo(
            f"{open_jobs} deletions wait for the listener "
            "(`devices listen`; a reader away gets them when it is back)"
        )
    else:
        click.echo("every leaver's template is deleted")


def _open_deletions() -> int:
    return int(
        db.session.scalar(
            select(func.count(DeviceJob.id)).where(
                DeviceJob.kind == "delete", DeviceJob.state.in_(OPEN_STATES)
            )
        )
        or 0
    )


def status_rows() -> list[dict[str, object]]:
    """Each reader's state for ``devices status`` (and the dashboard), with the presses the
    listener holds in its journal because the database did not take them yet."""
    held = held_presses(current_app)
    rows: list[dict[str, object]] = []
    for device in db.session.scalars(active_devices()):
        hall = db.session.get(Hall, device.hall_id)
        zone = hall_zone(hall.timezone if hall else "Asia/Shanghai")
        backlog = held.get(device.name, {})
        rows.append(
            {
                "name": device.name,
                "port": device.port,
                "address": f"{device.address:08X}",
                "state": device.state,
                "last_seen": to_aware(device.last_seen, zone).isoformat(timespec="seconds")
                if device.last_seen
                else None,
                "last_error": device.last_error,
                "punches_today": punches_today(device),
                "unrecognised": device.unrecognised_count,
                "backlog": int(backlog.get("backlog") or 0),
                "backlog_since": backlog.get("backlog_since"),
                "template_jobs": template_jobs_open(device),
            }
        )
    return rows


def held_presses(app: Flask) -> dict[str, dict[str, object]]:
    """Per device, the backlog the listener's status file reports (empty without a file)."""
    data = read_status_file(app) or {}
    devices = data.get("devices")
    return (
        {str(k): v for k, v in devices.items() if isinstance(v, dict)}
        if isinstance(devices, dict)
        else {}
    )


def rows_from_status_file() -> list[dict[str, object]]:
    """What ``devices status`` can tell when the database cannot be reached."""
    rows: list[dict[str, object]] = []
    for name, entry in sorted(held_presses(current_app).items()):
        rows.append(
            {
                "name": name,
                "state": entry.get("state"),
                "last_seen": entry.get("last_seen"),
                "last_error": entry.get("last_error"),
                "backlog": int(entry.get("backlog") or 0),
                "backlog_since": entry.get("backlog_since"),
            }
        )
    return rows


@devices_cli.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status_command(fmt: str) -> None:
    """Each reader's state, last seen, last error, punches today and presses held."""
    try:
        rows = status_rows()
        database_error = None
    except SQLAlchemyError as exc:
        db.session.rollback()
        rows = rows_from_status_file()
        database_error = str(exc).splitlines()[0]
    listener = read_status_file(current_app) or {}
    if fmt == "json":
        if database_error is None:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            payload = {"database_error": database_error, "listener": listener, "devices": rows}
            click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if database_error is not None:
        click.echo(f"数据库无法连接 (database unreachable): {database_error}")
        click.echo(f"the listener's status file, updated {listener.get('updated') or '-'}:")
    if not rows:
        click.echo("no devices")
        return
    for row in rows:
        held = ""
        if row["backlog"]:
            held = (
                f"; 暂存 {row['backlog']} 条打卡 since {row['backlog_since']} "
                "(held in the journal, written when the database is back)"
            )
        counts = (
            f"; punches today {row['punches_today']}; not recognised {row['unrecognised']}"
            if "punches_today" in row
            else ""
        )
        if row.get("template_jobs"):
            counts += f"; {row['template_jobs']} template copies/deletions waiting"
        click.echo(
            f"{row['name']}: {row['state']}"
            + (f" on {row['port']}" if "port" in row else "")
            + f"; last seen {row['last_seen'] or '-'}"
            + counts
            + held
            + (f"; last error: {row['last_error']}" if row["last_error"] else "")
        )
