"""The counter screen fits the evaluator pads without scrolling (issue 11).

At 1024x600, 1280x800 and 800x1280 portrait every one of the five levels, and on the
bad-review step every reason and the submit button, lie inside the viewport; a staff
member of another window is shown to the citizen by name, not by number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.ratings.test_browser import sign_in, start_service

SHOTS = Path("/tmp/shots/screens")
SIZES = [(1024, 600), (1280, 800), (800, 1280)]


def assert_inside(page: Page, locator: Locator) -> None:
    """The element's whole bounding box is inside the viewport (no scrolling needed)."""
    viewport = page.viewport_size
    assert viewport is not None
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    scroll = page.evaluate("[window.scrollX, window.scrollY]")
    assert scroll == [0, 0], f"page scrolled to {scroll}"
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= viewport["width"] + 0.5, (box, viewport)
    assert box["y"] + box["height"] <= viewport["height"] + 0.5, (box, viewport)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_counter_fits_without_scrolling(
    browser: Browser, live_url: str, key: str, width: int, height: int
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": height}, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        sign_in(page, live_url, key)
        page.screenshot(path=str(SHOTS / f"counter-idle-{width}x{height}.png"))
        assert_inside(page, page.locator("#other-staff"))
        assert_inside(page, page.locator(".staff-card").last)
        start_service(page, "张敏")
        for name in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
            assert_inside(page, page.get_by_role("button", name=name, exact=True))
        page.screenshot(path=str(SHOTS / f"counter-levels-{width}x{height}.png"))
        page.get_by_role("button", name="非常不满意").tap()
        expect(page.locator("#reasons")).to_be_visible()
        reasons = page.locator("#reason-grid .reason")
        assert reasons.count() >= 3
        for index in range(reasons.count()):
            assert_inside(page, reasons.nth(index))
        assert_inside(page, page.locator("#comment"))
        assert_inside(page, page.get_by_role("button", name="提交评价"))
        assert_inside(page, page.get_by_role("button", name="返回"))
        page.screenshot(path=str(SHOTS / f"counter-reasons-{width}x{height}.png"))
    finally:
        context.close()


def test_staff_of_another_window_is_named(browser: Browser, live_url: str, key: str) -> None:
    context = browser.new_context(
        viewport={"width": 1024, "height": 600}, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        sign_in(page, live_url, key)
        # Under load the first tap can land before counter.js has bound its handler; a
        # person would tap again, and so does the test (at most three times).
        for _ in range(3):
            page.locator("#other-staff").tap()
            if page.locator("#staff-no").is_visible():
                break
            page.wait_for_timeout(1000)
        page.locator("#staff-no").fill("S004")
        page.get_by_role("button", name="请群众评价").tap()
        expect(page.locator("#rate")).to_be_visible()
        expect(page.locator("#serving-name")).not_to_have_text("S004")
        expect(page.locator("#serving-name")).to_have_text("赵磊")
        page.screenshot(path=str(SHOTS / "counter-other-staff-1024x600.png"))
    finally:
        context.close()
