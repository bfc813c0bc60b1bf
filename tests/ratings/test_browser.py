"""Both rating paths in headless Chromium against a real waitress server.

The counter screen at 1280x800 with touch, the phone page at 390x844 as a mobile
device; taps, the bad-review reason step, a reused link, a rating made on the phone
while the counter waits, and recovery after the counter loses the network.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Rating, ServiceSession
from kiosk.services.ratings import token_for


@pytest.fixture
def counter_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15000)
    yield context
    context.close()


@pytest.fixture
def phone_context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
        locale="zh-CN",
    )
    context.set_default_timeout(15000)
    yield context
    context.close()


def stored_ratings(app: Flask) -> list[Rating]:
    with app.app_context():
        rows = list(db.session.scalars(select(Rating).order_by(Rating.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def open_session(live_url: str, key: str, staff_no: str = "S002") -> dict[str, str]:
    request = urllib.request.Request(
        f"{live_url}/api/v1/sessions",
        data=json.dumps({"staff_no": staff_no}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sign_in(page: Page, live_url: str, key: str) -> None:
    page.goto(f"{live_url}/counter")
    expect(page.get_by_role("heading", name="窗口评价器登录")).to_be_visible()
    page.get_by_label("终端密钥").fill(key)
    page.get_by_role("button", name="登录").tap()
    expect(page.locator("#idle")).to_be_visible()


def start_service(page: Page, name: str, case_no: str = "") -> None:
    page.locator(".staff-card", has_text=name).tap()
    expect(page.locator("#open")).to_be_visible()
    if case_no:
        page.locator("#case-no").fill(case_no)
    page.get_by_role("button", name="请群众评价").tap()
    expect(page.locator("#rate")).to_be_visible()


def test_counter_good_and_bad_reviews(
    counter_context: BrowserContext, live_url: str, key: str, app: Flask
) -> None:
    page = counter_context.new_page()
    sign_in(page, live_url, key)
    # 亮牌: the window and the staff on duty with name, number and avatar.
    expect(page.locator("#window-name")).to_have_text("企业登记")
    card = page.locator(".staff-card", has_text="张敏")
    expect(card).to_contain_text("S001")
    expect(card.locator(".avatar")).to_contain_text("张敏")
    start_service(page, "张敏", case_no="QJ-2026-0001")
    expect(page.locator("#serving-name")).to_have_text("张敏")
    for name in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    # The QR code is the alternative path, and it loaded.
    page.wait_for_function("document.getElementById('qr-img').naturalWidth > 0")
    page.get_by_role("button", name="满意", exact=True).tap()
    expect(page.get_by_role("heading", name="感谢您的评价")).to_be_visible()
    expect(page.locator("#idle")).to_be_visible(timeout=10000)

    start_service(page, "李强")
    page.get_by_role("button", name="非常不满意").tap()
    expect(page.locator("#reasons")).to_be_visible()
    page.get_by_role("button", name="提交评价").tap()
    expect(page.locator("#rate-error")).to_have_text("差评请至少选择一项原因。")
    page.get_by_role("button", name="态度不好").tap()
    page.get_by_role("button", name="推诿扯皮").tap()
    page.get_by_role("button", name="态度不好").tap()  # a second tap takes it back
    page.get_by_role("button", name="效率低").tap()
    page.locator("#comment").fill("排队太久")
    page.get_by_role("button", name="提交评价").tap()
    expect(page.get_by_role("heading", name="感谢您的评价")).to_be_visible()

    first, second = stored_ratings(app)
    assert (first.level, first.channel, first.case_no) == (4, "counter", "QJ-2026-0001")
    assert (second.level, second.channel) == (1, "counter")
    assert second.reasons == "效率低|推诿扯皮" and second.comment == "排队太久"


def test_counter_recovers_after_network_loss(
    counter_context: BrowserContext, live_url: str, key: str, app: Flask
) -> None:
    page = counter_context.new_page()
    sign_in(page, live_url, key)
    start_service(page, "张敏")
    counter_context.set_offline(True)
    page.get_by_role("button", name="非常满意").tap()
    expect(page.locator("#offline")).to_be_visible()
    assert stored_ratings(app) == []
    counter_context.set_offline(False)
    expect(page.get_by_role("heading", name="感谢您的评价")).to_be_visible(timeout=20000)
    expect(page.locator("#offline")).to_be_hidden()
    (rating,) = stored_ratings(app)
    assert rating.level == 5


def test_phone_rates_while_the_counter_waits(
    counter_context: BrowserContext,
    phone_context: BrowserContext,
    live_url: str,
    key: str,
    app: Flask,
) -> None:
    counter = counter_context.new_page()
    sign_in(counter, live_url, key)
    start_service(counter, "张敏")
    with app.app_context():
        session = db.session.scalars(select(ServiceSession)).one()
        token = token_for(app.config["SECRET_KEY"], session.public_id)
    phone = phone_context.new_page()
    phone.goto(f"{live_url}/r/{token}")
    phone.get_by_role("button", name="基本满意").tap()
    expect(phone.get_by_role("heading", name="感谢您的评价")).to_be_visible()
    # The counter notices on its own and thanks the citizen too.
    expect(counter.get_by_role("heading", name="感谢您的评价")).to_be_visible()
    expect(counter.locator("#thanks-note")).to_have_text("本次服务已通过手机评价。")
    (rating,) = stored_ratings(app)
    assert (rating.channel, rating.level) == ("qr", 3)


def test_phone_bad_review_and_reused_link(
    phone_context: BrowserContext, live_url: str, key: str, app: Flask
) -> None:
    session = open_session(live_url, key)
    page = phone_context.new_page()
    page.goto(session["rate_url"])
    expect(page.get_by_text("李强")).to_be_visible()
    for name in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    # The buttons fit the phone's width (no sideways scrolling).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="不满意", exact=True).tap()
    expect(page.get_by_role("heading", name="请告诉我们哪里做得不好")).to_be_visible()
    page.get_by_role("button", name="提交评价").tap()
    expect(page.get_by_role("alert")).to_contain_text("差评请至少选择一项原因")
    page.get_by_text("解释不清").tap()
    page.get_by_text("其他").tap()
    page.get_by_label("意见或建议（选填）").fill("材料清单没说清楚")
    page.get_by_role("button", name="提交评价").tap()
    expect(page.get_by_role("heading", name="感谢您的评价")).to_be_visible()
    (rating,) = stored_ratings(app)
    assert (rating.channel, rating.level, rating.reasons) == ("qr", 2, "解释不清|其他")
    assert rating.comment == "材料清单没说清楚"

    # The same link again (say, scanned a second time): 已评价, and nothing is stored.
    page.goto(session["rate_url"])
    expect(page.get_by_role("heading", name="已评价")).to_be_visible()
    assert len(stored_ratings(app)) == 1
    page.goto(f"{live_url}/r/made-up-token")
    expect(page.get_by_role("heading", name="评价链接无效")).to_be_visible()
