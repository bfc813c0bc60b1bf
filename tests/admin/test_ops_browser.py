"""The set-up pages in headless Chromium against a real server, at 1920x1080 (SPEC 10):
a terminal registered and its QR code read and paired on a pad that then rates; a case
file uploaded with a bad row, then fixed; a reader added and a finger enrolled on the
emulator through a running listener; a rule file uploaded, compared and adopted.

Screenshots go to ``/work/wt/shots/bo-ops`` (or ``$KIOSK_SHOTS``) for people to look at.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from devices.emulator import EmulatorProcess
from kiosk.extensions import db
from kiosk.models import Case, DeviceTemplate, Rating
from kiosk.services.rulefile import rules_in_force
from tests.admin.test_browser import sign_in
from tests.admin.test_rules_page import STRICT
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import wait_for
from tests.devices.test_enrol_listening import job, listening

SHOTS = Path(os.environ.get("KIOSK_SHOTS", "/work/wt/shots/bo-ops"))


@pytest.fixture
def desk(browser: Browser) -> Iterator[Page]:
    """The office's screen: 1920x1080, Chinese."""
    context: BrowserContext = browser.new_context(
        viewport={"width": 1920, "height": 1080}, locale="zh-CN"
    )
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_register_a_terminal_read_its_qr_pair_the_pad_and_rate(
    app: Flask,
    browser: Browser,
    desk: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
) -> None:
    make_user("admin1", "admin")
    sign_in(desk, live_url, "admin1")
    desk.get_by_role("navigation").get_by_role("link", name="评价终端").click()
    form = desk.locator("#new-terminal")
    form.get_by_label("终端名称").fill("W01 评价器")
    form.get_by_label("所在窗口（window_code）").select_option("W01")
    form.get_by_role("button", name="登记并生成密钥").click()
    expect(desk.locator("#terminal-key")).to_contain_text("只在本页显示这一次")
    shot(desk, "terminal-key-once")
    # Read the QR code off the screen, as the pad's camera would.
    png = desk.locator("#pairing-qr svg").screenshot()
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    key = desk.locator("#terminal-key-text").inner_text().strip()
    assert code.text == f"{live_url}/counter/pair#key={key}"
    desk.get_by_role("link", name="已完成配对，返回终端列表").click()
    expect(desk.locator("#terminal-list")).to_contain_text("W01 评价器")
    expect(desk.locator("#terminal-list")).not_to_contain_text(key)
    shot(desk, "terminals-list")

    pad_context = browser.new_context(
        viewport={"width": 1280, "height": 800}, has_touch=True, locale="zh-CN"
    )
    pad_context.set_default_timeout(15000)
    requested: list[str] = []
    pad_context.on("request", lambda request: requested.append(request.url))
    try:
        pad = pad_context.new_page()
        pad.goto(code.text)
        expect(pad.locator("#idle")).to_be_visible()
        assert pad.url == f"{live_url}/counter"
        # The key went in the form body only: never in an address the server logs.
        assert all(key not in url for url in requested)
        card = pad.locator(".staff-card", has_text="张敏")
        expect(card).to_be_visible()
        card.tap()
        try:
            expect(pad.locator("#open")).to_be_visible(timeout=3000)
        except AssertionError:
            card.tap()  # the first tap landed before counter.js bound its handler
            expect(pad.locator("#open")).to_be_visible()
        pad.get_by_role("button", name="请群众评价").tap()
        expect(pad.locator("#rate")).to_be_visible()
        pad.get_by_role("button", name="非常满意", exact=True).tap()
        expect(pad.get_by_role("heading", name="感谢您的评价")).to_be_visible()
    finally:
        pad_context.close()
    with app.app_context():
        rating = db.session.scalars(
            select(Rating).where(Rating.channel == "counter").order_by(Rating.id.desc())
        ).first()
        assert rating is not None and rating.level == 5 and rating.staff.staff_no == "S001"


def test_upload_a_case_file_with_a_bad_row_then_fixed(
    app: Flask, desk: Page, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    sign_in(desk, live_url, "duty1")
    desk.get_by_role("navigation").get_by_role("link", name="数据导入").click()
    header = "case_no,staff_no,matter,accepted_at,due_at,completed_at,weight\n"
    good = (
        "QJ209900001,S001,设立登记,2026-11-02T09:00:00,2026-11-06T17:00:00,2026-11-04T10:00:00,\n"
    )
    bad = "QJ209900002,S999,变更登记,2026-11-02T09:30:00,2026-11-01T17:00:00,,abc\n"
    form = desk.locator("#import-form")
    form.get_by_label("导入类型").select_option("cases")
    form.locator("input[name=file]").set_input_files(
        files=[
            {"name": "办件.csv", "mimeType": "text/csv", "buffer": (header + good + bad).encode()}
        ]
    )
    form.get_by_role("button", name="上传并导入").click()
    problems = desk.locator("#import-problems")
    expect(problems).to_contain_text("“办件.csv”未导入")
    expect(problems.locator("tbody tr").first).to_contain_text("3")
    expect(desk.locator('[data-field="file"]')).to_contain_text("未导入任何数据")
    shot(desk, "imports-bad-row")
    with app.app_context():
        assert db.session.scalar(select(Case.id).where(Case.case_no == "QJ209900001")) is None
    fixed = (
        bad.replace("S999", "S002").replace("2026-11-01T17", "2026-11-05T17").replace("abc", "2")
    )
    form.get_by_label("导入类型").select_option("cases")
    form.locator("input[name=file]").set_input_files(
        files=[
            {"name": "办件.csv", "mimeType": "text/csv", "buffer": (header + good + fixed).encode()}
        ]
    )
    form.get_by_role("button", name="上传并导入").click()
    expect(desk.get_by_role("alert").first).to_contain_text("共 2 行，新增 2")
    shot(desk, "imports-done")
    with app.app_context():
        assert db.session.scalar(select(Case.weight).where(Case.case_no == "QJ209900002")) == 2


def test_add_a_reader_and_enrol_a_finger_through_the_listener(
    app: Flask,
    desk: Page,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    tmp_path: Path,
) -> None:
    app.config.update(FAST_CONFIG)
    make_user("admin1", "admin")
    sign_in(desk, live_url, "admin1")
    with EmulatorProcess(tmp_path / "fp0", templates=5) as emu:
        desk.goto(f"{live_url}/admin/devices")
        form = desk.locator("#add-device")
        form.get_by_label("名称").fill("东门")
        form.get_by_label("串口（port）").fill(str(emu.link))
        form.get_by_role("button", name="登记").click()
        expect(desk.get_by_role("alert").first).to_contain_text("已登记指纹机“东门”")
        with listening(app):
            desk.reload()
            expect(desk.locator('#device-list tr[data-device="东门"]')).to_contain_text("在线")
            shot(desk, "devices-online")
            enrol = desk.locator("#enrol-form")
            enrol.get_by_label("指纹机").select_option(label="东门")
            enrol.get_by_label("工作人员（staff_no）").select_option("S004")
            enrol.get_by_role("button", name="开始录入").click()
            progress = desk.locator("#job-progress")
            expect(progress).to_contain_text("请工作人员在指纹机上按压手指")
            shot(desk, "enrol-press")
            emu.ok("press unknown")
            try:
                wait_for(lambda: (job(app) or ("",))[1] == "lift", timeout=20, what="lift")
            except AssertionError:
                raise AssertionError(f"{job(app)} {emu.status()}") from None
            emu.ok("release")
            expect(progress).to_contain_text("请再按一次同一手指")
            emu.ok("press unknown")
            expect(progress).to_contain_text("录入成功（第 5 页）")
            emu.ok("release")
            expect(desk.locator("#cancel-job")).to_have_count(0)
            shot(desk, "enrol-done")
            desk.get_by_role("link", name="返回指纹机列表").click()
            expect(desk.locator("#device-list")).to_contain_text("5：S004")
            shot(desk, "devices-enrolled")
    with app.app_context():
        mapping = db.session.scalars(select(DeviceTemplate)).one()
        assert (mapping.page, mapping.staff.staff_no) == (5, "S004")


def test_rules_upload_compare_adopt(
    app: Flask, desk: Page, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("leader1", "leader")
    sign_in(desk, live_url, "leader1")
    desk.get_by_role("navigation").get_by_role("link", name="考评规则").click()
    expect(desk.locator("#in-force-name")).to_have_text("default")
    upload = desk.locator("#rules-upload")
    upload.locator("input[name=file]").set_input_files(
        files=[{"name": "bad.toml", "mimeType": "text/plain", "buffer": b"[levels\n"}]
    )
    upload.get_by_role("button", name="上传并校验").click()
    expect(desk.locator('[data-field="file"]')).to_contain_text("规则文件有误")
    shot(desk, "rules-refused")
    upload = desk.locator("#rules-upload")
    upload.locator("input[name=file]").set_input_files(
        files=[{"name": "strict-2027.toml", "mimeType": "text/plain", "buffer": STRICT}]
    )
    upload.get_by_role("button", name="上传并校验").click()
    expect(desk.locator("#rule-changes")).to_contain_text("short_defect_points")
    desk.get_by_label("考评期").fill("2026-B5")
    desk.get_by_role("button", name="重新比较").click()
    movers = desk.locator("#movers")
    expect(movers.locator('tr[data-staff="S002"]')).to_contain_text("5 → 7")
    expect(movers.locator('tr[data-staff="S002"]')).to_contain_text("下降")
    expect(movers.locator('tr[data-staff="S007"]')).to_contain_text("上升")
    shot(desk, "rules-compare")
    desk.get_by_label("启用原因").fill("中心主任办公会决定")
    desk.get_by_role("button", name="启用该规则文件").click()
    expect(desk.locator("#confirm-step")).to_contain_text("确认启用规则文件")
    desk.get_by_role("button", name="确认启用").click()
    expect(desk.get_by_role("alert").first).to_contain_text("已启用规则文件“strict-2027”")
    expect(desk.locator("#in-force-name")).to_have_text("strict-2027")
    shot(desk, "rules-adopted")
    with app.app_context():
        from kiosk.services import rulefile

        rulefile.forget_adopted(app)
        assert rules_in_force().name == "strict-2027"
