"""A hall's readers share templates (issue 12): two emulated readers on real pseudo-terminals.

A finger enrolled on one reader is copied to the other (UpChar -> DownChar -> Store) and
mapped there, also when that reader was away at the time; a leaver's templates are deleted
from both (DeleteChar), audited; by the listener's reload tick and by `devices prune`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, update

from devices import protocol as p
from devices.client import ModuleClient
from devices.emulator import EmulatorProcess, template_bytes
from devices.listener import CONNECTED, DeviceSpec, Listener
from devices.transport import ChecksumError, ReplyTimeout, SerialTransport
from kiosk.cli.devices import prune
from kiosk.extensions import db
from kiosk.models import (
    Assignment,
    AuditEntry,
    Device,
    DeviceJob,
    DeviceTemplate,
    Hall,
    Punch,
    Staff,
    utcnow,
)
from kiosk.services.auditlog import audit_page
from kiosk.services.readers import DatabaseJobs, DatabaseSink, spec_of
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import FAST
from tests.devices.helpers import wait_for as _wait_for

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = dataclasses.replace(FAST, job_interval=0.05)


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "") -> None:
    """As the helpers' ``wait_for``, with room for a loaded machine (two readers, a
    listener's five threads and the emulators share the cores with other suites)."""
    _wait_for(condition, max(timeout, 15.0), what)


def cli(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(args=["devices", *args])
    return result.exit_code, result.output


def count(app: Flask, model: type, *where: object) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return int(n or 0)


def mappings(app: Flask) -> set[tuple[str, int, str]]:
    """(reader, page, staff number) of every mapping."""
    with app.app_context():
        rows = db.session.execute(
            select(Device.name, DeviceTemplate.page, Staff.staff_no)
            .join(Device, Device.id == DeviceTemplate.device_id)
            .join(Staff, Staff.id == DeviceTemplate.staff_id)
        ).all()
        db.session.remove()
        return {tuple(r) for r in rows}  # type: ignore[misc]


def jobs(app: Flask, kind: str) -> list[tuple[str, str, int | None]]:
    """(reader, state, page) of the jobs of ``kind``, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            select(Device.name, DeviceJob.state, DeviceJob.page)
            .join(Device, Device.id == DeviceJob.device_id)
            .where(DeviceJob.kind == kind)
            .order_by(DeviceJob.id)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def punches_of(app: Flask, staff_no: str, device: str) -> int:
    with app.app_context():
        n = db.session.scalar(
            select(func.count(Punch.id))
            .join(Staff, Staff.id == Punch.staff_id)
            .join(Device, Device.id == Punch.device_id)
            .where(Staff.staff_no == staff_no, Device.name == device)
        )
        db.session.remove()
        return int(n or 0)


def row_state(app: Flask, name: str) -> str | None:
    with app.app_context():
        state = db.session.scalar(select(Device.state).where(Device.name == name))
        db.session.remove()
        return state


def unrecognised(app: Flask, name: str) -> int:
    with app.app_context():
        n = db.session.scalar(select(Device.unrecognised_count).where(Device.name == name))
        db.session.remove()
        return int(n or 0)


def audits(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
        return rows


def specs(app: Flask) -> list[DeviceSpec]:
    with app.app_context():
        found = [spec_of(d) for d in db.session.scalars(select(Device).order_by(Device.name))]
        db.session.remove()
        return found


@contextmanager
def listening(app: Flask, connected: tuple[str, ...], tick: bool = False) -> Iterator[Listener]:
    """A listener on every reader, with the database sink, jobs and template jobs; with
    ``tick``, its reload tick queues leavers' deletions as `devices listen`'s does."""
    database_jobs = DatabaseJobs(app)

    def reload() -> list[DeviceSpec]:
        prune(app)
        return specs(app)

    listener = Listener(
        specs(app),
        DatabaseSink(app),
        SETTINGS,
        reload=reload if tick else None,
        reload_interval=0.1,
        jobs=database_jobs,
        templates=database_jobs,
    )
    with listener:
        wait_for(
            lambda: all(w.state == CONNECTED for w in listener.workers if w.spec.name in connected),
            what=f"{connected} connected",
        )
        wait_for(lambda: all(row_state(app, n) == CONNECTED for n in connected), what="rows")
        yield listener


def enrol_unknown_finger(runner: FlaskCliRunner, app: Flask, emu: EmulatorProcess) -> None:
    """`devices enroll door --staff S004` through the listener, the person at reader A."""
    code, out = cli(runner, "enroll", "door", "--staff", "S004", "--no-wait")
    assert code == 0, out

    def stage() -> tuple[str, str | None]:
        with app.app_context():
            row = db.session.scalar(
                select(DeviceJob).where(DeviceJob.kind == "enroll").order_by(DeviceJob.id.desc())
            )
            found = (row.state, row.stage)
            db.session.remove()
            return found

    wait_for(lambda: stage() == ("running", "press"), what="first prompt")
    emu.ok("press unknown")
    wait_for(lambda: stage()[1] == "lift", what="lift")
    emu.ok("release")
    wait_for(lambda: stage()[1] == "again", what="second prompt")
    emu.ok("press unknown")
    wait_for(lambda: stage() == ("done", "done"), what="enrolled")
    emu.ok("release")


@pytest.fixture
def readers(
    hall: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> Iterator[tuple[EmulatorProcess, EmulatorProcess]]:
    """Reader "door" (A) and reader "gate" (B) of the hall, each with pages 0..4 stored."""
    with (
        EmulatorProcess(tmp_path / "door", templates=5) as a,
        EmulatorProcess(tmp_path / "gate", templates=5) as b,
    ):
        assert cli(runner, "add", "door", "--port", str(a.link))[0] == 0
        assert cli(runner, "add", "gate", "--port", str(b.link))[0] == 0
        yield a, b


def test_a_finger_enrolled_on_one_reader_is_copied_to_the_other(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    a, b = readers
    with listening(hall, ("door", "gate")):
        enrol_unknown_finger(runner, hall, a)
        wait_for(lambda: jobs(hall, "copy") == [("gate", "done", 5)], what="copy done")
        assert mappings(hall) == {("door", 5, "S004"), ("gate", 5, "S004")}
        assert b.status()["fingers"]["5"] == "finger:unknown"
        assert a.status()["fingers"]["5"] == "finger:unknown"
        # The new colleague clocks in on the other reader at once.
        b.ok("press unknown")
        wait_for(lambda: punches_of(hall, "S004", "gate") == 1, what="punch on gate")
        b.ok("release")
        a.ok("press unknown")
        wait_for(lambda: punches_of(hall, "S004", "door") == 1, what="punch on door")
        a.ok("release")
    (entry,) = audits(hall, "device.template_copy")
    assert entry.after["from"] == "door" and entry.after["page"] == 5
    assert entry.after["staff_no"] == "S004" and entry.after["was_there"] is False
    code, out = cli(runner, "jobs")
    assert "gate S004 copy from door page 5 done page 5" in out, out
    assert count(hall, Punch) == 2  # the enrolment's presses were no punches on either


def test_an_away_reader_gets_the_copy_when_it_is_back(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    a, b = readers
    b.ok("unplug")
    with listening(hall, ("door",)):
        enrol_unknown_finger(runner, hall, a)
        wait_for(lambda: jobs(hall, "copy") == [("gate", "pending", None)], what="copy queued")
        # A while later it still waits, not given up.
        polls = a.status()["gen_img"]
        wait_for(lambda: a.status()["gen_img"] > polls + 20, what="some polls")
        assert jobs(hall, "copy") == [("gate", "pending", None)]
        code, out = cli(runner, "status")
        assert "gate: disconnected" in out and "1 template copies/deletions waiting" in out, out
        assert b.status()["fingers"].get("5") is None
        b.ok("plug")
        wait_for(lambda: jobs(hall, "copy") == [("gate", "done", 5)], timeout=10, what="copy")
        b.ok("press unknown")
        wait_for(lambda: punches_of(hall, "S004", "gate") == 1, what="punch on gate")
        b.ok("release")
    assert ("gate", 5, "S004") in mappings(hall)


def test_the_copy_is_not_stored_twice_and_waits_for_its_source(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    """The source away: the job waits for it. The target knowing the finger already (the
    same template on another page): mapped there, not stored again."""
    a, b = readers
    with hall.app_context():
        # As `devices enroll` leaves it: S001's finger 2 on door, a copy to gate queued.
        from kiosk.services.readers import queue_copies

        door = db.session.scalar(select(Device).where(Device.name == "door"))
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S001"))
        db.session.add(DeviceTemplate(device_id=door.id, page=2, staff_id=staff.id))
        queue_copies(door, 2, staff)
        db.session.commit()
        db.session.remove()
    a.ok("unplug")
    with listening(hall, ("gate",)):
        polls = b.status()["gen_img"]
        wait_for(lambda: b.status()["gen_img"] > polls + 20, what="some polls")
        assert jobs(hall, "copy") == [("gate", "pending", None)]
        a.ok("plug")
        wait_for(lambda: jobs(hall, "copy") == [("gate", "done", 2)], timeout=10, what="copy")
    assert b.status()["templates"] == [0, 1, 2, 3, 4]  # found by Search, not stored again
    assert mappings(hall) == {("door", 2, "S001"), ("gate", 2, "S001")}
    (entry,) = audits(hall, "device.template_copy")
    assert entry.after["was_there"] is True


def test_enrolled_without_a_listener_copied_once_one_runs_also_after_its_death(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    """`devices enroll` opening the port itself queues the copy too; a copy a listener left
    running when it died is done again by the next one, once."""
    a, b = readers

    def finger() -> None:
        a.ok("press unknown")
        wait_for(lambda: a.status()["searches"] == 1)
        a.ok("release")
        polls = a.status()["gen_img"]
        wait_for(lambda: a.status()["gen_img"] > polls)
        a.ok("press unknown")

    helper = threading.Thread(target=finger)
    helper.start()
    code, out = cli(runner, "enroll", "door", "--staff", "S004", "--timeout", "5")
    helper.join()
    a.ok("release")
    assert code == 0 and "enrolled S004 on page 5" in out, out
    assert "copy to 1 other readers of the hall queued for the listener" in out
    assert jobs(hall, "copy") == [("gate", "pending", None)]
    with hall.app_context():
        # As a listener killed in the middle of the copy leaves it.
        db.session.execute(update(DeviceJob).values(state="running", started_at=utcnow()))
        db.session.commit()
        db.session.remove()
    with listening(hall, ("door", "gate")):
        wait_for(lambda: jobs(hall, "copy") == [("gate", "done", 5)], timeout=10, what="copy")
        b.ok("press unknown")
        wait_for(lambda: punches_of(hall, "S004", "gate") == 1, what="punch on gate")
        b.ok("release")
    assert b.status()["templates"] == [0, 1, 2, 3, 4, 5]
    assert len(audits(hall, "device.template_copy")) == 1


def test_removing_a_reader_ends_its_template_jobs(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    with hall.app_context():
        from kiosk.services.readers import queue_copies

        door = db.session.scalar(select(Device).where(Device.name == "door"))
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S001"))
        db.session.add(DeviceTemplate(device_id=door.id, page=1, staff_id=staff.id))
        queue_copies(door, 1, staff)
        db.session.commit()
        db.session.remove()
    code, out = cli(runner, "remove", "door")  # the source of the copy
    assert code == 0, out
    assert jobs(hall, "copy") == [("gate", "cancelled", None)]
    code, out = cli(runner, "remove", "gate")  # the target
    assert code == 0, out
    assert count(hall, DeviceJob) == 0 and count(hall, Device) == 0


def _end_assignments(app: Flask, staff_no: str, when: str) -> None:
    with app.app_context():
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == staff_no))
        db.session.execute(
            update(Assignment)
            .where(Assignment.staff_id == staff.id)
            .values(end_date=dt.date.fromisoformat(when))
        )
        db.session.commit()
        db.session.remove()


def test_a_leavers_templates_are_deleted_from_every_reader_on_the_reload_tick(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    a, b = readers
    for reader in ("door", "gate"):
        assert cli(runner, "map", reader, "--page", "3", "--staff", "S005")[0] == 0
        assert cli(runner, "map", reader, "--page", "1", "--staff", "S001")[0] == 0
    _end_assignments(hall, "S005", "2026-11-30")  # yesterday: S005 has left
    with listening(hall, ("door", "gate"), tick=True):
        wait_for(
            lambda: jobs(hall, "delete") == [("door", "done", 3), ("gate", "done", 3)],
            timeout=20,
            what="both deleted",
        )
        assert a.status()["templates"] == [0, 1, 2, 4]
        assert b.status()["templates"] == [0, 1, 2, 4]
        assert mappings(hall) == {("door", 1, "S001"), ("gate", 1, "S001")}
        # Ticks go on; nothing more is queued (idempotent).
        polls = a.status()["gen_img"]
        wait_for(lambda: a.status()["gen_img"] > polls + 20, timeout=15, what="more ticks")
        assert len(jobs(hall, "delete")) == 2
        # The leaver's finger is now unknown on both readers; S001 still clocks in.
        b.ok("press 3")
        wait_for(lambda: unrecognised(hall, "gate") == 1, timeout=10, what="unrecognised")
        b.ok("release")
        polls = b.status()["gen_img"]
        wait_for(lambda: b.status()["gen_img"] > polls + 1, what="the lift seen")
        b.ok("press 1")
        wait_for(lambda: punches_of(hall, "S001", "gate") == 1, timeout=10, what="S001 on gate")
        b.ok("release")
    (queued,) = audits(hall, "device.prune")
    assert queued.object_type == "staff" and queued.after["queued"] == 2
    assert "2026-11-30" in (queued.reason or "")
    deleted = audits(hall, "device.template_delete")
    assert sorted(e.before["page"] for e in deleted) == [3, 3]
    assert {e.before["staff_no"] for e in deleted} == {"S005"}
    assert punches_of(hall, "S005", "gate") == 0


def test_devices_prune_and_an_away_reader(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    a, b = readers
    for reader in ("door", "gate"):
        assert cli(runner, "map", reader, "--page", "4", "--staff", "S008")[0] == 0
    # S008's last assignment ended 2026-08-14 (the example roster). Not while still on one:
    _end_assignments(hall, "S001", "2099-12-31")
    code, out = cli(runner, "prune")
    assert code == 0 and "S008: deletion queued on door page 4, gate page 4" in out, out
    assert "2 deletions wait for the listener" in out
    code, out = cli(runner, "prune")  # idempotent
    assert code == 0 and "no templates of leavers to delete" in out, out
    assert len(jobs(hall, "delete")) == 2 and len(audits(hall, "device.prune")) == 1
    b.ok("unplug")
    with listening(hall, ("door",)):
        wait_for(lambda: jobs(hall, "delete")[0] == ("door", "done", 4), what="door deleted")
        assert a.status()["templates"] == [0, 1, 2, 3]
        assert jobs(hall, "delete")[1] == ("gate", "pending", 4)
        assert ("gate", 4, "S008") in mappings(hall)  # unmapped when deleted, not before
        b.ok("plug")
        wait_for(lambda: jobs(hall, "delete")[1] == ("gate", "done", 4), timeout=10)
        assert b.status()["templates"] == [0, 1, 2, 3]
        code, out = cli(runner, "prune", "--wait", "2")
        assert "no templates of leavers to delete" in out and "every leaver's template" in out
    assert mappings(hall) == set()
    assert len(audits(hall, "device.template_delete")) == 2
    # The back office's audit log words them.
    with hall.test_request_context(), hall.app_context():
        lines = audit_page(db.session, db.session.scalar(select(Hall)), action="device.").lines
        words = {line.what: [(c.field, c.before, c.after) for c in line.changes] for line in lines}
        db.session.remove()
    assert ("指纹机与页号", "door 4, gate 4", "") in words["清除离岗人员指纹"]
    assert ("指纹页号", "4", "") in words["删除离岗人员指纹"]


def test_a_leaver_copy_still_waiting_is_cancelled(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    a, b = readers
    with hall.app_context():
        from kiosk.services.readers import queue_copies

        door = db.session.scalar(select(Device).where(Device.name == "door"))
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S008"))
        db.session.add(DeviceTemplate(device_id=door.id, page=0, staff_id=staff.id))
        queue_copies(door, 0, staff)
        db.session.commit()
        db.session.remove()
    code, out = cli(runner, "prune")
    assert code == 0 and "S008: deletion queued on door page 0" in out, out
    assert jobs(hall, "copy") == [("gate", "cancelled", None)]
    (entry,) = audits(hall, "device.prune")
    assert entry.after["copies_cancelled"] == 1


def test_devices_listen_deletes_a_leavers_templates_by_itself(
    hall: Flask, runner: FlaskCliRunner, readers: tuple[EmulatorProcess, EmulatorProcess]
) -> None:
    """The real `devices listen` process: no cron, no command, the reload tick does it."""
    a, b = readers
    for reader in ("door", "gate"):
        assert cli(runner, "map", reader, "--page", "2", "--staff", "S008")[0] == 0
    env = dict(os.environ)
    env["FLASK_SQLALCHEMY_DATABASE_URI"] = hall.config["SQLALCHEMY_DATABASE_URI"]
    env["KIOSK_INSTANCE_PATH"] = hall.instance_path
    fast = {**FAST_CONFIG, "DEVICE_JOB_SECONDS": 0.05, "DEVICE_RELOAD_SECONDS": 0.2}
    for key, value in fast.items():
        env[f"FLASK_{key}"] = json.dumps(value)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: jobs(hall, "delete") == [("door", "done", 2), ("gate", "done", 2)],
            timeout=30,
            what="the listener deleted both",
        )
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert a.status()["templates"] == [0, 1, 3, 4] and b.status()["templates"] == [0, 1, 3, 4]
    assert mappings(hall) == set()
    assert "last assignment of S008 ended: deleting 2 templates" in err


# --- the transfers on the line ------------------------------------------------------------


def test_transfers_on_a_real_line_refuse_broken_packets(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "fp", templates=2) as emu:
        transport = SerialTransport(str(emu.link))
        with transport:
            client = ModuleClient(transport)
            client.handshake()
            assert client.packet_size == 128
            assert client.read_template(1) == template_bytes("finger:1")
            emu.ok("split 2")  # LoadChar's ack and UpChar's transfer in pieces: fine
            assert client.read_template(1) == template_bytes("finger:1")
            assert client.load(1, 1) == p.Confirmation.OK
            emu.ok("badsum 1")  # the end packet's sum is wrong
            with pytest.raises(ChecksumError):
                client.upload(1)
            emu.ok("short 1")
            with pytest.raises(ReplyTimeout):
                client.upload(1)
            emu.ok("noise 1")  # garbage before the ack is skipped as before
            assert client.upload(1) == template_bytes("finger:1")
            with pytest.raises(p.ModuleError) as empty:
                client.read_template(7)
            assert empty.value.code == p.Confirmation.READ_TEMPLATE_FAILED
            # A DownChar whose second data packet has a wrong sum: refused whole.
            code, _ = transport.ack_code(p.down_char(2))
            assert code == p.Confirmation.OK
            raw = p.data_packets(p.DEFAULT_ADDRESS, template_bytes("finger:new"), 128)
            raw = raw[: 2 * 139 - 1] + bytes([raw[2 * 139 - 1] ^ 0x33]) + raw[2 * 139 :]
            transport.send(raw)
            # Once the module has refused it, its PACKET_ERROR ack is on our line (and the
            # next command's flush drops it): the read-back finds the buffer empty.
            wait_for(lambda: emu.status()["transfers_refused"] == 1, what="refused")
            with pytest.raises(p.ModuleError) as refused:
                client.upload(2)
            assert refused.value.code == p.Confirmation.UPLOAD_CHAR_FAILED
            assert client.store(9, 2) == p.Confirmation.FLASH_ERROR
            client.download(template_bytes("finger:new"), 2)
            assert client.store(9, 2) == p.Confirmation.OK
        status = emu.status()
        assert status["fingers"]["9"] == "finger:new" and status["transfers_refused"] == 1
