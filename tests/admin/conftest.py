"""Fixtures of the back-office tests: users of each role and a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall

PASSWORD = "correct-horse-42"


@pytest.fixture
def make_user(app: Flask) -> Callable[..., int]:
    """Create a user of a role (in the only hall when there is one); returns its id."""

    def make(username: str, role: str, unit: str | None = None) -> int:
        with app.app_context():
            from kiosk.models import Hall

            hall = db.session.scalars(db.select(Hall)).first()
            if role != "admin" and hall is None:
                raise AssertionError("import a hall first")
            user = create_user(
                db.session,
                username=username,
                password=PASSWORD,
                role=role,
                hall=resolve_hall(db.session, None) if hall else None,
                unit_code=unit,
            )
            db.session.commit()
            return user.id

    return make


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    """Sign ``client`` in through the real form; returns the response status."""
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"username": username, "password": password, "csrf_token": token}
    )
    return response.status_code


@pytest.fixture
def login_as(
    client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> Callable[..., FlaskClient]:
    """Create a user of ``role`` in the example hall and sign the test client in."""

    def login(role: str, unit: str | None = None, username: str | None = None) -> FlaskClient:
        name = username or f"{role}-user"
        make_user(name, role, unit)
        assert sign_in(client, name) == 302
        return client

    return login
