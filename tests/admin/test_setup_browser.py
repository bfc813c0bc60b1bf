"""The set-up pages of SPEC 10 in headless Chromium at 1920x1080, as an admin would use them.

Each page is opened, a bad input refused beside its field, then the change made; a
screenshot of every page goes to ``KIOSK_SHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Assignment, Hall, Staff, StaffPhoto, Unit, Window
from tests.admin.test_browser import sign_in


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    yield context.new_page()
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KIOSK_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shot(page: Page, shots: Path, name: str) -> None:
    backend = os.environ.get("KIOSK_TEST_DB", "sqlite")
    page.screenshot(path=str(shots / f"{name}-{backend}.png"), full_page=True)
    # Nothing is wider than the screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1920


def _admin(page: Page, live_url: str, make_user: Callable[..., int]) -> None:
    make_user("admin1", "admin")
    sign_in(page, live_url, "admin1")


def test_units_and_windows(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shots: Path,
) -> None:
    _admin(page, live_url, make_user)
    page.goto(f"{live_url}/admin/units")
    expect(page.locator("#unit-list")).to_contain_text("市场监督管理局")
    page.locator("#unit-add").click()
    form = page.locator("#unit-form")
    form.get_by_label("单位代码（code）").fill("SCJG")
    form.get_by_label("单位名称（name）").fill("重复的单位")
    form.get_by_role("button", name="添加").click()
    expect(page.locator("#code-error")).to_contain_text("已存在")
    _shot(page, shots, "unit-new-refused")
    form.get_by_label("单位代码（code）").fill("GAJ")
    form.get_by_label("单位名称（name）").fill("市公安局")
    form.get_by_role("button", name="添加").click()
    expect(page.get_by_role("alert").first).to_contain_text("已添加单位 GAJ 市公安局")
    expect(page.locator("#unit-list")).to_contain_text("市公安局")
    _shot(page, shots, "units")
    page.locator('tr[data-unit="GAJ"]').get_by_role("link", name="修改").click()
    page.get_by_label("单位名称（name）").fill("市公安局出入境管理大队")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#unit-list")).to_contain_text("市公安局出入境管理大队")

    page.goto(f"{live_url}/admin/windows")
    page.locator("#window-add").click()
    form = page.locator("#window-form")
    form.get_by_label("窗口编号（code）").fill("W05")
    form.get_by_label("窗口名称（name）").fill("出入境证件")
    form.get_by_role("button", name="添加").click()
    expect(page.locator("#unit-error")).to_contain_text("请选择所属单位")
    _shot(page, shots, "window-new-refused")
    form.get_by_label("所属单位（unit）").select_option("GAJ")
    form.get_by_role("button", name="添加").click()
    expect(page.locator('tr[data-window="W05"]')).to_contain_text("市公安局出入境管理大队")
    page.locator('tr[data-window="W03"]').get_by_role("link", name="修改").click()
    expect(page.get_by_label("承办办件（handles_cases）")).not_to_be_checked()
    page.get_by_label("承办办件（handles_cases）").check()
    _shot(page, shots, "window-edit")
    page.get_by_role("button", name="保存").click()
    expect(page.locator('tr[data-window="W03"]')).to_contain_text("是")
    _shot(page, shots, "windows")
    with app.app_context():
        assert db.session.scalar(select(Window.handles_cases).where(Window.code == "W03")) is True
        assert db.session.scalar(select(db.func.count(Unit.id))) == 3


def test_hall_settings(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shots: Path,
) -> None:
    _admin(page, live_url, make_user)
    page.goto(f"{live_url}/admin/hall")
    form = page.locator("#hall-form")
    expect(form.locator('input[name="schedule-0-am-start"]')).to_have_value("08:30")
    form.locator('input[name="schedule-0-am-start"]').fill("8:30am")
    form.locator('textarea[name="extra_workdays"]').fill("2026-09-12\n2026-10-16")
    form.get_by_role("button", name="保存设置").click()
    expect(page.locator("#schedule-0-am-start-error")).to_contain_text("时:分")
    expect(page.locator("#extra_workdays-error")).to_contain_text("闭厅日")
    _shot(page, shots, "hall-refused")
    with app.app_context():
        assert db.session.scalars(select(Hall)).one().settings["schedules"][0]["am"][0] == "08:30"
    form.locator('input[name="schedule-0-am-start"]').fill("08:45")
    form.locator('textarea[name="extra_workdays"]').fill("2026-09-12\n2026-11-07")
    form.locator('input[name="grace_minutes"]').fill("3")
    form.locator('input[name="schedule-2-name"]').fill("国庆")
    form.locator('input[name="schedule-2-from"]').fill("10-01")
    form.locator('input[name="schedule-2-to"]').fill("10-07")
    for key, value in (
        ("am-start", "09:00"),
        ("am-end", "12:00"),
        ("pm-start", "14:00"),
        ("pm-end", "17:00"),
    ):
        form.locator(f'input[name="schedule-2-{key}"]').fill(value)
    form.get_by_role("button", name="保存设置").click()
    expect(page.get_by_role("alert").first).to_contain_text("已保存中心设置")
    # Third, inside winter's range: it never applies, and the page says so.
    expect(page.get_by_role("alert").nth(1)).to_contain_text("“国庆”")
    expect(page.locator('input[name="schedule-2-name"]')).to_have_value("国庆")
    for index, order in ((0, "2"), (1, "3"), (2, "1")):
        page.locator(f'input[name="schedule-{index}-order"]').fill(order)
    page.get_by_role("button", name="保存设置").click()
    expect(page.get_by_role("alert")).to_have_count(1)
    expect(page.locator('input[name="schedule-0-name"]')).to_have_value("国庆")
    _shot(page, shots, "hall")
    with app.app_context():
        settings = db.session.scalars(select(Hall)).one().settings
        assert settings["grace_minutes"] == 3
        assert settings["extra_workdays"] == ["2026-09-12", "2026-11-07"]
        assert [s["name"] for s in settings["schedules"]] == ["国庆", "winter", "summer"]


def test_staff_list_new_person_move_leave_and_photo(
    app: Flask,
    page: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    shots: Path,
    tmp_path: Path,
) -> None:
    _admin(page, live_url, make_user)
    page.goto(f"{live_url}/admin/staff")
    expect(page.locator("#staff-list")).to_contain_text("张敏")
    _shot(page, shots, "staff")
    page.locator("#staff-add").click()
    form = page.locator("#staff-form")
    form.get_by_label("工号（staff_no）").fill("S001")
    form.get_by_label("姓名（name）").fill("李华")
    form.get_by_label("窗口（window_code）").select_option("W02")
    form.get_by_label("起始日期（start_date）").fill("2026-11-02")
    form.get_by_role("button", name="添加").click()
    expect(page.locator("#staff_no-error")).to_contain_text("已存在")
    _shot(page, shots, "staff-new-refused")
    page.get_by_label("工号（staff_no）").fill("S100")
    page.get_by_role("button", name="添加").click()
    expect(page.get_by_role("alert").first).to_contain_text("已添加工作人员 S100 李华")
    page.locator("#staff-search").get_by_label("工号或姓名").fill("李华")
    page.locator("#staff-search").get_by_role("button", name="查询").click()
    expect(page.locator("#staff-list tbody tr")).to_have_count(1)
    page.locator("#staff-list").get_by_role("link", name="李华").click()

    move = page.locator("#move-form")
    move.get_by_label("调往窗口（window_code）").select_option("W01")
    move.get_by_label("调岗日期（start_date）").fill("2026-10-01")
    move.get_by_role("button", name="调岗").click()
    expect(page.locator("#move-start_date-error")).to_contain_text("重叠")
    page.locator("#move-form").get_by_label("调岗日期（start_date）").fill("2026-11-16")
    page.locator("#move-form").get_by_role("button", name="调岗").click()
    expect(page.get_by_role("alert").first).to_contain_text("已调岗")
    page.goto(f"{live_url}/admin/staff/S100")
    leave = page.locator("#leave-form")
    leave.get_by_label("离岗日期（end_date，当天仍在岗）").fill("2026-12-31")
    leave.get_by_role("button", name="登记离岗").click()
    expect(page.get_by_role("alert").first).to_contain_text("已登记离岗")

    page.goto(f"{live_url}/admin/staff/S001?month=2026-10")
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"<html>not an image</html>")
    page.locator('#photo-form input[type="file"]').set_input_files(str(bad))
    page.locator("#photo-form").get_by_role("button", name="上传", exact=True).click()
    expect(page.locator("#photo-error")).to_contain_text("无法识别")
    good = tmp_path / "photo.png"
    image = Image.new("RGB", (900, 1200), (200, 210, 225))
    for x in range(300, 600):
        for y in range(250, 700):
            image.putpixel((x, y), (60, 70, 90))
    image.save(good)
    page.locator('#photo-form input[type="file"]').set_input_files(str(good))
    page.locator("#photo-form").get_by_role("button", name="上传", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("已更新 张敏 的照片")
    page.goto(f"{live_url}/admin/staff/S001?month=2026-10")
    expect(page.locator("#person-photo img")).to_be_visible()
    assert page.locator("#person-photo img").evaluate("img => img.naturalWidth") == 480
    expect(page.locator("#month-days")).to_contain_text("上午上班")
    _shot(page, shots, "person")
    page.goto(f"{live_url}/admin/staff/S100")
    expect(page.locator("#history")).to_contain_text("2026-11-15")
    _shot(page, shots, "person-moved-left")
    with app.app_context():
        person = db.session.scalars(select(Staff).where(Staff.staff_no == "S100")).one()
        spans = sorted(
            (a.start_date.isoformat(), a.end_date.isoformat() if a.end_date else None)
            for a in db.session.scalars(select(Assignment).where(Assignment.staff_id == person.id))
        )
        assert spans == [("2026-11-02", "2026-11-15"), ("2026-11-16", "2026-12-31")]
        assert db.session.scalar(select(db.func.count(StaffPhoto.id))) == 1


def test_a_duty_officer_reads_without_forms(
    page: Page, live_url: str, make_user: Callable[..., int], example_hall: Path, shots: Path
) -> None:
    make_user("duty1", "duty")
    sign_in(page, live_url, "duty1")
    page.goto(f"{live_url}/admin/staff/S005?month=2026-10")
    expect(page.locator("#month-days")).to_contain_text("缺卡")
    expect(page.locator("#move-form")).to_have_count(0)
    expect(page.locator("#photo-form")).to_have_count(0)
    page.goto(f"{live_url}/admin/hall")
    expect(page.get_by_role("button", name="保存设置")).to_have_count(0)
    expect(page.locator('input[name="grace_minutes"]')).to_have_attribute("readonly", "")
    _shot(page, shots, "hall-read-only")
    assert page.goto(f"{live_url}/admin/units/new").status == 403  # type: ignore[union-attr]


def test_a_new_hall_from_an_empty_database(
    app: Flask, page: Page, live_url: str, make_user: Callable[..., int], shots: Path
) -> None:
    make_user("root", "admin")
    sign_in(page, live_url, "root")
    page.goto(f"{live_url}/admin/hall")
    expect(page).to_have_url(f"{live_url}/admin/hall/new")
    form = page.locator("#hall-new-form")
    form.get_by_label("中心代码（code）").fill("潜江")
    form.get_by_label("中心名称（name）").fill("潜江市行政服务中心")
    form.get_by_role("button", name="建立").click()
    expect(page.locator("#code-error")).to_contain_text("字母")
    _shot(page, shots, "hall-new-refused")
    page.get_by_label("中心代码（code）").fill("QJ")
    page.get_by_role("button", name="建立").click()
    expect(page.get_by_role("alert").first).to_contain_text("已建立 潜江市行政服务中心")
    expect(page.locator('input[name="schedule-1-name"]')).to_have_value("summer")
    page.goto(f"{live_url}/admin/units/new")
    page.get_by_label("单位代码（code）").fill("SCJG")
    page.get_by_label("单位名称（name）").fill("市场监督管理局")
    page.get_by_role("button", name="添加").click()
    expect(page.locator("#unit-list")).to_contain_text("市场监督管理局")
    with app.app_context():
        assert db.session.scalars(select(Hall)).one().code == "QJ"
