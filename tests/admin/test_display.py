"""The public display: no sign-in, frozen awards, server-side SVG charts."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient

from kiosk.display.data import display_data, month_starts
from kiosk.display.svg import monthly_bars
from kiosk.extensions import db
from kiosk.rules.ruleset import default_rules
from kiosk.services.halls import resolve_hall
from tests.admin.test_publishing import _publish


def test_display_without_a_publication_says_so(client: FlaskClient, example_hall: object) -> None:
    page = client.get("/display")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "暂无已发布的考评结果" in text


def test_display_shows_the_frozen_awards(
    app: Flask, client: FlaskClient, example_hall: object
) -> None:
    row = _publish(app)
    page = client.get("/display")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    with app.test_request_context():
        from kiosk.services.publishing import frozen

        result = frozen(row)
    for window in result["windows"]:
        if window["award"] == "red_flag":
            assert window["name"] in text
    # The example's red-flag window W02 belongs to SCJG: the public reads the unit's name.
    assert '<div class="sub">市场监督管理局</div>' in text
    for person in result["individuals"]:
        if person["award"] == "advanced":
            assert person["name"] in text
        else:
            assert f'<div class="big">{person["name"]}</div>' not in text
    assert 'data-slide="satisfaction"' in text and 'data-slide="monthly"' in text
    assert "@keyframes rotate-slide" in text
    assert "<script" not in text


def test_monthly_series_uses_valid_ratings_by_window(app: Flask, example_hall: object) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        _ = hall
    _publish(app)
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        data = display_data(db.session, hall, default_rules())
        assert data.months == month_starts(dt.date(2026, 10, 1))
        assert data.months[-2:] == [dt.date(2026, 9, 1), dt.date(2026, 10, 1)]
        series = {s.window: s for s in data.series}
        # W03 is S004's window alone: 32 valid ratings in Sep–Oct summing to 3080.
        w03 = series["W03"]
        assert sum(w03.counts[-2:]) == 32
        satisfaction = {w.window: w for w in data.satisfaction}
        assert satisfaction["W03"].valid == 32 and satisfaction["W03"].mean == 96.25


def test_svg_escapes_labels_and_marks_missing_months() -> None:
    svg = str(monthly_bars("W<1> & co", [dt.date(2026, 9, 1), dt.date(2026, 10, 1)], [None, 91.25]))
    assert "W&lt;1&gt; &amp; co" in svg and "—" in svg and "91.2" in svg


def test_display_of_an_unknown_hall_is_404(client: FlaskClient, example_hall: object) -> None:
    assert client.get("/display?hall=NOPE").status_code == 404


def test_display_with_several_halls_lists_them(
    app: Flask, client: FlaskClient, example_hall: object
) -> None:
    from kiosk.models import Hall

    with app.app_context():
        db.session.add(Hall(code="ZZ", name="第二中心", timezone="Asia/Shanghai", settings={}))
        db.session.commit()
    page = client.get("/display").get_data(as_text=True)
    assert "请选择服务中心" in page and "/display?hall=ZZ" in page
    second = client.get("/display?hall=ZZ")
    assert second.status_code == 200 and "第二中心" in second.get_data(as_text=True)
    english = client.get("/display?hall=QJ&lang=en").get_data(as_text=True)
    assert "No published results yet" in english
