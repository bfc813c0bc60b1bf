"""``flask --app kiosk devices ...``: add, map, enroll, listen, status, and their refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from devices.emulator import EmulatorProcess
from kiosk.extensions import db
from kiosk.models import AuditEntry, Device, DeviceTemplate, Punch
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def snapshot(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Device, DeviceTemplate, AuditEntry)
        )
        db.session.remove()
        return counts  # type: ignore[return-value]


def invoke(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(args=["devices", *args])
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_add_and_status(hall: Flask, runner: FlaskCliRunner) -> None:
    code, out = invoke(
        runner,
        "add",
        "door",
        "--port",
        "/dev/serial/by-id/fp-link",
        "--address",
        "0000abcd",
        "--password",
        "7",
    )
    assert code == 0, out
    with hall.app_context():
        device = db.session.scalar(select(Device))
        assert device.port == "/dev/serial/by-id/fp-link"  # as given, not resolved
        assert (device.address, device.password, device.baud) == (0xABCD, 7, 57600)
    code, out = invoke(runner, "status", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["name"] == "door" and rows[0]["punches_today"] == 0
    assert rows[0]["address"] == "0000ABCD" and rows[0]["state"] == "unknown"
    code, out = invoke(runner, "status")
    assert "door: unknown" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "door", "--port", "/dev/x"], "exists already"),
        (["add", "new", "--port", "/dev/x", "--address", "FFFF"], "8 hex digits"),
        (["add", "new", "--port", "/dev/x", "--address", "GGGGGGGG"], "8 hex digits"),
        (["add", "new", "--port", "/dev/x", "--baud", "12345"], "--baud"),
        (["add", "new", "--port", "/dev/x", "--password", "-1"], "--password"),
        (["add", "new", "--port", "/dev/x", "--hall", "NOPE"], "unknown hall"),
        (["add", "new", "--port", ""], "--port"),
        (["add", " ", "--port", "/dev/x"], "name"),
        (["map", "nope", "--page", "1", "--staff", "S001"], "known devices: door"),
        (["map", "door", "--page", "-1", "--staff", "S001"], "--page"),
        (["map", "door", "--page", "1", "--staff", "S999"], "unknown staff number"),
        (["map", "door", "--page", "0", "--staff", "S002"], "already mapped to S001"),
        (["enroll", "nope", "--staff", "S001"], "known devices: door"),
        (["enroll", "door", "--staff", "S999"], "unknown staff number"),
        (["listen", "door", "nope"], "known devices: door"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    hall: Flask, runner: FlaskCliRunner, args: list[str], message: str
) -> None:
    assert invoke(runner, "add", "door", "--port", "/dev/x")[0] == 0
    assert invoke(runner, "map", "door", "--page", "0", "--staff", "S001")[0] == 0
    before = snapshot(hall)
    code, out = invoke(runner, *args)
    assert code == 1, out
    assert message in out
    assert snapshot(hall) == before


def test_listen_without_devices(hall: Flask, runner: FlaskCliRunner) -> None:
    code, out = invoke(runner, "listen")
    assert code == 1 and "no devices" in out


def test_enroll_with_the_emulator(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    assert invoke(runner, "add", "door", "--port", str(emu.link))[0] == 0

    def finger() -> None:
        # Press, wait until the module has been searched, lift, wait for the "no finger"
        # poll, press again: what a person does when the screen says so.
        emu.ok("press unknown")
        wait_for(lambda: emu.status()["searches"] == 1)
        emu.ok("release")
        polls = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > polls)
        emu.ok("press unknown")

    helper = threading.Thread(target=finger)
    helper.start()
    code, out = invoke(runner, "enroll", "door", "--staff", "S004", "--timeout", "5")
    helper.join()
    assert code == 0, out
    assert "enrolled S004 on page 5" in out
    assert emu.status()["templates"] == [0, 1, 2, 3, 4, 5]
    with hall.app_context():
        mapping = db.session.scalar(select(DeviceTemplate))
        assert (mapping.page, mapping.staff.staff_no) == (5, "S004")

    # The same finger again is refused: it is enrolled already.
    before = snapshot(hall)
    code, out = invoke(runner, "enroll", "door", "--staff", "S001", "--timeout", "5")
    assert code == 1 and "already enrolled on page 5 (mapped to S004)" in out
    assert snapshot(hall) == before
    assert emu.status()["templates"] == [0, 1, 2, 3, 4, 5]


def test_enroll_refuses_two_different_fingers(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    assert invoke(runner, "add", "door", "--port", str(emu.link))[0] == 0

    def fingers() -> None:
        emu.ok("press unknown")
        wait_for(lambda: emu.status()["searches"] == 1)
        emu.ok("release")
        polls = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > polls)
        emu.ok("press 250")  # another finger, also not enrolled

    helper = threading.Thread(target=fingers)
    helper.start()
    code, out = invoke(runner, "enroll", "door", "--staff", "S004", "--timeout", "5")
    helper.join()
    assert code == 1 and "do not match" in out
    assert emu.status()["templates"] == [0, 1, 2, 3, 4]


def test_enroll_with_the_reader_unplugged(
    hall: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert invoke(runner, "add", "door", "--port", str(tmp_path / "missing"))[0] == 0
    before = snapshot(hall)
    code, out = invoke(runner, "enroll", "door", "--staff", "S004", "--timeout", "1")
    assert code == 1 and "cannot open" in out
    assert snapshot(hall) == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_listen_process_stores_punches_and_stops_on_a_signal(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess, signum: signal.Signals
) -> None:
    assert invoke(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert invoke(runner, "map", "door", "--page", "3", "--staff", "S005")[0] == 0
    env = dict(os.environ)
    env["FLASK_SQLALCHEMY_DATABASE_URI"] = hall.config["SQLALCHEMY_DATABASE_URI"]
    env["KIOSK_INSTANCE_PATH"] = hall.instance_path  # the journal goes there, not ./instance
    for key, value in FAST_CONFIG.items():
        env[f"FLASK_{key}"] = json.dumps(value)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen", "door"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _state(hall) == "connected", timeout=15, what="listener connected")
        emu.ok("press 3")
        wait_for(lambda: _punches(hall) == 1, what="punch stored")
        emu.ok("release")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert _state(hall) == "disconnected"
    code, out = invoke(runner, "status", "--format", "json")
    row = json.loads(out)[0]
    assert row["punches_today"] == 1 and row["last_error"] == "listener stopped"


def _state(app: Flask) -> str:
    with app.app_context():
        state = db.session.scalar(select(Device.state))
        db.session.remove()
        return state


def _punches(app: Flask) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Punch))
        db.session.remove()
        return n
