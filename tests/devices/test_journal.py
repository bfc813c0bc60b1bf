"""The listener's press journal (SPEC 7, issue 12): the file itself, and the listener killed
with SIGKILL at each stage of storing a press, on a real pseudo-terminal."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from devices import journal as journal_module
from devices.emulator import EmulatorProcess
from devices.journal import Journal, Press, new_press_id
from kiosk.extensions import db
from kiosk.models import Punch
from kiosk.models_devices import DeviceEvent
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def press_at(device: str = "door", page: int = 1, seconds: int = 0) -> Press:
    at = dt.datetime(2026, 12, 1, 1, 0, seconds, tzinfo=dt.UTC)
    return Press(new_press_id(), device, page, 90, at)


# --- the file -----------------------------------------------------------------------------


def test_hits_survive_a_reopen_until_stored(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    journal = Journal(path)
    a, b = press_at(page=1), press_at(page=2, seconds=5)
    journal.hit(a)
    journal.hit(b)
    journal.stored(a.id)
    journal.close()
    again = Journal(path)
    assert again.pending() == [b]
    assert again.pending()[0].at == b.at and again.pending()[0].at.tzinfo is not None
    # Each line is one JSON object with the press id, device, page and original instant.
    first = json.loads(path.read_text().splitlines()[0])
    assert {"id", "device", "page", "at"} <= set(first)


def test_open_press_is_the_latest_not_ended(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    a, b = press_at(page=1), press_at(page=2, seconds=5)
    journal.hit(a)
    journal.end(a.id)
    journal.hit(b)
    journal.stored(b.id)
    journal.close()
    again = Journal(path)
    assert again.open_press("door") == b
    assert again.open_press("other") is None
    again.end(b.id)
    assert again.open_press("door") is None


def test_torn_last_line_is_dropped_and_the_next_line_starts_clean(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    a = press_at()
    journal.hit(a)
    journal.close()
    with open(path, "ab") as handle:
        handle.write(b'{"k":"hit","id":"abc","dev')  # the process died mid-write
    again = Journal(path)
    assert again.torn and again.pending() == [a]
    b = press_at(page=3)
    again.hit(b)
    again.close()
    third = Journal(path)
    assert [p.id for p in third.pending()] == [a.id, b.id]
    assert not third.torn


def test_trim_keeps_only_what_is_not_both_stored_and_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "TRIM_AFTER", 20)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    for n in range(30):
        p = press_at(page=n % 5, seconds=n)
        journal.hit(p)
        journal.stored(p.id)
        journal.end(p.id)
    held = press_at(page=4, seconds=40)  # stored, finger still on the sensor
    journal.hit(held)
    journal.stored(held.id)
    waiting = press_at(page=2, seconds=41)  # not stored yet
    journal.hit(waiting)
    journal.trim()
    journal.close()
    lines = path.read_text().splitlines()
    assert len(lines) <= 4
    again = Journal(path)
    assert again.pending() == [waiting]
    assert again.open_press("door") == waiting
    assert held.id in again.hits and held.id in again.done


def test_journal_stays_bounded_over_many_presses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "TRIM_AFTER", 50)
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    for n in range(500):
        p = press_at(page=n % 5, seconds=n % 60)
        journal.hit(p)
        journal.stored(p.id)
        journal.end(p.id)
    journal.close()
    assert len(path.read_text().splitlines()) <= 51


# --- the listener killed at each stage ----------------------------------------------------


class ListenerProcess:
    """``flask devices listen`` in a subprocess, stderr in a file."""

    def __init__(self, app: Flask, log: Path, pause_at: str | None = None) -> None:
        env = dict(os.environ)
        env["FLASK_SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
        env["KIOSK_INSTANCE_PATH"] = app.instance_path
        for key, value in FAST_CONFIG.items():
            env[f"FLASK_{key}"] = json.dumps(value)
        env.pop("DEVICES_PAUSE_AT", None)
        if pause_at:
            env["DEVICES_PAUSE_AT"] = pause_at
        self.log = log
        self.handle = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen"],
            cwd=ROOT,
            env=env,
            stderr=self.handle,
            stdout=subprocess.DEVNULL,
        )

    def text(self) -> str:
        return self.log.read_text()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.handle.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()


@pytest.fixture
def door(hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess) -> Iterator[Flask]:
    """Reader "door" on the emulator, page 3 mapped to S005."""
    for args in (
        ["devices", "add", "door", "--port", str(emu.link)],
        ["devices", "map", "door", "--page", "3", "--staff", "S005"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    yield hall


def punches(app: Flask) -> list[dt.datetime]:
    with app.app_context():
        rows = list(db.session.scalars(select(Punch.punched_at).order_by(Punch.id)))
        db.session.remove()
        return rows


def events(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(DeviceEvent.id)))
        db.session.remove()
        return int(count or 0)


def status_file(app: Flask) -> dict[str, object]:
    path = Path(app.instance_path) / "devices" / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def listening(app: Flask, listener: ListenerProcess) -> bool:
    data = status_file(app)
    device = (data.get("devices") or {}).get("door") or {}  # type: ignore[union-attr]
    return data.get("pid") == listener.proc.pid and device.get("state") == "connected"


STAGES = ["after_search", "after_journal", "before_commit", "after_commit", "after_done"]


@pytest.mark.parametrize("held", [True, False], ids=["finger-held", "finger-lifted"])
@pytest.mark.parametrize("stage", STAGES)
def test_sigkill_at_each_stage_of_storing(
    door: Flask, emu: EmulatorProcess, tmp_path: Path, stage: str, held: bool
) -> None:
    first = ListenerProcess(door, tmp_path / "first.log", pause_at=stage)
    try:
        wait_for(lambda: listening(door, first), timeout=20, what="first listener up")
        emu.ok("press 3")
        wait_for(lambda: f"PAUSED AT {stage}" in first.text(), timeout=10, what=stage)
        hit_sent = emu.status()["hits_sent"]
        killed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    finally:
        first.kill()
    if not held:
        emu.ok("release")
    second = ListenerProcess(door, tmp_path / "second.log")
    try:
        wait_for(lambda: listening(door, second), timeout=20, what="second listener up")
        gen_img = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > gen_img + 10, what="polls after restart")
        wait_for(lambda: status_file(door).get("backlog") == 0, what="backlog stored")
        after_restart = len(punches(door))
        if held:
            emu.ok("release")
        gen_img = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > gen_img + 5, what="release seen")
        emu.ok("press 3")
        wait_for(lambda: len(punches(door)) == after_restart + 1, what="a new press stored")
        emu.ok("release")
    finally:
        second.stop()
    stored = punches(door)
    if stage == "after_search" and not held:
        # Killed before the journal write: the press was not promised, and the finger was
        # gone when the listener came back.
        assert after_restart == 0
    else:
        # Journaled (or still on the sensor): stored exactly once, whatever the stage.
        assert after_restart == 1, (stage, held, stored)
    assert len(stored) == after_restart + 1
    assert events(door) == len(stored)
    if stage == "after_search":
        # Not journaled: if the finger was still there, it is a press read after the restart.
        assert not held or stored[0] > killed_at
    else:
        # The original instant of the hit, from before the kill, not the restart's.
        assert stored[0] <= killed_at
    assert hit_sent >= 1
    # The second listener stored the backlog and trimmed nothing it still needs.
    journal = Journal(Path(door.instance_path) / "devices" / "journal.jsonl")
    assert journal.pending() == []
    journal.close()


def test_a_finger_held_across_a_restart_is_one_punch_and_another_finger_is_not_swallowed(
    door: Flask, runner: FlaskCliRunner, emu: EmulatorProcess, tmp_path: Path
) -> None:
    result = runner.invoke(args=["devices", "map", "door", "--page", "4", "--staff", "S001"])
    assert result.exit_code == 0, result.output
    first = ListenerProcess(door, tmp_path / "first.log")
    try:
        wait_for(lambda: listening(door, first), timeout=20, what="first listener up")
        emu.ok("press 3")
        wait_for(lambda: len(punches(door)) == 1, what="first punch")
    finally:
        first.kill()
    # While the listener is dead the finger is replaced by another one: a new press.
    emu.ok("press 4")
    second = ListenerProcess(door, tmp_path / "second.log")
    try:
        wait_for(lambda: listening(door, second), timeout=20, what="second listener up")
        wait_for(lambda: len(punches(door)) == 2, what="the other finger stored")
        gen_img = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > gen_img + 10, what="polls held")
        assert len(punches(door)) == 2
        emu.ok("release")
    finally:
        second.stop()
