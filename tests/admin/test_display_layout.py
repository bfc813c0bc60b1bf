"""The public display at the hall's sizes: the header never covers the content, and the
month's 好差评 figures stand beside the published awards (issue 11)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page

from kiosk.display.data import month_figures
from kiosk.extensions import db
from kiosk.models import Rating, Staff, utcnow
from kiosk.rules.ruleset import default_rules
from kiosk.services.halls import resolve_hall
from tests.admin.test_publishing import _publish

SHOTS = Path("/tmp/shots/screens")


def _rate_this_month(app: Flask, now: dt.datetime) -> None:
    """Ratings of the current month: 3 good, 1 basic, 1 bad, and what must not count
    (a misuse, an unfounded bad review, a default rating, and one after ``now``)."""
    with app.app_context():
        hall = resolve_hall(db.session, None)
        staff = db.session.scalar(db.select(Staff).where(Staff.staff_no == "S004"))
        assert staff is not None
        at = now.replace(microsecond=0) - dt.timedelta(seconds=30)
        rows = [
            (5, {}),
            (5, {}),
            (4, {}),
            (3, {}),
            (1, {"reasons": "态度不好"}),
            (5, {"misuse": True}),
            (1, {"reasons": "效率低", "review": "unfounded"}),
            (3, {"channel": "default"}),
        ]
        for number, (level, extra) in enumerate(rows):
            db.session.add(
                Rating(
                    hall_id=hall.id,
                    rating_id=f"M{number}",
                    staff_id=staff.id,
                    rated_at=at,
                    level=level,
                    **extra,
                )
            )
        db.session.add(
            Rating(
                hall_id=hall.id,
                rating_id="LATER",
                staff_id=staff.id,
                rated_at=now + dt.timedelta(hours=1),
                level=1,
            )
        )
        db.session.commit()


def test_month_figures_count_valid_ratings_only(app: Flask, example_hall: object) -> None:
    now = utcnow()
    _rate_this_month(app, now)
    with app.app_context():
        hall = resolve_hall(db.session, None)
        figures = month_figures(db.session, hall, default_rules(), now)
    assert (figures.valid, figures.good, figures.bad) == (5, 3, 1)
    assert figures.good_rate == 60.0
    assert figures.mean == round((100 + 100 + 80 + 60 + 0) / 5, 2)


def test_display_shows_the_month_beside_the_awards(
    app: Flask, client: FlaskClient, example_hall: object
) -> None:
    _publish(app)
    _rate_this_month(app, utcnow())
    text = client.get("/display").get_data(as_text=True)
    assert "月好差评" in text and "好评率" in text and "60.0" in text
    assert "2026年第5期（9—10月）考评结果" in text and "2026-B5" not in text
    english = client.get("/display?lang=en").get_data(as_text=True)
    assert "2026 period 5 (Sep–Oct)" in english


def _boxes_apart(page: Page) -> None:
    """The header ends above every content box, and the content is on the screen."""
    viewport = page.viewport_size
    assert viewport is not None
    header = page.locator("header").bounding_box()
    assert header is not None
    bottom = header["y"] + header["height"]
    assert bottom < viewport["height"] / 3, "the header takes the screen"
    for selector in (".stage", ".month", ".slide.only h2, .slide:first-child h2", ".month dl"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["y"] >= bottom - 0.5, (selector, box, header)
        assert box["x"] + box["width"] <= viewport["width"] + 0.5, (selector, box)
        assert box["y"] + box["height"] <= viewport["height"] + 0.5, (selector, box)
    # The month's figures stay inside their box (no text cut off at its edge).
    spilled = page.evaluate(
        """[...document.querySelectorAll('.month, .month *')]
             .filter(e => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
             .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 30))"""
    )
    assert not spilled, spilled
    month = page.locator(".month").bounding_box()
    assert month is not None
    for child in page.locator(".month h2, .month dd").all():
        box = child.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= month["x"] + month["width"] + 0.5, (box, month)
    # Nothing of the header spills out of it (a wrapped title grows the header instead).
    for selector in ("header h1", "header .period"):
        box = page.locator(selector).bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= bottom + 0.5, (selector, box, header)


@pytest.mark.parametrize(
    ("width", "height", "lang"),
    [
        (1920, 1080, "zh"),
        (1366, 768, "zh"),
        (1080, 1920, "zh"),
        (1920, 1080, "en"),
        (1366, 768, "en"),
    ],
)
def test_display_header_does_not_overlap(
    app: Flask,
    browser: Browser,
    live_url: str,
    example_hall: object,
    width: int,
    height: int,
    lang: str,
) -> None:
    _publish(app)
    _rate_this_month(app, utcnow())
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(f"{live_url}/display?lang={lang}")
        # Stop the rotation on the first slide, so the boxes are measured at rest.
        page.add_style_tag(
            content=".display .slide { animation: none !important; } .display .slide:first-child { opacity: 1 !important; visibility: visible !important; }"
        )
        _boxes_apart(page)
        page.screenshot(path=str(SHOTS / f"display-{lang}-{width}x{height}.png"))
    finally:
        context.close()
