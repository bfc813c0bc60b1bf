"""Fixtures for ratings: the example hall's set-up, a terminal key, and API helpers.

Every answer of the terminal API seen through :class:`Api` is checked against the
OpenAPI document the service publishes, so the document cannot drift from the code.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from openapi_schema_validator import OAS30Validator
from sqlalchemy import update
from werkzeug.test import TestResponse

from kiosk import create_app
from kiosk.api.openapi import openapi_document
from kiosk.extensions import db
from kiosk.models import ServiceSession, utcnow
from tests.conftest import EXAMPLE_DIR, _base_config

DOCUMENT = openapi_document()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with the document's components attached, so ``$ref`` resolves."""
    return {**schema, "components": DOCUMENT["components"]}


def check_against_document(method: str, path: str, response: TestResponse) -> None:
    """Assert that ``response`` is one the OpenAPI document promises for ``method path``."""
    operation = DOCUMENT["paths"][path][method.lower()]
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {path} answered {status}, not documented"
    content = documented[status]["content"]
    mimetype = response.mimetype
    assert mimetype in content, f"{method} {path} {status} answered {mimetype}"
    if mimetype == "application/json":
        OAS30Validator(_resolve(content[mimetype]["schema"])).validate(response.get_json())
    SEEN.add((method.upper(), path, status))


SEEN: set[tuple[str, str, str]] = set()


def setup_hall(runner: FlaskCliRunner) -> None:
    """The example hall and roster, imported through the real CLI."""
    for kind, name in (("hall", "hall.toml"), ("roster", "roster.csv")):
        result = runner.invoke(args=["import", kind, str(EXAMPLE_DIR / name)])
        assert result.exit_code == 0, result.output


def add_terminal(runner: FlaskCliRunner, name: str = "柜台1", window: str = "W01") -> str:
    """Add a terminal through the CLI and return the key it printed."""
    result = runner.invoke(args=["terminals", "add", name, "--window", window])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("kt_")
    return key


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token on the page"
    return match.group(1)


@dataclass
class Api:
    """A thin client of the terminal API that checks every answer against the document."""

    client: FlaskClient
    key: str

    def _headers(self, key: str | None) -> dict[str, str]:
        return {} if key is None else {"Authorization": f"Bearer {key}"}

    def open(self, staff_no: str = "S001", case_no: str | None = None, **kw: Any) -> TestResponse:
        body: Any = kw.pop("body", {"staff_no": staff_no, "case_no": case_no})
        key = kw.pop("key", self.key)
        response = self.client.post("/api/v1/sessions", json=body, headers=self._headers(key), **kw)
        check_against_document("POST", "/sessions", response)
        return response

    def session(self, staff_no: str = "S001", case_no: str | None = None) -> dict[str, Any]:
        response = self.open(staff_no, case_no)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def rate(self, body: Any, key: str | None = None, **kw: Any) -> TestResponse:
        response = self.client.post("/api/v1/ratings", headers=self._headers(key), json=body, **kw)
        check_against_document("POST", "/ratings", response)
        return response

    def raw_rate(self, data: bytes, content_type: str, key: str | None = None) -> TestResponse:
        response = self.client.post(
            "/api/v1/ratings", data=data, content_type=content_type, headers=self._headers(key)
        )
        check_against_document("POST", "/ratings", response)
        return response

    def qr(self, session_id: str, key: str | None = "") -> TestResponse:
        headers = self._headers(self.key if key == "" else key)
        response = self.client.get(f"/api/v1/sessions/{session_id}/qr.png", headers=headers)
        check_against_document("GET", "/sessions/{session_id}/qr.png", response)
        return response


@contextlib.contextmanager
def hall_app(database_uri: str, instance: Path, **config: Any) -> Iterator[tuple[Flask, Api]]:
    """An app of its own, with ``config`` over the tests' settings (a rate limit, say),
    the example hall and a terminal; its connections are closed at the end."""
    app = create_app({**_base_config(database_uri, instance), **config})
    try:
        setup_hall(app.test_cli_runner())
        yield app, Api(app.test_client(), add_terminal(app.test_cli_runner()))
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def hall(runner: FlaskCliRunner) -> None:
    """The example hall (QJ, windows W01–W04) and its roster."""
    setup_hall(runner)


@pytest.fixture
def key(hall: None, runner: FlaskCliRunner) -> str:
    """A fresh terminal key for window W01."""
    return add_terminal(runner)


@pytest.fixture
def api(client: FlaskClient, key: str) -> Api:
    return Api(client, key)


@pytest.fixture
def expire(app: Flask) -> Callable[[str], None]:
    """Make a session's token expire now (by its public id)."""

    def expire_session(session_id: str) -> None:
        with app.app_context():
            db.session.execute(
                update(ServiceSession)
                .where(ServiceSession.public_id == session_id)
                .values(expires_at=utcnow())
            )
            db.session.commit()

    return expire_session
