"""The bundle link and the public indicators page in headless Chromium (issue 16).

Screenshots go to ``$KIOSK_SHOTS`` when set (for looking at), else the test's tmp dir.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, expect

from tests.admin.test_browser import sign_in
from tests.admin.test_publishing import _publish


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("KIOSK_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_published_page_offers_the_bundle_and_the_public_sees_the_indicators(
    app: Flask,
    browser: Browser,
    live_url: str,
    make_user: Callable[..., int],
    example_hall: Path,
    tmp_path: Path,
) -> None:
    _publish(app)
    shots = _shots(tmp_path)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    context.set_default_timeout(8000)
    page = context.new_page()
    make_user("leader1", "leader")
    sign_in(page, live_url, "leader1")
    page.goto(f"{live_url}/admin/periods/2026-B5")
    link = page.locator("#bundle-download")
    expect(link).to_contain_text("复核数据包")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "bundle-QJ-2026-B5-r1.zip"
    page.screenshot(path=str(shots / "published-bundle-link.png"))

    public = context.new_page()
    public.goto(f"{live_url}/display")
    public.goto(live_url + (public.locator("a.indicators-link").get_attribute("href") or ""))
    expect(public.locator("#indicator-table")).to_be_visible()
    expect(public.locator("#indicator-table tfoot")).to_contain_text("全中心")
    expect(public.locator(".formulas")).to_contain_text("好评率")
    width = public.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1920
    public.screenshot(path=str(shots / "indicators.png"), full_page=True)
    context.close()
