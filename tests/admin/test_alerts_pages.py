"""``/admin/alerts``, its count on every page and the acknowledgement (SPEC 12)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.models import AlertAck, AuditEntry, Case, Hall, Staff
from tests.admin.conftest import csrf_token


def _due_case(app: Flask) -> None:
    """A case due within the hour, not completed: one case_due alert now."""
    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        staff = db.session.scalars(db.select(Staff).where(Staff.staff_no == "S001")).one()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        db.session.add(
            Case(
                hall_id=hall.id,
                case_no="QJ-ALERT-1",
                staff_id=staff.id,
                matter="设立登记",
                accepted_at=now - dt.timedelta(days=2),
                due_at=now + dt.timedelta(hours=1),
            )
        )
        db.session.commit()


def _count(client: FlaskClient) -> int:
    response = client.get("/admin/alerts/count.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()["count"]


@pytest.mark.parametrize(
    ("role", "status"), [("duty", 200), ("leader", 200), ("admin", 200), ("unit", 403)]
)
def test_who_sees_the_alerts(login_as: Callable[..., FlaskClient], role: str, status: int) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/alerts").status_code == status
    assert client.get("/admin/alerts/count.json").status_code == status


def test_anonymous_is_sent_to_sign_in(client: FlaskClient, example_hall: Path) -> None:
    assert client.get("/admin/alerts/count.json").status_code == 302


def test_count_is_on_every_page_and_the_list_shows_the_case(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    before = _count(client)
    _due_case(app)
    assert _count(client) == before + 1
    for path in ("/admin/", "/admin/today", "/admin/workorders"):
        html = client.get(path).get_data(as_text=True)
        match = re.search(r'id="alert-count"[^>]*>[^<]*<span class="n">(\d+)</span>', html)
        assert match and int(match.group(1)) == before + 1, path
        assert "alerts.js" in html
    page = client.get("/admin/alerts").get_data(as_text=True)
    assert "QJ-ALERT-1" in page and "办件临期" in page


@pytest.mark.parametrize(("role", "status"), [("leader", 403), ("unit", 403)])
def test_only_duty_and_admin_acknowledge(
    app: Flask, login_as: Callable[..., FlaskClient], role: str, status: int
) -> None:
    _due_case(app)
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    # Any page of theirs carries the token (the sign-out form).
    token = csrf_token(client, "/admin/")
    response = client.post(
        "/admin/alerts/acknowledge",
        data={
            "csrf_token": token,
            "code": "case_due",
            "subject": "QJ-ALERT-1",
            "since": "2026-01-01T00:00:00",
            "comment": "x",
        },
    )
    assert response.status_code == status
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertAck.id))) == 0


def _form(html: str, subject: str) -> dict[str, str]:
    row = html[html.index(f'data-subject="{subject}"') :]
    row = row[: row.index("</tr>")]
    return dict(re.findall(r'name="(csrf_token|code|subject|since)" value="([^"]*)"', row))


@pytest.mark.parametrize("role", ["duty", "admin"])
def test_acknowledge_with_a_comment(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    _due_case(app)
    client = login_as(role)
    before = _count(client)
    form = _form(client.get("/admin/alerts").get_data(as_text=True), "QJ-ALERT-1")
    # No comment: the list again, the message beside the form, nothing stored.
    refused = client.post("/admin/alerts/acknowledge", data={**form, "comment": "  "})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert re.search(r'class="field-error" role="alert">请填写处理说明。', html)
    too_long = client.post("/admin/alerts/acknowledge", data={**form, "comment": "长" * 501})
    assert too_long.status_code == 400
    forged = client.post(
        "/admin/alerts/acknowledge", data={**form, "since": "not a time", "comment": "x"}
    )
    assert forged.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AlertAck.id))) == 0
    done = client.post(
        "/admin/alerts/acknowledge", data={**form, "comment": "已督促经办人今日办结"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/alerts")
    assert _count(client) == before - 1
    page = client.get("/admin/alerts").get_data(as_text=True)
    assert "已处理预警：办件临期" in page
    handled = page[page.index('id="alert-handled"') :]
    assert "已督促经办人今日办结" in handled and "QJ-ALERT-1" in handled
    assert 'data-subject="QJ-ALERT-1"' not in page
    with app.app_context():
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "alert.acknowledge")
        ).one()
        assert entry.after["subject"] == "QJ-ALERT-1" and entry.reason == "已督促经办人今日办结"
    again = client.post("/admin/alerts/acknowledge", data={**form, "comment": "再次"})
    assert again.status_code == 400


def test_a_page_without_any_hall_shows_no_count(
    client: FlaskClient, make_user: Callable[..., int]
) -> None:
    from tests.admin.conftest import sign_in

    make_user("root", "admin")
    assert sign_in(client, "root") == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert 'id="alert-count"' not in page.get_data(as_text=True)
