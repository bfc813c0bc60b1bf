"""The back office and the public display in headless Chromium against a real server.

Sign-in (and the lockout message), a correction by a duty officer, a leader publishing
a notice, and the hall screen at 1920x1080. One browser for the test session; short waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect

from kiosk.extensions import db
from kiosk.models import AuditEntry, PublishedPeriod, Punch
from tests.admin.conftest import PASSWORD
from tests.admin.test_publishing import _publish


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN"
    )
    context.set_default_timeout(8000)
    yield context.new_page()
    context.close()


def sign_in(page: Page, live_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_url}/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_sign_in_and_lockout(
    app: Flask, page: Page, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    app.config["LOGIN_MAX_FAILURES"] = 3
    make_user("duty1", "duty")
    sign_in(page, live_url, "duty1", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    sign_in(page, live_url, "duty1")
    expect(page).to_have_url(f"{live_url}/admin/")
    expect(page.get_by_role("navigation")).to_contain_text("今日大厅")
    page.get_by_role("button", name="退出").click()
    for _ in range(3):
        sign_in(page, live_url, "duty1", "wrong-password")
    sign_in(page, live_url, "duty1")
    # Locked: the right password is refused with the words of a wrong one (SPEC 8).
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    assert "/admin/login" in page.url


def test_duty_officer_adds_a_correction(
    app: Flask, page: Page, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    sign_in(page, live_url, "duty1")
    page.goto(f"{live_url}/admin/corrections?staff_no=S005&day=2026-10-10")
    expect(page.locator("#day-record")).to_contain_text("缺卡")
    form = page.locator("#add-punch")
    form.get_by_label("工作人员").select_option("S005")
    form.get_by_label("打卡时间").fill("2026-10-10T08:20")
    form.get_by_label("原因").fill("指纹机故障，监控核实到岗")
    form.get_by_role("button", name="补录").click()
    expect(page.get_by_role("alert").first).to_contain_text("已补录打卡")
    expect(page.locator("#punches")).to_contain_text("08:20:00")
    expect(page.locator("#punches")).to_contain_text("补录")
    with app.app_context():
        punches = db.session.scalars(db.select(Punch).where(Punch.source == "correction")).all()
        assert [p.reason for p in punches] == ["指纹机故障，监控核实到岗"]
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "punch.add"))


def test_leader_publishes_a_notice(
    app: Flask, page: Page, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("leader1", "leader")
    sign_in(page, live_url, "leader1")
    page.goto(f"{live_url}/admin/periods")
    form = page.locator("#review-form")
    form.get_by_label("考评期").fill("2026-B5")
    form.get_by_label("计算时点（本地时间）").fill("2026-11-05T12:00")
    form.get_by_role("button", name="计算").click()
    expect(page.locator("#review-individuals")).to_contain_text("张敏")
    page.locator("#review-individuals details").first.click()
    expect(page.locator("#review-individuals details").first).to_contain_text("满意度")
    page.get_by_role("button", name="发布通报").click()
    # The server asks first; cancelling publishes nothing.
    expect(page.locator("#confirm-step")).to_contain_text("确认发布通报")
    expect(page.locator("#confirm-step")).to_contain_text("第 1 版")
    page.locator("#confirm-cancel").click()
    expect(page.locator("#publish-form")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PublishedPeriod.id))) == 0
    page.get_by_role("button", name="发布通报").click()
    page.get_by_role("button", name="确认发布").click()
    expect(page.get_by_role("alert").first).to_contain_text("已发布2026年第5期（9—10月）第 1 版")
    expect(page.locator("#downloads")).to_contain_text("市场监督管理局")
    link = page.get_by_role("link", name="通报 PDF · 市场监督管理局")
    response = page.request.get(live_url + (link.get_attribute("href") or ""))
    assert response.status == 200 and response.body().startswith(b"%PDF")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PublishedPeriod.id))) == 1


def test_public_display_is_readable_at_1920x1080(
    app: Flask, browser: Browser, live_url: str, example_hall: Path, tmp_path: Path
) -> None:
    _publish(app)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    screen = context.new_page()
    screen.goto(f"{live_url}/display")
    first = screen.locator(".slide").first
    expect(first).to_be_visible()
    expect(first).to_contain_text("红旗窗口")
    heading = float(
        screen.locator("header h1").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    )
    body = float(
        screen.locator(".slide h2").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    )
    assert heading >= 56 and body >= 48
    # Nothing scrolls: the screen fits 1920x1080.
    size = screen.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1920 and size[1] <= 1080
    assert screen.locator("svg.chart").count() >= 2
    screen.screenshot(path=str(tmp_path / "display.png"))
    context.close()
