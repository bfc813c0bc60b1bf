"""Fixtures of the provincial push tests: a hall with its codes, ratings of every channel,
and a platform double on a random loopback port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Hall, Rating, ServiceSession, Staff, Window
from tests.conftest import EXAMPLE_DIR
from tests.push.platform_double import PlatformState, platform_double

AREA_CODE = "429005"
SCJG_ORG_CODE = "11429005MB1234567K"  # the SPEC's example with its right check character
TOKEN = "push-token-for-tests"


def hall_toml_with_codes() -> str:
    """The example hall.toml with ``area_code`` and the SCJG unit's ``org_code``."""
    text = (EXAMPLE_DIR / "hall.toml").read_text()
    text = text.replace(
        'timezone = "Asia/Shanghai"\n',
        f'timezone = "Asia/Shanghai"\narea_code = "{AREA_CODE}"\n',
        1,
    )
    return text.replace(
        'name = "市场监督管理局"\n', f'name = "市场监督管理局"\norg_code = "{SCJG_ORG_CODE}"\n', 1
    )


EXTRA_RATINGS = """rating_id,rated_at,staff_no,level,channel,case_no,reasons,misuse,review,rectified_at
X-COUNTER,2026-08-03T09:00:00,S001,5,counter,QJ202600001,,,,
X-QR,2026-08-03T09:10:00,S001,2,qr,,态度不好|效率低,,,
X-OTHER,2026-08-03T09:20:00,S004,4,other,NO-SUCH-CASE,,,,
X-DEFAULT,2026-08-03T09:30:00,S001,3,default,QJ202600002,,,,
"""


def import_file(runner: FlaskCliRunner, kind: str, path: Path) -> None:
    result = runner.invoke(args=["import", kind, str(path)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def push_hall(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> Flask:
    """The example hall with its codes, roster, cases and ratings, plus four ratings of
    each channel (older than the example's, so they go first) and one counter session."""
    hall_file = tmp_path / "hall.toml"
    hall_file.write_text(hall_toml_with_codes())
    import_file(runner, "hall", hall_file)
    for kind in ("roster", "cases", "ratings"):
        import_file(runner, kind, EXAMPLE_DIR / f"{kind}.csv")
    extra = tmp_path / "extra.csv"
    extra.write_text(EXTRA_RATINGS)
    import_file(runner, "ratings", extra)
    with app.app_context():
        # The counter rating came through a session opened at window W02 (the session's
        # window wins over the assignment: S001 sits at W01).
        hall = db.session.scalars(select(Hall)).one()
        rating = db.session.scalars(select(Rating).where(Rating.rating_id == "X-COUNTER")).one()
        window = db.session.scalars(select(Window).where(Window.code == "W02")).one()
        staff = db.session.get_one(Staff, rating.staff_id)
        session_row = ServiceSession(
            public_id="pub-x-counter",
            hall_id=hall.id,
            window_id=window.id,
            staff_id=staff.id,
            case_no=rating.case_no,
            token_hash="0" * 64,
            opened_at=rating.rated_at - dt.timedelta(minutes=5),
            expires_at=rating.rated_at + dt.timedelta(days=3),
        )
        db.session.add(session_row)
        db.session.flush()
        rating.session_id = session_row.id
        rating.comment = "办事很快"
        db.session.commit()
    return app


@pytest.fixture
def double() -> Iterator[tuple[str, PlatformState]]:
    """A platform double (token checked) on 127.0.0.1 and a random port."""
    with platform_double(PlatformState(token=TOKEN, hang_seconds=1.5)) as running:
        yield running


@pytest.fixture
def push_app(push_hall: Flask, double: tuple[str, PlatformState]) -> Flask:
    """The hall's app pointed at the double, with short timeouts and pauses for tests."""
    url, _state = double
    push_hall.config.update(
        PUSH_URL=url,
        PUSH_TOKEN=TOKEN,
        PUSH_TIMEOUT=0.5,
        PUSH_RETRY_MIN=0.01,
        PUSH_RETRY_MAX=0.05,
        PUSH_IDLE_SECONDS=0.05,
    )
    return push_hall


def rating_count(app: Flask) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Rating.id)).all())
