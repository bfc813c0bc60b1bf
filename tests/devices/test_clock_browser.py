"""The clock-in screen in a real browser, fed by a real listener polling the emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from devices.emulator import EmulatorProcess
from devices.listener import CONNECTED, Listener
from devices.store import DatabaseSink, spec_of
from kiosk.extensions import db
from kiosk.models import Device, DeviceTemplate, Hall, Staff
from tests.devices.helpers import FAST, wait_for


@pytest.fixture
def server(hall: Flask) -> Iterator[str]:
    hall.config["CLOCK_STREAM_SECONDS"] = 1.0
    httpd = make_server("127.0.0.1", 0, hall, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    before = set(threading.enumerate())
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)
    # Let the request threads (the SSE stream ends by itself) finish before the DB goes.
    for other in set(threading.enumerate()) - before:
        if other is not threading.current_thread():
            other.join(5)


def test_a_press_shows_on_the_clock_screen(
    hall: Flask, emu: EmulatorProcess, server: str, browser: Browser
) -> None:
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
    with Listener([spec], DatabaseSink(hall), FAST) as listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED)
        page = browser.new_page()
        try:
            page.goto(f"{server}/clock")
            expect(page.locator("#idle")).to_have_text("请将手指放在指纹仪上")
            emu.ok("press 1")
            expect(page.locator("#name")).to_have_text("李强", timeout=10000)
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
