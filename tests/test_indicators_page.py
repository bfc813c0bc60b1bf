"""The public indicators page per unit and published period (issue 16)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import PublishedPeriod
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall
from tests.test_bundle import _correct_s005

AS_OF = "2026-11-05T12:00:00+08:00"


def _publish(app: Flask, runner: FlaskCliRunner) -> dict:
    with app.app_context():
        create_user(
            db.session,
            username="lingdao",
            password="long-enough-1",
            role="leader",
            hall=resolve_hall(db.session, None),
        )
        db.session.commit()
    result = runner.invoke(args=["publish", "2026-B5", "--as-of", AS_OF, "--by", "lingdao"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalar(select(PublishedPeriod))
        assert row is not None
        return json.loads(row.result_json)


def _csv(client: FlaskClient) -> list[dict[str, str]]:
    response = client.get("/indicators/2026-B5.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_indicators_agree_with_the_published_result(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, example_hall: Path
) -> None:
    result = _publish(app, runner)
    first = client.get("/indicators")
    assert first.status_code == 302 and first.headers["Location"].endswith("/indicators/2026-B5")
    page = client.get("/indicators/2026-B5").get_data(as_text=True)
    for words in ("好评率", "回访率", "整改率", "按时办结率", "÷", "暂无数据", "全中心"):
        assert words in page
    lines = {row["unit_code"]: row for row in _csv(client)}
    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
    for unit in {"SCJG", *unit_of.values()}:
        people = [p for p in result["individuals"] if unit_of.get(p["window"]) == unit]
        line = lines[unit]
        assert int(line["valid_ratings"]) == sum(p["ratings"]["valid"] for p in people)
        assert int(line["bad"]) == sum(p["ratings"]["bad"] for p in people)
        assert int(line["cases_completed"]) == sum(p["cases"]["completed"] for p in people)
        assert int(line["cases_on_time"]) == sum(p["cases"]["on_time"] for p in people)
        assert f'data-unit="{unit}"' in page
    hall = lines[""]
    assert hall["unit_name"] == "全中心"
    good, valid = int(hall["good"]), int(hall["valid_ratings"])
    assert valid > 0 and hall["good_rate"] == f"{round(good * 100 / valid + 1e-9, 1):.1f}"
    assert hall["callback_rate"] == ""  # callbacks are not recorded yet
    # S007's upheld bad review of 28 Oct is unrectified: the rectification rate is below 100.
    assert int(hall["upheld"]) >= 1 and hall["rectification_rate"] != "100.0"


def test_a_correction_after_publication_does_not_move_the_indicators(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, example_hall: Path
) -> None:
    _publish(app, runner)
    before = client.get("/indicators/2026-B5.csv").data
    _correct_s005(app)
    with app.app_context():
        from kiosk.models import Rating

        rating = db.session.scalars(select(Rating).where(Rating.review == "upheld")).first()
        assert rating is not None
        rating.rectified_at = rating.rated_at
        db.session.commit()
    assert client.get("/indicators/2026-B5.csv").data == before


def test_nothing_published_and_unknown_periods(client: FlaskClient, example_hall: Path) -> None:
    page = client.get("/indicators")
    assert page.status_code == 200 and "尚无已发布的考评期" in page.get_data(as_text=True)
    assert client.get("/indicators/2026-B5").status_code == 404
    assert client.get("/indicators/2026-B5.csv").status_code == 404
    assert client.get("/indicators/2026-B9").status_code == 404
    assert client.get("/indicators/x%27%3B--").status_code == 404
    assert client.get("/indicators?hall=NOPE").status_code == 404


def test_the_display_links_the_indicators(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, example_hall: Path
) -> None:
    _publish(app, runner)
    display = client.get("/display").get_data(as_text=True)
    assert "/indicators?hall=QJ" in display and "各单位评价指标公示" in display
    assert 'href="/indicators"' in client.get("/").get_data(as_text=True)
