"""The push page in headless Chromium at 1920x1080, as a duty officer uses it: the figures,
the rejected records with the platform's reasons, ticking two and resending them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from kiosk.extensions import db
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall
from tests.admin.conftest import PASSWORD
from tests.admin.test_browser import sign_in
from tests.push.platform_double import PlatformState
from tests.push.test_push_run import run_once, status

SHOTS = Path(os.environ.get("KIOSK_SHOTS", "/work/wt/shots/push"))


@pytest.fixture
def wide_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    yield context.new_page()
    context.close()


def test_a_duty_officer_resends_rejected_records(
    push_app: Flask, double: tuple[str, PlatformState], wide_page: Page, live_url: str
) -> None:
    _url, state = double
    state.reject.update(
        {
            "X-QR": "reasons 含有省平台未登记的评价原因“效率低”",
            "X-OTHER": "deptCode ZWB 不是统一社会信用代码",
            "R0005": "proManagerNo S001 未在省平台人员库中登记",
        }
    )
    state.script = ["503"]
    assert run_once(push_app)[0] == 0
    state.reject.clear()
    with push_app.app_context():
        create_user(
            db.session,
            username="duty1",
            password=PASSWORD,
            role="duty",
            hall=resolve_hall(db.session, None),
            unit_code=None,
        )
        db.session.commit()
    page = wide_page
    sign_in(page, live_url, "duty1")
    page.get_by_label("导航").get_by_role("link", name="省平台上报").click()
    expect(page.locator("#rejected-count")).to_have_text("3")
    expect(page.locator("#last-error")).to_contain_text("HTTP 503")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "push-rejected.png"), full_page=True)
    page.get_by_label("选择 X-QR").check()
    page.get_by_label("选择 X-OTHER").check()
    page.get_by_role("button", name="重新上报所选记录").click()
    expect(page.get_by_role("alert")).to_contain_text("已将 2 条评价重新列入待上报")
    expect(page.locator("#pending")).to_have_text("2")
    expect(page.locator("#rejected-count")).to_have_text("1")
    page.screenshot(path=str(SHOTS / "push-resent.png"), full_page=True)
    assert status(push_app)["pending"] == 2
