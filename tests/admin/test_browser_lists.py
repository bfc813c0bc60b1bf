"""The growing lists, withdrawals and passwords in headless Chromium at 1920x1080 (issue 13).

Screenshots go to ``/work/wt/shots/bo-lists/`` when that folder exists (to be looked at),
else to the test's temporary folder.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import DutyAssignment, Event, User
from kiosk.services.halls import resolve_hall
from kiosk.services.roster import set_duty
from tests.admin.conftest import PASSWORD

SHOTS = Path("/work/wt/shots/bo-lists")
NEW = "a-much-better-one-7"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN", accept_downloads=True
    )
    context.set_default_timeout(8000)
    yield context.new_page()
    context.close()


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Page, str], None]:
    folder = SHOTS if SHOTS.is_dir() else tmp_path

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def sign_in(page: Page, live_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_url}/admin/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_punch_list_search_filter_page_and_export(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("leader1", "leader")
    sign_in(page, live_url, "leader1")
    page.get_by_role("navigation").get_by_role("link", name="打卡记录").click()
    expect(page.locator("#list-pager")).to_contain_text("共 1006 条")
    shot(page, "punches-all")
    bar = page.locator("#list-filter")
    bar.get_by_label("工号或姓名").fill("王芳")
    bar.get_by_label("窗口").select_option("W02")
    bar.get_by_label("自").fill("2026-10-01")
    bar.get_by_label("至").fill("2026-10-31")
    bar.get_by_role("button", name="查询").click()
    rows = page.locator("#punch-list tbody tr")
    expect(rows.first).to_contain_text("王芳")
    expect(page.locator("#punch-list")).not_to_contain_text("张敏")
    expect(page.locator("#list-pager")).to_contain_text("1 / ")
    page.get_by_role("link", name="下一页 ›").click()
    expect(page.locator("#list-pager .page-no")).to_have_text(re.compile(r"^2 / \d+$"))
    assert "q=" in page.url and "window=W02" in page.url and "page=2" in page.url
    shot(page, "punches-filtered-page2")
    with page.expect_download() as info:
        page.locator("#list-export").click()
    download = info.value
    assert download.suggested_filename.startswith(
        "punches-"
    ) and download.suggested_filename.endswith(".xlsx")
    # A hostile page number in the address bar is clamped, not an error.
    page.goto(f"{live_url}/admin/punches?page=-1&start=2026-99-01")
    expect(page.get_by_role("alert").first).to_contain_text("开始日期")
    expect(page.locator("#list-pager .page-no")).to_have_text(re.compile(r"^1 / "))
    shot(page, "punches-hostile")


def test_duty_officer_withdraws_a_veto_event(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("duty1", "duty")
    sign_in(page, live_url, "duty1")
    page.goto(f"{live_url}/admin/events?q=S005")
    row = page.locator("#event-E005")
    expect(row).to_contain_text("服务态度")
    row.get_by_label("撤销原因").fill("复核：投诉不属实")
    row.get_by_role("button", name="撤销").click()
    expect(page.locator("#confirm-step")).to_contain_text("确认撤销记录")
    expect(page.locator("#confirm-step")).to_contain_text("不再否决")
    shot(page, "event-withdraw-confirm")
    page.get_by_role("button", name="确认撤销").click()
    expect(page.get_by_role("alert").first).to_contain_text("已撤销该记录")
    page.goto(f"{live_url}/admin/events")
    withdrawn = page.locator("#event-E005")
    expect(withdrawn).to_have_class("withdrawn")
    expect(withdrawn).to_contain_text("复核：投诉不属实")
    decoration = withdrawn.locator("td.struck").first.evaluate(
        "cell => getComputedStyle(cell).textDecorationLine"
    )
    assert decoration == "line-through"
    shot(page, "events-withdrawn")
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.event_id == "E005"))
        assert event is not None and event.withdrawn_at is not None


def test_absences_list_pages_and_withdraws(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("duty1", "duty")
    sign_in(page, live_url, "duty1")
    page.goto(f"{live_url}/admin/absences")
    first = page.locator("#absence-list tbody tr").first
    first.get_by_label("撤销原因").fill("登记错误")
    first.get_by_role("button", name="撤销").click()
    expect(page.get_by_role("alert").first).to_contain_text("已撤销该登记")
    expect(page.locator("#absence-list tr.withdrawn")).to_have_count(1)
    expect(page.locator("#absence-list tr.withdrawn")).to_contain_text("登记错误")
    shot(page, "absences-withdrawn")


def test_user_changes_their_own_password(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("unit1", "unit", "SCJG")
    sign_in(page, live_url, "unit1")
    page.locator("#change-password").click()
    form = page.locator("#password-form")
    form.get_by_label("当前密码").fill(PASSWORD)
    form.get_by_label("新密码", exact=True).fill(NEW)
    form.get_by_label("再次输入新密码").fill(NEW + "x")
    form.get_by_role("button", name="确认修改").click()
    expect(page.locator(".field-error")).to_contain_text("两次输入的新密码不一致")
    shot(page, "password-mismatch")
    form.get_by_label("当前密码").fill(PASSWORD)
    form.get_by_label("新密码", exact=True).fill(NEW)
    form.get_by_label("再次输入新密码").fill(NEW)
    form.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("alert").first).to_contain_text("密码已修改")
    page.get_by_role("button", name="退出").click()
    sign_in(page, live_url, "unit1", NEW)
    expect(page).to_have_url(f"{live_url}/admin/")


def test_admin_reset_forces_a_change_at_next_sign_in(
    app: Flask,
    browser: Browser,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("admin1", "admin")
    make_user("duty1", "duty")
    sign_in(page, live_url, "admin1")
    page.goto(f"{live_url}/admin/users")
    row = page.locator('tr[data-user="duty1"]')
    row.get_by_label("操作").select_option("reset")
    row.get_by_label("原因").fill("本人忘记密码")
    row.get_by_role("button", name="执行").click()
    box = page.locator("#temporary-password")
    expect(box).to_contain_text("已重置")
    shot(page, "users-temporary-password")
    temporary = page.locator(".temp-password").inner_text().strip()
    assert len(temporary) == 12
    other = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    duty = other.new_page()
    sign_in(duty, live_url, "duty1", temporary)
    expect(duty).to_have_url(f"{live_url}/admin/password")
    expect(duty.locator("#forced-note")).to_be_visible()
    shot(duty, "password-forced")
    duty.goto(f"{live_url}/admin/today")
    expect(duty).to_have_url(f"{live_url}/admin/password")
    form = duty.locator("#password-form")
    form.get_by_label("当前密码").fill(temporary)
    form.get_by_label("新密码", exact=True).fill(NEW)
    form.get_by_label("再次输入新密码").fill(NEW)
    form.get_by_role("button", name="确认修改").click()
    expect(duty).to_have_url(f"{live_url}/admin/")
    duty.goto(f"{live_url}/admin/today")
    expect(duty.locator("h1")).to_contain_text("今日")
    other.close()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "duty1"))
        assert user is not None and not user.must_change_password


def test_deactivating_a_duty_officer_hands_over_their_days(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shot: Callable[[Page, str], None],
) -> None:
    make_user("admin1", "admin")
    leaving = make_user("duty1", "duty")
    taking = make_user("duty2", "duty")
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        for offset in (1, 2):
            set_duty(
                db.session,
                hall,
                day=dt.date.today() + dt.timedelta(days=offset),
                user_id=leaving,
                actor_id=leaving,
            )
        db.session.commit()
    sign_in(page, live_url, "admin1")
    page.goto(f"{live_url}/admin/users")
    row = page.locator('tr[data-user="duty1"]')
    row.get_by_label("操作").select_option("deactivate")
    row.get_by_label("原因").fill("调离本中心")
    row.get_by_role("button", name="执行").click()
    expect(page.locator("#handover")).to_contain_text("其今后的带班日如何处理")
    page.locator('#handover input[value="hand"]').check()
    page.get_by_label("接手带班人员").select_option(str(taking))
    shot(page, "deactivate-handover")
    page.get_by_role("button", name="确认停用").click()
    expect(page.get_by_role("alert").first).to_contain_text("已更新用户")
    with app.app_context():
        owners = set(db.session.scalars(select(DutyAssignment.user_id)))
        assert owners == {taking}
