"""Boundary dates and odd parameters on every page that parses them (issue 9): never a 500.

A table of every query-string parameter, form field and URL part that the back office, the
landing page, the public display and the clock screen read, each requested with hostile
values as a signed-in admin. The answer may be the page with a message, a redirect, a 400
or a 404 — never a 500 (in tests Flask raises instead, which counts as a 500 here).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.services.accounts import create_user
from tests.admin.conftest import PASSWORD, csrf_token, sign_in

HOSTILE = [
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2026-02-30",
    "2026-13-01",
    "",
    " ",
    "x" * 5000,
    "-1",
    "0",
    "99999999999999999999999",
    "-99999999999999999999999",
    "1e309",
    "nan",
    "abc",
    "\x00",
    "S001\x00",
    "2026-B9",
    "9999-B1",
    "0000-B1",
    "2026-B0",
    "2026-W99",
    "0001-W01",
    "9999-W52",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "2026-11-05T25:00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "张三" * 300,
]

# (label, path with {v} for a URL part, names of the query parameters it reads)
GETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("home", "/admin/", ("hall",)),
    ("corrections", "/admin/corrections", ("staff_no", "day")),
    ("roster", "/admin/roster", ("start",)),
    ("today", "/admin/today", ()),
    ("absences", "/admin/absences", ()),
    ("events", "/admin/events", ()),
    ("periods", "/admin/periods", ()),
    ("review", "/admin/periods/review", ("period", "as_of")),
    ("published", "/admin/periods/{v}", ("revision",)),
    ("published-2026-B5", "/admin/periods/2026-B5", ("revision",)),
    ("notice", "/admin/periods/{v}/notice.pdf", ("revision",)),
    ("notice-unit", "/admin/periods/2026-B5/notice-{v}.pdf", ("revision",)),
    ("xlsx", "/admin/periods/{v}/result.xlsx", ("revision",)),
    ("weekly", "/admin/reports/weekly", ("week", "unit")),
    ("appraisal", "/admin/reports/appraisal", ("year", "scope")),
    ("audit", "/admin/audit", ("page", "action", "object_type")),
    ("workorders", "/admin/workorders", ("status",)),
    ("workorder", "/admin/workorders/{v}", ()),
    ("workorder-report", "/admin/workorders/report", ("period",)),
    ("users", "/admin/users", ()),
    ("lang", "/admin/lang/{v}", ("next",)),
    ("landing", "/", ("lang",)),
    ("healthz", "/healthz", ()),
    ("display", "/display", ("hall", "lang")),
    ("clock", "/clock", ("hall",)),
]

# (label, path with {v}, the page whose form gives the CSRF token, fields: value or None for
# "the hostile value")
POSTS: list[tuple[str, str, dict[str, str | None]]] = [
    (
        "add-punch",
        "/admin/corrections",
        {
            "action": "add",
            "add-staff_no": None,
            "add-punched_at": None,
            "add-reason": None,
            "day": None,
        },
    ),
    (
        "add-punch-time",
        "/admin/corrections",
        {"action": "add", "add-staff_no": "S001", "add-punched_at": None, "add-reason": "r"},
    ),
    (
        "void-punch",
        "/admin/corrections",
        {"action": "void", "void-punch_id": None, "void-reason": None},
    ),
    (
        "absence",
        "/admin/absences",
        {
            "action": "add",
            "abs-staff_no": "S001",
            "abs-kind": None,
            "abs-start": None,
            "abs-end": None,
            "abs-note": None,
        },
    ),
    (
        "absence-end",
        "/admin/absences",
        {
            "action": "add",
            "abs-staff_no": "S001",
            "abs-kind": "leave",
            "abs-start": "2026-11-02T08:00",
            "abs-end": None,
        },
    ),
    (
        "withdraw",
        "/admin/absences",
        {"action": "withdraw", "wd-absence_id": None, "wd-reason": "r"},
    ),
    (
        "event",
        "/admin/events",
        {
            "ev-staff_no": "S001",
            "ev-kind": "spot_check",
            "ev-at": None,
            "ev-points": None,
            "ev-category": None,
            "ev-note": None,
            "ev-veto": None,
        },
    ),
    (
        "event-points",
        "/admin/events",
        {
            "ev-staff_no": "S001",
            "ev-kind": "spot_check",
            "ev-at": "2026-11-02T09:00",
            "ev-points": None,
        },
    ),
    ("duty", "/admin/roster", {"day": None, "user_id": None, "reason": None}),
    (
        "publish",
        "/admin/periods/publish",
        {"period": None, "as_of": None, "inputs_sha256": None, "reason": None},
    ),
    (
        "publish-as-of",
        "/admin/periods/publish",
        {"period": "2026-B5", "as_of": None, "inputs_sha256": "0" * 64},
    ),
    ("verify", "/admin/workorders/{v}/verify", {"verdict": None, "note": None}),
    ("verify-R0001", "/admin/workorders/R0001/verify", {"verdict": None, "note": None}),
    ("rectify", "/admin/workorders/{v}/rectify", {"note": None}),
    (
        "rectify-R0055",
        "/admin/workorders/R0055/rectify",
        {"note": None, "rectification_cause": None, "rectification_action": None},
    ),
    (
        "callback",
        "/admin/workorders/{v}/callback",
        {"outcome": None, "note": None, "called_at": None, "satisfied": None},
    ),
    (
        "callback-R0055",
        "/admin/workorders/R0055/callback",
        {"outcome": "reached", "note": None, "called_at": None, "satisfied": None},
    ),
    ("appeal", "/admin/workorders/{v}/appeal", {"statement": None}),
    ("appeal-R0055", "/admin/workorders/R0055/appeal", {"statement": None}),
    ("decide-R0055", "/admin/workorders/R0055/appeal/decide", {"decision": None, "note": None}),
    (
        "user-create",
        "/admin/users",
        {
            "kind": "create",
            "new-username": None,
            "new-role": None,
            "new-unit": None,
            "new-password": None,
            "new-display_name": None,
        },
    ),
    (
        "user-action",
        "/admin/users",
        {"kind": "action", "act-user_id": None, "act-action": None, "act-reason": "r"},
    ),
]


def _request(client: FlaskClient, method: str, path: str, **kwargs: Any) -> int:
    """The status of one request; an exception the app raised counts as a 500."""
    try:
        return client.open(path, method=method, **kwargs).status_code
    except Exception:  # noqa: BLE001  (an exception raised by the app is what we look for)
        return 500


def _quote_part(value: str) -> str:
    """``value`` as one URL path segment (an empty one would change the route)."""
    return quote(value, safe="") or "%20"


@pytest.fixture
def admin_client(
    client: FlaskClient, login_as: Callable[..., FlaskClient], example_hall: Path
) -> FlaskClient:
    return login_as("admin")


def test_query_strings_never_give_500(admin_client: FlaskClient) -> None:
    failures = []
    for label, path, params in GETS:
        for value in HOSTILE:
            url = path.replace("{v}", _quote_part(value))
            cases: list[dict[str, Any]] = [{name: value for name in params}] if params else [{}]
            for name in params:
                cases.append({name: [value, "1"]})  # the parameter twice: an array
            for query in cases:
                status = _request(admin_client, "GET", url, query_string=query)
                if status >= 500:
                    failures.append((label, sorted(query), value[:40], status))
    assert not failures, failures


def test_forms_never_give_500(admin_client: FlaskClient) -> None:
    token = csrf_token(admin_client, "/admin/events")
    failures = []
    for label, path, fields in POSTS:
        for value in HOSTILE:
            url = path.replace("{v}", _quote_part(value))
            data = {k: (value if v is None else v) for k, v in fields.items()}
            data["csrf_token"] = token
            status = _request(admin_client, "POST", url, data=data)
            if status >= 500:
                failures.append((label, value[:40], status))
    assert not failures, failures


def test_all_halls_admin_hall_parameter(
    app: Flask, client: FlaskClient, example_hall: Path
) -> None:
    """An admin of no hall picks one with ``?hall=``: a hostile code is a 404, not a 500."""
    with app.app_context():
        create_user(db.session, username="root", password=PASSWORD, role="admin", hall=None)
        db.session.commit()
    assert sign_in(client, "root") == 302
    failures = []
    for value in HOSTILE:
        for path in ("/admin/", "/admin/audit", "/admin/users"):
            status = _request(client, "GET", path, query_string={"hall": value})
            if status >= 500:
                failures.append((path, value[:40], status))
    assert not failures, failures


def test_a_nul_in_a_query_string_is_a_400_with_a_message(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/audit", query_string={"action": "import\x00"})
    assert response.status_code == 400
    assert "控制字符" in response.get_data(as_text=True)


def test_a_year_1_day_is_the_page_with_a_message(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/roster", query_string={"start": "0001-01-01"})
    assert response.status_code == 200
    assert "日期应在 2000-01-01 至 2099-12-31 之间" in response.get_data(as_text=True)
