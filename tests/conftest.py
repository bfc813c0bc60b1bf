"""Shared fixtures: an app on a freshly migrated database, SQLite or PostgreSQL.

``KIOSK_TEST_DB=postgresql`` runs the suite on the PostgreSQL server at
``KIOSK_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``); each
test session creates its own database there and drops it at the end. The schema
is built once per session with the real migrations (``flask db upgrade``); each
test then starts from empty tables.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import create_engine, text
from waitress.server import create_server

from kiosk import create_app
from kiosk.extensions import db as _db

BACKEND = os.environ.get("KIOSK_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("KIOSK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
EXAMPLE_DIR = Path(__file__).parent / "data" / "small"
# A random signing key per test session: the app refuses known or short keys (SPEC 8).
TEST_SECRET_KEY = secrets.token_hex(32)


def _base_config(uri: str, instance: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": True,
        "RATING_RATE_LIMIT": "0",
        "LOGIN_RATE_LIMIT": "0",
        "INSTANCE_FOR_TESTS": str(instance),
    }


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One migrated database per test session (a template file on SQLite)."""
    root = tmp_path_factory.mktemp("db")
    if BACKEND == "postgresql":
        name = f"kiosk_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        uri = f"{PG_SERVER}/{name}"
        app = create_app(_base_config(uri, root))
        with app.app_context():
            upgrade()
            _db.engine.dispose()
        try:
            yield {"backend": "postgresql", "uri": uri}
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        template = root / "template.sqlite"
        app = create_app(_base_config(f"sqlite:///{template}", root))
        with app.app_context():
            upgrade()
            _db.engine.dispose()
        yield {"backend": "sqlite", "template": template}


def _empty_postgresql(uri: str) -> None:
    engine = create_engine(uri)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_uri(database_template: dict[str, Any], tmp_path: Path) -> str:
    """A URI to an empty, fully migrated database for one test."""
    if database_template["backend"] == "postgresql":
        _empty_postgresql(database_template["uri"])
        return database_template["uri"]
    path = tmp_path / "kiosk.sqlite"
    shutil.copyfile(database_template["template"], path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(database_uri: str, tmp_path: Path) -> Iterator[Flask]:
    """The application on an empty database, with an instance folder of its own."""
    instance = tmp_path / "instance"
    instance.mkdir()
    application = create_app(_base_config(database_uri, instance))
    application.instance_path = str(instance)
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def example_hall(runner: FlaskCliRunner) -> Path:
    """The worked example of SPEC (tests/data/small) imported through the real CLI."""
    for kind, name in (
        ("hall", "hall.toml"),
        ("roster", "roster.csv"),
        ("punches", "punches.csv"),
        ("ratings", "ratings.csv"),
        ("cases", "cases.csv"),
        ("absences", "absences.csv"),
        ("events", "events.csv"),
    ):
        result = runner.invoke(args=["import", kind, str(EXAMPLE_DIR / name)])
        assert result.exit_code == 0, result.output
    return EXAMPLE_DIR


# Debian's Chromium, as the machine notes prescribe; Playwright never downloads a browser.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole test session; each test opens its own context."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served by a real waitress server on 127.0.0.1 (random port) in a thread."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    finally:

        def close_everything() -> None:
            # Runs in the server's own loop: closing the listener, the open connections and
            # the trigger empties the loop's map, which ends server.run().
            for channel in list(server._map.values()):  # type: ignore[union-attr]
                channel.close()

        server.trigger.pull_trigger(close_everything)  # type: ignore[union-attr]
        thread.join(timeout=10)
        assert not thread.is_alive(), "waitress did not stop"
        server.task_dispatcher.shutdown()  # type: ignore[union-attr]
