"""Enrolment while the hall works (issue 12): ``devices enroll`` hands the job to the running
listener through the database; the clock screen tells the person what to do.

Every test runs a listener on an emulated reader behind a real pseudo-terminal.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, Listener
from kiosk.extensions import db
from kiosk.models import AuditEntry, Device, DeviceJob, DeviceTemplate, Punch, utcnow
from kiosk.services.readers import DatabaseJobs, DatabaseSink, spec_of
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import FAST, wait_for

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = dataclasses.replace(FAST, job_interval=0.05)


def cli(runner: FlaskCliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(args=["devices", *args])
    return result.exit_code, result.output


def count(app: Flask, model: type, *where: object) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return int(n or 0)


def job(app: Flask) -> tuple[str, str | None, int | None] | None:
    """State, stage and page of the newest job."""
    with app.app_context():
        row = db.session.scalar(select(DeviceJob).order_by(DeviceJob.id.desc()))
        found = (row.state, row.stage, row.page) if row else None
        db.session.remove()
        return found


def screen(app: Flask) -> dict[str, object] | None:
    """The enrolment the clock screen's poll carries."""
    answer = app.test_client().get("/clock/events").get_json()
    return answer["enrolment"]


def prompt_is(app: Flask, text: str) -> bool:
    shown = screen(app)
    return shown is not None and shown["prompt"] == text


@contextmanager
def listening(app: Flask) -> Iterator[Listener]:
    """A listener on every device row, with the database sink and jobs, until the end."""
    with app.app_context():
        specs = [spec_of(d) for d in db.session.scalars(select(Device))]
        db.session.remove()
    listener = Listener(specs, DatabaseSink(app), SETTINGS, jobs=DatabaseJobs(app))
    with listener:
        wait_for(lambda: all(w.state == CONNECTED for w in listener.workers), what="connected")
        wait_for(lambda: _row_state(app) == "connected", what="row connected")
        yield listener


def _row_state(app: Flask) -> str:
    with app.app_context():
        state = db.session.scalar(select(Device.state))
        db.session.remove()
        return state


def in_thread(target: object) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_enrol_while_the_listener_runs(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    """Through the real `devices listen` process: the job is run by the port's owner."""
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    env = dict(os.environ)
    env["FLASK_SQLALCHEMY_DATABASE_URI"] = hall.config["SQLALCHEMY_DATABASE_URI"]
    env["KIOSK_INSTANCE_PATH"] = hall.instance_path
    for key, value in {**FAST_CONFIG, "DEVICE_JOB_SECONDS": 0.05}.items():
        env[f"FLASK_{key}"] = json.dumps(value)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []

    def person() -> None:
        wait_for(lambda: prompt_is(hall, "请按压手指"), timeout=10, what="first prompt")
        seen.append("请按压手指")
        emu.ok("press unknown")
        wait_for(lambda: (job(hall) or ("",))[1] == "lift", what="lift")
        emu.ok("release")
        wait_for(lambda: prompt_is(hall, "请再按一次"), what="second prompt")
        seen.append("请再按一次")
        emu.ok("press unknown")
        wait_for(lambda: prompt_is(hall, "录入成功"), what="done on the screen")
        seen.append("录入成功")
        emu.ok("release")

    try:
        wait_for(lambda: _row_state(hall) == "connected", timeout=15, what="listener connected")
        thread, errors = in_thread(person)
        code, out = cli(runner, "enroll", "door", "--staff", "S004", "--timeout", "10")
        thread.join(20)
        assert not errors, errors
        assert code == 0, out
        assert "handed to the listener of door" in out and "enrolled S004 on page 5" in out
        assert "请按压手指" in out and "请再按一次" in out
        assert seen == ["请按压手指", "请再按一次", "录入成功"]
        assert emu.status()["templates"] == [0, 1, 2, 3, 4, 5]
        with hall.app_context():
            mapping = db.session.scalar(select(DeviceTemplate))
            assert (mapping.page, mapping.staff.staff_no) == (5, "S004")
            entry = db.session.scalar(
                select(AuditEntry).where(AuditEntry.action == "device.enroll")
            )
            assert entry is not None and entry.after["page"] == 5
            db.session.remove()
        assert count(hall, Punch) == 0  # the enrolment's presses are not punches
        # The new colleague clocks in at once, on the same running listener: once it has
        # seen the enrolling finger lifted (a press that began within one poll of the
        # release would be the same press to it, as to a person no hand is that quick).
        lifted = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] >= lifted + 2, what="a poll after the lift")
        emu.ok("press 5")
        wait_for(lambda: count(hall, Punch) == 1, what="punch of the new template")
        emu.ok("release")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_a_finger_already_enrolled_is_refused(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert cli(runner, "map", "door", "--page", "3", "--staff", "S005")[0] == 0
    with listening(hall):
        audits = count(hall, AuditEntry)

        def person() -> None:
            wait_for(lambda: prompt_is(hall, "请按压手指"), what="first prompt")
            emu.ok("press 3")
            wait_for(lambda: prompt_is(hall, "该指纹已录入"), what="refusal on the screen")

        thread, errors = in_thread(person)
        code, out = cli(runner, "enroll", "door", "--staff", "S001", "--timeout", "5")
        thread.join(10)
        assert not errors, errors
        assert code == 1 and "already enrolled on page 3 (mapped to S005)" in out, out
        assert job(hall) == ("failed", "duplicate", 3)
        assert emu.status()["templates"] == [0, 1, 2, 3, 4]
        assert count(hall, DeviceTemplate) == 1 and count(hall, AuditEntry) == audits
        # The finger still on the sensor is not a punch; the next press is.
        wait_for(lambda: emu.status()["gen_img"] > 3)
        assert count(hall, Punch) == 0
        emu.ok("release")
        polls = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > polls + 1, what="the lift seen")
        emu.ok("press 3")
        wait_for(lambda: count(hall, Punch) == 1, what="punch after the refusal")
        emu.ok("release")


def test_a_job_is_cancelled_and_times_out_cleanly(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess
) -> None:
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    assert cli(runner, "map", "door", "--page", "3", "--staff", "S005")[0] == 0
    with listening(hall):
        code, out = cli(runner, "enroll", "door", "--staff", "S004", "--no-wait")
        assert code == 0 and "enrol job 1 handed" in out, out
        wait_for(lambda: job(hall) == ("running", "press", None), what="job running")
        # A second job for the same reader waits for none: refused, nothing added.
        code, out = cli(runner, "enroll", "door", "--staff", "S001")
        assert code == 1 and "job 1 open already" in out
        assert count(hall, DeviceJob) == 1
        code, out = cli(runner, "jobs")
        assert "1: door S004 running (press)" in out
        code, out = cli(runner, "jobs", "--cancel", "1")
        assert code == 0, out
        wait_for(lambda: prompt_is(hall, "录入已取消"), what="cancel on the screen")
        assert job(hall) == ("cancelled", "cancelled", None)
        code, out = cli(runner, "jobs", "--cancel", "1")
        assert code == 1 and "cancelled already" in out
        # Back to clocking in.
        emu.ok("press 3")
        wait_for(lambda: count(hall, Punch) == 1, what="punch after the cancel")
        emu.ok("release")
        # Nobody presses: the job times out, the reader goes back to clocking in.
        code, out = cli(runner, "enroll", "door", "--staff", "S004", "--timeout", "1")
        assert code == 1 and "timeout" in out and "nothing changed" in out, out
        assert job(hall) == ("failed", "timeout", None)
        assert count(hall, DeviceTemplate) == 1 and emu.status()["templates"] == [0, 1, 2, 3, 4]
        emu.ok("press 3")
        wait_for(lambda: count(hall, Punch) == 2, what="punch after the timeout")
        emu.ok("release")
        code, out = cli(runner, "jobs", "--format", "json")
        assert [(r["state"], r["stage"]) for r in json.loads(out)] == [
            ("cancelled", "cancelled"),
            ("failed", "timeout"),
        ]
    # No listener any more (the row says "disconnected"): the command opens the port itself.
    code, out = cli(runner, "enroll", "door", "--staff", "S004", "--timeout", "1")
    assert code == 1 and "no running listener polls door" in out
    assert "timed out waiting for the finger" in out
    assert count(hall, DeviceJob) == 2


def test_a_job_no_listener_takes_times_out(hall: Flask, runner: FlaskCliRunner) -> None:
    """A listener that stopped without a word (SIGKILL): the row still looks fresh, the job
    stays pending; the command gives up after its timeout and cancels the job."""
    assert cli(runner, "add", "door", "--port", "/dev/null-reader")[0] == 0
    with hall.app_context():
        device = db.session.scalar(select(Device))
        device.state = "connected"
        device.last_seen = utcnow()
        db.session.commit()
        db.session.remove()
    code, out = cli(runner, "enroll", "door", "--staff", "S004", "--timeout", "1")
    assert code == 1 and "no answer from the listener; cancelled" in out, out
    assert job(hall) == ("cancelled", "timeout", None)


ENROL_SHOTS = Path("/tmp/shots/r-readers")
SIZES = [(1920, 1080), (1366, 768), (1024, 600), (1280, 800), (390, 844)]


def test_the_clock_screen_guides_an_enrolment(
    hall: Flask,
    runner: FlaskCliRunner,
    emu: EmulatorProcess,
    browser: Browser,
    live_url: str,
) -> None:
    """In a real browser: the prompts of a job the listener runs, at the hall's sizes."""
    ENROL_SHOTS.mkdir(parents=True, exist_ok=True)
    assert cli(runner, "add", "door", "--port", str(emu.link))[0] == 0
    with listening(hall):
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        try:
            page.goto(f"{live_url}/clock")
            box = page.locator("#enrol")
            expect(box).to_be_hidden()
            assert cli(runner, "enroll", "door", "--staff", "S004", "--no-wait")[0] == 0
            expect(box.locator(".prompt")).to_have_text("请按压手指", timeout=5000)
            expect(box.locator(".who")).to_contain_text("door")
            expect(page.locator("main")).to_be_hidden()  # the last punch is not in the way
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(ENROL_SHOTS / f"clock-enrol-press-{width}x{height}.png"))
            page.set_viewport_size({"width": 1366, "height": 768})
            emu.ok("press unknown")
            expect(box.locator(".prompt")).to_have_text("请抬起手指", timeout=5000)
            emu.ok("release")
            expect(box.locator(".prompt")).to_have_text("请再按一次", timeout=5000)
            page.screenshot(path=str(ENROL_SHOTS / "clock-enrol-again-1366x768.png"))
            emu.ok("press unknown")
            expect(box.locator(".prompt")).to_have_text("录入成功", timeout=5000)
            expect(box).to_have_class("done")
            page.screenshot(path=str(ENROL_SHOTS / "clock-enrol-done-1366x768.png"))
            emu.ok("release")
            # The end stays a few seconds, then the screen is the clock-in screen again.
            expect(box).to_be_hidden(timeout=15000)
            expect(page.locator("main")).to_be_visible()
        finally:
            context.close()
    assert job(hall) == ("done", "done", 5)
