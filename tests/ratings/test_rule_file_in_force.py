"""SPEC 5.3 (amended): the rule file in force is the one source of its numbers everywhere.

One custom rule file (level 3 is a bad review, misuse within 60 s, rectification within
2 workdays, level 5 worth 90) changes, together: the rating API's bad levels and misuse
flag, the work-order list and its deadlines, the scorer's veto and the public display.
With the shipped rules none of them change.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Rating
from kiosk.rules.ruleset import DEFAULT_RULES_PATH, default_rules
from kiosk.services import rulefile
from kiosk.services.halls import resolve_hall
from kiosk.services.rulefile import rules_for, rules_in_force
from kiosk.services.scoring import score_hall_period
from kiosk.services.workorders import list_work_orders
from tests.ratings.conftest import Api
from tests.ratings.test_workorders import RATED_LOCAL, RATED_UTC, add_rating


def custom_rules(folder: Path) -> Path:
    """The shipped rule file with other bad levels, misuse seconds, deadline and a level value."""
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    for old, new in (
        ('name = "default"', 'name = "strict"'),
        ("5 = 100", "5 = 90"),
        ("bad_levels = [1, 2]", "bad_levels = [1, 2, 3]"),
        ("misuse_seconds = 10 ", "misuse_seconds = 60 "),
        ("rectification_workdays = 5 ", "rectification_workdays = 2 "),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "strict.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["default", "custom"])
def in_force(request: pytest.FixtureRequest, app: Flask, tmp_path: Path) -> bool:
    """Run with the shipped rules and with a custom SCORING_RULES file; True for custom."""
    custom = request.param == "custom"
    if custom:
        app.config["SCORING_RULES"] = str(custom_rules(tmp_path))
    return custom


def test_rating_api_bad_levels_and_misuse(api: Api, app: Flask, in_force: bool) -> None:
    # Level 3 without a reason: a bad review without reasons under the custom rules.
    response = api.rate({"token": api.session()["token"], "level": 3}, key=api.key)
    assert response.status_code == (400 if in_force else 201), response.get_json()
    first = api.rate({"token": api.session()["token"], "level": 5}, key=api.key)
    assert first.status_code == 201
    with app.app_context():
        for rating in db.session.scalars(select(Rating)):
            rating.rated_at -= dt.timedelta(seconds=30)
        db.session.commit()
    second = api.rate({"token": api.session()["token"], "level": 5}, key=api.key).get_json()
    with app.app_context():
        stored = db.session.scalar(select(Rating).where(Rating.rating_id == second["rating_id"]))
        assert stored is not None
        # 30 s after the previous rating: misuse within 60 s, not within 10 s.
        assert stored.misuse is in_force


def test_work_orders_deadline_and_scorer_veto(app: Flask, hall: None, in_force: bool) -> None:
    add_rating(app, "L3", 3, review="upheld", reviewed_at=RATED_UTC)
    add_rating(app, "L1", 1)
    as_of = dt.datetime(2026, 12, 2, 12, 0)  # local: past the 2-workday deadline only
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        orders = {o.rating_id: o for o in list_work_orders(db.session, hall_row, RATED_UTC)}
        assert sorted(orders) == (["L1", "L3"] if in_force else ["L1"])
        # Thursday 2026-11-26: 2 workdays after is Monday 11-30, 5 is Thursday 12-03.
        last_day = dt.date(2026, 11, 30) if in_force else dt.date(2026, 12, 3)
        assert orders["L1"].deadline_day == last_day
        assert orders["L1"].rated_at == RATED_LOCAL

        result = score_hall_period(db.session, "2026-B6", as_of)
        assert result.rules.name == ("strict" if in_force else "default")
        person = result.individual("S001")
        assert person is not None
        assert person.ratings.bad == (2 if in_force else 1)
        assert ("unrectified_bad_review" in person.vetoes) is in_force
        if in_force:
            (check,) = person.ratings.bad_reviews
            assert check.deadline == dt.datetime(2026, 12, 1) and check.status == "overdue"


def test_display_counts_and_values(
    api: Api, app: Flask, client: FlaskClient, in_force: bool
) -> None:
    for level in (5, 3):
        body: dict[str, object] = {"token": api.session()["token"], "level": level}
        if level == 3:
            body["reasons"] = ["态度不好"] if in_force else []
        assert api.rate(body, key=api.key).status_code == 201
        with app.app_context():  # keep the second rating clear of the misuse window
            for rating in db.session.scalars(select(Rating)):
                rating.rated_at -= dt.timedelta(minutes=5)
            db.session.commit()
    text = client.get("/display").get_data(as_text=True)
    month = text[text.index('<aside class="month">') : text.index("</aside>")]
    figures = re.findall(r"<dd>([^<]*)<small>", month)
    valid, mean, _good, bad = figures
    assert valid == "2"
    assert mean == ("75.0" if in_force else "80.0")  # (90 + 60) / 2 against (100 + 60) / 2
    assert bad == ("1" if in_force else "0")


def test_rules_in_force_is_parsed_once_per_file_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = custom_rules(tmp_path)
    first = rules_in_force({"SCORING_RULES": str(path)})
    assert first.bad_levels == {1, 2, 3} and first.misuse_seconds == 60
    assert rules_for(path) is first  # cached: no file read on the rating hot path
    real = rulefile.time.monotonic
    assert rules_in_force({}) is default_rules()
    text = path.read_text(encoding="utf-8").replace("bad_levels = [1, 2, 3]", "bad_levels = [1]")
    path.write_text(text + "\n", encoding="utf-8")  # another size: a new version
    monkeypatch.setattr(rulefile.time, "monotonic", lambda: real() + rulefile.RECHECK_SECONDS)
    assert rules_for(path).bad_levels == {1}
