"""The alert count in Chromium: a burst of bad ratings through the API shows within seconds."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from playwright.sync_api import Browser, expect

from tests.admin.test_browser import sign_in
from tests.ratings.conftest import add_terminal

SHOTS = Path(os.environ.get("KIOSK_SHOTS", "/work/wt/shots/alerts"))


def _post(url: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return json.loads(response.read())


def test_a_burst_of_bad_ratings_shows_in_the_count_within_seconds(
    app: Flask,
    browser: Browser,
    live_url: str,
    runner: FlaskCliRunner,
    make_user: Callable[..., int],
    example_hall: Path,
) -> None:
    # Four pads at window W01: ratings of one pad's sessions 10 s apart would be misuse
    # (SPEC 4.2), and misuse is not a valid rating.
    keys = [add_terminal(runner, f"柜台{i}", "W01") for i in range(4)]
    make_user("duty1", "duty")
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    page = context.new_page()
    sign_in(page, live_url, "duty1")
    page.goto(f"{live_url}/admin/today")
    badge = page.locator("#alert-count")
    expect(badge).to_be_visible()
    before = int(badge.locator(".n").inner_text())
    for i, key in enumerate(keys):
        session = _post(f"{live_url}/api/v1/sessions", {"staff_no": "S001"}, key)
        level = 1 if i % 2 == 0 else 5
        body = {"token": session["token"], "level": level}
        if level == 1:
            body["reasons"] = ["态度不好"]
        _post(f"{live_url}/api/v1/ratings", body, key)
    # No reload: the page's own polling (every 5 s) brings the new count.
    expect(badge.locator(".n")).to_have_text(str(before + 1), timeout=12000)
    expect(badge).to_have_class("alert-count has-alerts")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "today-with-count.png"))
    badge.click()
    row = page.locator('#alert-list tr[data-code="bad_burst"]')
    expect(row).to_contain_text("W01")
    page.screenshot(path=str(SHOTS / "alerts-list.png"), full_page=True)
    row.get_by_label("处理说明").fill("已到窗口了解，群众对等候时间不满，已安排分流")
    row.get_by_role("button", name="已处理").click()
    expect(page.get_by_role("alert").first).to_contain_text("已处理预警：差评集中")
    expect(page.locator("#alert-handled")).to_contain_text("已安排分流")
    expect(badge.locator(".n")).to_have_text(str(before))
    page.screenshot(path=str(SHOTS / "alerts-handled.png"), full_page=True)
    context.close()


def test_monthly_sheet_on_screen_and_in_print(
    browser: Browser, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("leader1", "leader")
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    page = context.new_page()
    sign_in(page, live_url, "leader1")
    page.goto(f"{live_url}/admin/reports/monthly?month=2026-10")
    expect(page.locator('section.sheet[data-unit="SCJG"]')).to_contain_text("2026年10月考勤月报")
    expect(page.locator('section.sheet[data-unit="SCJG"] tfoot')).to_contain_text("合计")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "monthly.png"), full_page=True)
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    (SHOTS / "monthly-print.pdf").write_bytes(pdf)
    # One unit per page: the top bar and the toolbar are not printed.
    expect(page.locator("header.admin-top")).to_be_hidden()
    expect(page.locator("form.toolbar")).to_be_hidden()
    context.close()


def test_charts_on_screen_and_in_print(
    browser: Browser, live_url: str, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("leader1", "leader")
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(15000)
    page = context.new_page()
    sign_in(page, live_url, "leader1")
    page.goto(f"{live_url}/admin/insight/charts?from=2026-09-01&to=2026-10-31&window=W01")
    expect(page.locator("#heat-map")).to_contain_text("满意度热力图")
    expect(page.locator('figure.trend[data-unit="SCJG"] svg')).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "charts.png"), full_page=True)
    page.emulate_media(media="print")
    (SHOTS / "charts-print.pdf").write_bytes(page.pdf(format="A4", print_background=True))
    context.close()
