"""The clock-in screen in a real browser, fed by a real listener polling the emulator.

The emulator runs on a real pseudo-terminal; ``unplug`` / ``plug`` pull and put back the
cable, and the screen must say so within seconds (issue 11). Screenshots go to
/tmp/shots/sec-live/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, Listener
from kiosk.extensions import db
from kiosk.models import Device, DeviceTemplate, Hall, Staff
from kiosk.services.readers import DatabaseSink, spec_of
from tests.devices.helpers import FAST, wait_for


@pytest.fixture
def server(hall: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, hall, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    before = set(threading.enumerate())
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
    # Let the request threads finish before the DB goes.
    for other in set(threading.enumerate()) - before:
        if other is not threading.current_thread():
            other.join(5)


SHOTS = Path("/tmp/shots/sec-live")


def add_door(hall: Flask, emu: EmulatorProcess) -> object:
    """The reader ``door`` on the emulator's link, page 1 mapped to S002 (李强)."""
    with hall.app_context():
        hall_row = db.session.scalar(select(Hall))
        device = Device(hall_id=hall_row.id, name="door", port=str(emu.link))
        db.session.add(device)
        db.session.flush()
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S002"))
        db.session.add(DeviceTemplate(device_id=device.id, page=1, staff_id=staff.id))
        db.session.commit()
        spec = spec_of(device)
        db.session.remove()
    return spec


def test_a_press_shows_on_the_clock_screen(
    hall: Flask, emu: EmulatorProcess, server: str, browser: Browser
) -> None:
    hall.config["CLOCK_REFRESH_SECONDS"] = 1.5  # the default, not the fast test setting
    spec = add_door(hall, emu)
    with Listener([spec], DatabaseSink(hall), FAST) as listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED)
        page = browser.new_page()
        try:
            page.goto(f"{server}/clock")
            expect(page.locator("#idle")).to_have_text("请将手指放在指纹仪上")
            pressed = time.monotonic()
            emu.ok("press 1")
            expect(page.locator("#name")).to_have_text("李强", timeout=10000)
            # The screen polls every CLOCK_REFRESH_SECONDS (1.5 s by default): a punch
            # shows within about two seconds of the press.
            assert time.monotonic() - pressed < 2.5
            expect(page.locator("#verdict")).not_to_be_empty()
            slot_or_note = page.locator("#detail").inner_text()
            assert slot_or_note.count(":") == 2  # the punch time HH:MM:SS
            emu.ok("release")
            wait_for(lambda: not listener.workers[0].finger_down)
            emu.ok("press unknown")
            expect(page.locator("#verdict")).to_have_text("未能识别，请重按手指", timeout=10000)
            expect(page.locator("#name")).to_have_text("")
            expect(page.locator("#recent li")).to_have_count(2)
            font_px = page.eval_on_selector(
                "#verdict", "e => parseFloat(getComputedStyle(e).fontSize)"
            )
            assert font_px >= 60  # readable from a distance
        finally:
            page.close()


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1280, 800)])
def test_an_unplugged_reader_shows_a_red_notice_and_its_return(
    hall: Flask, emu: EmulatorProcess, server: str, browser: Browser, width: int, height: int
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    spec = add_door(hall, emu)
    notice = None
    with Listener([spec], DatabaseSink(hall), FAST) as listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED)
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        try:
            page.goto(f"{server}/clock")
            notice = page.locator("#reader-notice")
            expect(notice).to_be_hidden()
            page.screenshot(path=str(SHOTS / f"clock-reader-ok-{width}x{height}.png"))

            emu.ok("unplug")
            expect(notice).to_be_visible(timeout=5000)
            expect(notice.locator(".text")).to_have_text("指纹机未连接，请联系值班人员")
            expect(notice.locator(".detail")).to_contain_text("door")
            colour = notice.evaluate("e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(200, 16, 46)"  # red
            box = notice.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height
            assert box["width"] >= width * 0.8  # across the screen, not a corner badge
            font_px = notice.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert font_px >= 50  # readable from the queue
            page.screenshot(path=str(SHOTS / f"clock-reader-down-{width}x{height}.png"))

            emu.ok("plug")
            expect(notice).to_have_attribute("data-state", "back", timeout=8000)
            expect(notice.locator(".text")).to_have_text("指纹机已恢复，请按手指")
            page.screenshot(path=str(SHOTS / f"clock-reader-back-{width}x{height}.png"))
            expect(notice).to_be_hidden(timeout=8000)
            emu.ok("press 1")
            expect(page.locator("#name")).to_have_text("李强", timeout=10000)
            page.screenshot(path=str(SHOTS / f"clock-punch-{width}x{height}.png"))
        finally:
            context.close()


def test_a_lost_server_is_said_too(
    hall: Flask, emu: EmulatorProcess, server: str, browser: Browser
) -> None:
    spec = add_door(hall, emu)
    with Listener([spec], DatabaseSink(hall), FAST) as listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED)
        context = browser.new_context(viewport={"width": 1920, "height": 1080})
        page = context.new_page()
        try:
            page.goto(f"{server}/clock")
            notice = page.locator("#reader-notice")
            expect(notice).to_be_hidden()
            page.route("**/clock/events*", lambda route: route.abort())
            expect(notice).to_have_attribute("data-state", "lost", timeout=15000)
            expect(notice).to_contain_text("打卡屏与服务器连接中断")
            page.screenshot(path=str(SHOTS / "clock-server-lost-1920x1080.png"))
            page.unroute("**/clock/events*")
            expect(notice).to_have_attribute("data-state", "back", timeout=15000)
        finally:
            context.close()


SIZES = [(1920, 1080), (1366, 768), (1024, 600), (1280, 800), (390, 844)]


def test_the_clock_screen_says_punches_are_held_and_clears_when_stored(
    hall: Flask, server: str, browser: Browser
) -> None:
    import json
    from pathlib import Path

    with hall.app_context():
        hall_row = db.session.scalar(select(Hall))
        db.session.add(Device(hall_id=hall_row.id, name="door", port="/dev/null"))
        db.session.commit()
        db.session.remove()
    status = Path(hall.instance_path) / "devices" / "status.json"
    status.parent.mkdir(parents=True, exist_ok=True)

    def write(backlog: int) -> None:
        entry = {"state": "connected", "backlog": backlog, "backlog_since": None}
        status.write_text(json.dumps({"devices": {"door": entry}}), encoding="utf-8")

    write(4)
    shots = Path("/tmp/shots/readers")
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    try:
        page.goto(f"{server}/clock")
        notice = page.locator("#held")
        expect(notice).to_have_text("暂存4条打卡，数据库恢复后自动写入", timeout=10000)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=str(shots / f"clock-held-{width}x{height}.png"))
            box = notice.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        write(0)
        expect(notice).to_be_hidden(timeout=10000)
    finally:
        page.close()
