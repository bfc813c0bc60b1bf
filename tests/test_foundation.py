"""The application factory, configuration order, database set-up and the demo hall."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select, text

from kiosk import create_app
from kiosk.demo import generate, load_demo, period_start
from kiosk.extensions import db
from kiosk.models import Hall, PublishedPeriod, Staff, Unit, User, Window


def test_config_order_defaults_instance_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLASK_SECRET_KEY", "k" * 40)
    app = create_app()
    assert app.config["RATING_TOKEN_TTL"] == 259200
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/kiosk.sqlite")
    instance = Path(app.instance_path)
    config_file = instance / "config.py"
    existed = config_file.exists()
    if existed:
        pytest.fail("a real instance/config.py would be overwritten by this test")
    try:
        config_file.write_text("RATING_TOKEN_TTL = 60\nPUBLIC_BASE_URL = 'https://a.example'\n")
        assert create_app().config["RATING_TOKEN_TTL"] == 60
        monkeypatch.setenv("FLASK_RATING_TOKEN_TTL", "120")
        app = create_app()
        assert app.config["RATING_TOKEN_TTL"] == 120  # the environment wins, parsed as JSON
        assert app.config["PUBLIC_BASE_URL"] == "https://a.example"
    finally:
        config_file.unlink()


def test_database_settings(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # Foreign keys hold on PostgreSQL as well: a punch for no staff member is refused.
            from sqlalchemy.exc import IntegrityError

            with pytest.raises(IntegrityError):
                db.session.execute(
                    text(
                        "INSERT INTO punches (staff_id, punched_at, source, created_at) "
                        "VALUES (999, now(), 'import', now())"
                    )
                )
            db.session.rollback()
            return
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_healthz_and_landing_page(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").get_json() == {"status": "ok"}
    page = client.get("/").get_data(as_text=True)
    assert "政务服务中心" in page


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (dt.date(2026, 11, 26), dt.date(2026, 9, 1)),
        (dt.date(2026, 12, 31), dt.date(2026, 9, 1)),
        (dt.date(2026, 1, 5), dt.date(2025, 11, 1)),
        (dt.date(2026, 3, 1), dt.date(2026, 1, 1)),
    ],
)
def test_demo_starts_at_the_previous_period(today: dt.date, start: dt.date) -> None:
    assert period_start(today) == start


def test_demo_hall_is_realistic_and_loads_once(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        assert count(Hall) == 1
        assert count(Unit) == 20
        assert count(Window) == 28
        assert count(Staff) == 70
        assert count(User) == 5
        # The last complete period is published, so the public display has results.
        assert count(PublishedPeriod) == 1
        names = db.session.scalars(select(Staff.name)).all()
        assert len(set(names)) == 70
    again = runner.invoke(args=["demo", "load"])
    assert "already loaded; nothing changed" in again.output


def test_demo_generator_is_deterministic() -> None:
    now = dt.datetime(2026, 11, 26, 10, 0)
    first, second = generate(now, seed=1), generate(now, seed=1)
    assert first == second
    punches = first["punches"].splitlines()
    assert len(punches) > 10_000
    # Nothing in the future of "now".
    assert max(line.split(",")[1] for line in punches[1:]) <= now.isoformat()


def test_load_demo_inside_app_context(app: Flask) -> None:
    with app.app_context():
        summaries = load_demo(now=dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC))
        assert summaries[0].startswith("hall:")


def test_chinese_unless_english_is_chosen(client) -> None:  # type: ignore[no-untyped-def]
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    assert "政务服务中心考勤与窗口考评" in client.get("/", headers=english_browser).get_data(
        as_text=True
    )
    chosen = client.get("/?lang=en").get_data(as_text=True)
    assert "政务服务中心考勤与窗口考评" not in chosen


def test_bearer_api_calls_skip_the_session_cookie(app: Flask) -> None:
    """A terminal's bearer call does not read the signed session (the rating hot path)."""
    from flask import session

    @app.get("/api/v1/_session_probe")
    def probe() -> dict[str, object]:
        return {"keys": sorted(session.keys())}

    @app.get("/_session_set")
    def set_session() -> str:
        session["marker"] = "x"
        return "ok"

    client = app.test_client()
    client.get("/_session_set")
    assert client.get("/api/v1/_session_probe").get_json() == {"keys": ["marker"]}
    bearer = client.get("/api/v1/_session_probe", headers={"Authorization": "Bearer kt_x.y"})
    assert bearer.get_json() == {"keys": []}
