"""Back-office pages as people see them (issue 11): the work order's 属实/不属实 radio
buttons sit beside their labels, the audit log fits the screen; screenshots at the hall's
sizes for a person to look at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser

from kiosk.extensions import db
from kiosk.models import Rating, Staff, utcnow
from kiosk.services.halls import resolve_hall
from tests.admin.test_browser import sign_in

SHOTS = Path("/tmp/shots/screens")
SIZES = [(1366, 768), (1920, 1080), (390, 844)]


def _bad_review(app: Flask) -> str:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        staff = db.session.scalar(db.select(Staff).where(Staff.staff_no == "S001"))
        assert staff is not None
        db.session.add(
            Rating(
                hall_id=hall.id,
                rating_id="BAD1",
                staff_id=staff.id,
                rated_at=utcnow() - dt.timedelta(hours=1),
                level=1,
                channel="counter",
                reasons="态度不好",
                comment="窗口人员一直在看手机",
            )
        )
        db.session.commit()
    return "BAD1"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_work_order_radios_sit_beside_their_labels(
    app: Flask,
    browser: Browser,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    width: int,
    height: int,
) -> None:
    rating_id = _bad_review(app)
    make_user("duty1", "duty")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(8000)
    try:
        page = context.new_page()
        sign_in(page, live_url, "duty1")
        page.goto(f"{live_url}/admin/workorders/{rating_id}")
        for value in ("upheld", "unfounded"):
            radio = page.locator(f'input[name="verdict"][value="{value}"]')
            label = radio.locator("xpath=..")
            radio_box, label_box = radio.bounding_box(), label.bounding_box()
            assert radio_box is not None and label_box is not None
            # The radio is the label's first thing and the text follows on its line.
            assert radio_box["x"] - label_box["x"] < 8, (radio_box, label_box)
            assert label_box["height"] < 3 * radio_box["height"] + 20, label_box
            text_left = page.evaluate(
                """(label) => { const range = document.createRange();
                     const node = [...label.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
                     range.selectNodeContents(node); return range.getClientRects()[0].left; }""",
                label.element_handle(),
            )
            gap = text_left - (radio_box["x"] + radio_box["width"])
            assert 0 <= gap < 16, f"the label text is {gap}px away from its radio"
        page.screenshot(path=str(SHOTS / f"workorder-{width}x{height}.png"), full_page=True)
        for path, name in (
            ("/admin/today", "today"),
            ("/admin/reports/weekly?week=2026-W37", "weekly"),
            ("/admin/corrections?staff_no=S004&day=2026-10-27", "corrections"),
        ):
            page.goto(f"{live_url}{path}")
            page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), SIZES[:2])
def test_audit_log_fits_the_screen(
    app: Flask,
    browser: Browser,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    width: int,
    height: int,
) -> None:
    from tests.admin.test_publishing import _publish

    _publish(app)  # an entry with long digests, which once made the table wider than the screen
    make_user("boss", "admin")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    context.set_default_timeout(8000)
    try:
        page = context.new_page()
        sign_in(page, live_url, "boss")
        page.goto(f"{live_url}/admin/audit")
        assert page.locator("#audit tbody tr").count() >= 2
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"the audit log is {wide}px wide on a {width}px screen"
        page.screenshot(path=str(SHOTS / f"audit-{width}x{height}.png"), full_page=True)
        page.goto(f"{live_url}/admin/periods")
        page.screenshot(path=str(SHOTS / f"periods-{width}x{height}.png"), full_page=True)
        page.goto(f"{live_url}/admin/periods/2026-B5")
        page.screenshot(path=str(SHOTS / f"published-{width}x{height}.png"), full_page=True)
    finally:
        context.close()
