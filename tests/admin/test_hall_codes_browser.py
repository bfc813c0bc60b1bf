"""The hall page's codes and day counts and the unit form's org_code in Chromium, 1920x1080.

A refusal is shown beside its field, then the change is made; screenshots go to
``KIOSK_SHOTS`` (default: the test's temporary folder) to be looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Hall, Unit
from tests.admin.test_setup_browser import _admin, _shot, page, shots

__all__ = ["page", "shots"]  # the fixtures, shared with the set-up pages' browser tests

SCJG_CODE = "11429005MB1234567K"


def test_hall_codes_and_terms(
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
    expect(form.get_by_label("回访时限（工作日，callback_workdays）")).to_have_value("1")
    expect(form.get_by_label("申诉时限（工作日，appeal_workdays）")).to_have_value("5")
    form.get_by_label("行政区划代码（6位，area_code）").fill("42900")
    form.get_by_label("回访时限（工作日，callback_workdays）").fill("31")
    form.get_by_role("button", name="保存设置").click()
    expect(page.locator("#area_code-error")).to_contain_text("6 位数字")
    expect(page.locator("#callback_workdays-error")).to_contain_text("1 至 30")
    _shot(page, shots, "hall-codes-refused")
    with app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        assert hall.area_code is None and "callback_workdays" not in hall.settings
    form.get_by_label("行政区划代码（6位，area_code）").fill("429005")
    form.get_by_label("回访时限（工作日，callback_workdays）").fill("2")
    form.get_by_label("申诉时限（工作日，appeal_workdays）").fill("10")
    form.get_by_label("默认评价（自然日，default_after_days）").fill("7")
    form.get_by_role("button", name="保存设置").click()
    expect(page.get_by_role("alert").first).to_contain_text("已保存中心设置")
    expect(page.get_by_label("申诉时限（工作日，appeal_workdays）")).to_have_value("10")
    _shot(page, shots, "hall-codes")
    with app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        assert hall.area_code == "429005"
        assert (hall.settings["callback_workdays"], hall.settings["appeal_workdays"]) == (2, 10)
        assert hall.settings["default_after_days"] == 7

    page.goto(f"{live_url}/admin/units")
    page.locator('tr[data-unit="SCJG"]').get_by_role("link", name="修改").click()
    unit = page.locator("#unit-form")
    unit.get_by_label("统一社会信用代码（18位，org_code）").fill("11429005MB1234567X")
    unit.get_by_role("button", name="保存").click()
    expect(page.locator("#org_code-error")).to_contain_text("校验位")
    _shot(page, shots, "unit-org-code-refused")
    page.locator("#unit-form").get_by_label("统一社会信用代码（18位，org_code）").fill(SCJG_CODE)
    page.locator("#unit-form").get_by_role("button", name="保存").click()
    expect(page.locator('tr[data-unit="SCJG"]')).to_contain_text(SCJG_CODE)
    _shot(page, shots, "units-org-code")
    page.locator('tr[data-unit="SCJG"]').get_by_role("link", name="修改").click()
    expect(page.get_by_label("统一社会信用代码（18位，org_code）")).to_have_value(SCJG_CODE)
    _shot(page, shots, "unit-form-org-code")
    with app.app_context():
        assert db.session.scalar(select(Unit.org_code).where(Unit.code == "SCJG")) == SCJG_CODE
