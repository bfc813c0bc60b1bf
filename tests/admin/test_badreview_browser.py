"""The 好差评 loop in a real browser at 1920×1080, as the three people who work it:
the duty officer calls back, verifies and rectifies; the window's unit appeals; a leader
decides. Screenshots go to /work/wt/shots/loop/ for a person to look at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, Page

from kiosk.extensions import db
from kiosk.models import Rating, Staff, utcnow
from kiosk.services.halls import resolve_hall
from tests.admin.test_browser import sign_in

SHOTS = Path("/work/wt/shots/loop")


def _bad_review(app: Flask) -> str:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        staff = db.session.scalar(db.select(Staff).where(Staff.staff_no == "S001"))
        assert staff is not None
        db.session.add(
            Rating(
                hall_id=hall.id,
                rating_id="QJ-LOOP-1",
                staff_id=staff.id,
                rated_at=utcnow() - dt.timedelta(hours=2),
                level=1,
                channel="counter",
                reasons="推诿扯皮|解释不清",
                comment="材料要求没有一次说清楚，跑了两趟",
                case_no="C-2026-1101",
            )
        )
        db.session.commit()
    return "QJ-LOOP-1"


def _as(browser: Browser, live_url: str, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    page = context.new_page()
    sign_in(page, live_url, username)
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_loop_as_duty_officer_unit_and_leader(
    app: Flask,
    browser: Browser,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
) -> None:
    rating_id = _bad_review(app)
    make_user("duty1", "duty")
    make_user("scjg", "unit", "SCJG")
    make_user("lead1", "leader")
    detail = f"{live_url}/admin/workorders/{rating_id}"

    duty = _as(browser, live_url, "duty1")
    try:
        duty.goto(f"{live_url}/admin/workorders")
        row = duty.locator(f'tr[data-rating-id="{rating_id}"]')
        assert "前" in row.locator(".callback-cell").inner_text()
        _shot(duty, "1-duty-list")
        duty.goto(detail)
        # "Not possible" without a reason: refused beside the form, nothing stored.
        duty.locator('#callback-form input[value="impossible"]').check()
        duty.locator("#callback-form button").click()
        assert "无法回访须写明原因" in duty.locator("#callback-error").inner_text()
        _shot(duty, "2-duty-callback-refused")
        duty.locator('#callback-form input[value="reached"]').check()
        duty.locator('#callback-form textarea[name="note"]').fill(
            "已电话联系群众，反映窗口未一次性告知所需材料，致其往返两次。"
        )
        duty.locator("#callback-form button").click()
        assert "已记录回访" in duty.locator(".flash-success").inner_text()
        assert "已联系上" in duty.locator("#callbacks").inner_text()
        duty.locator('#verify-form input[value="upheld"]').check()
        duty.locator('#verify-form textarea[name="note"]').fill("调取窗口录音录像，情况属实。")
        duty.locator("#verify-form button").click()
        duty.locator('#rectify-form textarea[name="rectification_cause"]').fill(
            "窗口人员对该事项材料清单不熟悉，未履行一次性告知。"
        )
        duty.locator('#rectify-form textarea[name="rectification_action"]').fill(
            "对当事人批评教育；组织窗口学习事项办事指南；已向群众致歉并当场办结。"
        )
        _shot(duty, "3-duty-rectify-form")
        duty.locator("#rectify-form button").click()
        assert "已整改" in duty.locator("#status").inner_text()
        _shot(duty, "4-duty-rectified")
    finally:
        duty.context.close()

    unit = _as(browser, live_url, "scjg")
    try:
        unit.goto(detail)
        assert unit.locator("#callback-form").count() == 0
        unit.locator('#appeal-form textarea[name="statement"]').fill(
            "该事项所需的规划许可证明由其他部门出具，窗口已告知，群众未理解，请求复核。"
        )
        _shot(unit, "5-unit-appeal-form")
        unit.locator("#appeal-form button").click()
        assert "申诉已提交" in unit.locator(".flash-success").inner_text()
        assert "待审核" in unit.locator("#appeal").inner_text()
        _shot(unit, "6-unit-appealed")
    finally:
        unit.context.close()

    leader = _as(browser, live_url, "lead1")
    try:
        leader.goto(detail)
        leader.locator('#decide-form input[value="refused"]').check()
        leader.locator('#decide-form textarea[name="note"]').fill(
            "经核查录音，窗口未告知需另行办理规划许可证明，申诉理由不成立，维持原核实结果。"
        )
        _shot(leader, "7-leader-decide-form")
        leader.locator("#decide-form button").click()
        assert "申诉不成立" in leader.locator(".flash-success").inner_text()
        assert "已整改" in leader.locator("#status").inner_text()
        _shot(leader, "8-leader-decided")
        leader.goto(f"{live_url}/admin/workorders/report")
        scjg = leader.locator("#unit-SCJG").inner_text()
        assert "市场监督管理局" in scjg and "100.0%" in scjg
        _shot(leader, "9-leader-report")
    finally:
        leader.context.close()
