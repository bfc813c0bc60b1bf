"""The phone page, the counter page's sign-in and session, CSRF on their forms, and the CLI."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Rating, Terminal
from tests.ratings.conftest import Api, csrf_from

LEVEL_NAMES = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


def ratings(app: Flask) -> list[Rating]:
    with app.app_context():
        rows = db.session.scalars(select(Rating).order_by(Rating.id)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


# --- phone page -------------------------------------------------------------------------


def test_phone_good_rating_then_used_link(api: Api, app: Flask) -> None:
    session = api.session("S002")
    client = api.client
    path = f"/r/{session['token']}"
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in LEVEL_NAMES:
        assert name in html
    assert "李强" in html and "企业登记" in html
    response = client.post(path, data={"level": "5", "csrf_token": csrf_from(html)})
    assert response.status_code == 302
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "感谢您的评价" in thanks
    again = client.get(path)
    assert again.status_code == 200 and "已评价" in again.get_data(as_text=True)
    (rating,) = ratings(app)
    assert (rating.channel, rating.level, rating.terminal_id) == ("qr", 5, None)
    # Posting on the used link says 已评价 again, and stores nothing.
    reused = client.post(path, data={"level": "4", "csrf_token": csrf_from(html)})
    assert reused.status_code == 200 and "已评价" in reused.get_data(as_text=True)
    assert len(ratings(app)) == 1


def test_phone_bad_review_asks_for_reasons(api: Api, app: Flask) -> None:
    session = api.session()
    client = api.client
    path = f"/r/{session['token']}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    step = client.post(path, data={"level": "1", "csrf_token": token})
    html = step.get_data(as_text=True)
    assert step.status_code == 200 and "非常不满意" in html
    for reason in ("态度不好", "效率低", "业务不熟", "推诿扯皮", "解释不清", "其他"):
        assert f'value="{reason}"' in html
    assert ratings(app) == []
    missing = client.post(path, data={"level": "1", "step": "reasons", "csrf_token": token})
    assert missing.status_code == 400 and "至少选择一项原因" in missing.get_data(as_text=True)
    assert ratings(app) == []
    done = client.post(
        path,
        data={
            "level": "1",
            "step": "reasons",
            "reasons": ["效率低", "解释不清"],
            "comment": "等了很久",
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    (rating,) = ratings(app)
    assert (rating.level, rating.reasons, rating.comment) == (1, "效率低|解释不清", "等了很久")


def test_phone_refusals_are_friendly(api: Api, app: Flask, expire: Callable[[str], None]) -> None:
    client = api.client
    unknown = client.get("/r/not-a-token")
    assert unknown.status_code == 404 and "评价链接无效" in unknown.get_data(as_text=True)
    session = api.session()
    path = f"/r/{session['token']}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    bad_level = client.post(path, data={"level": "9", "csrf_token": token})
    assert bad_level.status_code == 400 and "请选择一个评价等级" in bad_level.get_data(as_text=True)
    unlisted = client.post(
        path, data={"level": "2", "step": "reasons", "reasons": "太贵", "csrf_token": token}
    )
    assert unlisted.status_code == 400 and "太贵" in unlisted.get_data(as_text=True)
    expire(session["session_id"])
    expired = client.get(path)
    assert expired.status_code == 410 and "已过期" in expired.get_data(as_text=True)
    late = client.post(path, data={"level": "5", "csrf_token": token})
    assert late.status_code == 410 and "已过期" in late.get_data(as_text=True)
    assert ratings(app) == []


def test_phone_form_needs_csrf(api: Api, app: Flask) -> None:
    session = api.session()
    response = api.client.post(f"/r/{session['token']}", data={"level": "5"})
    assert response.status_code == 400
    assert ratings(app) == []
    assert "非常满意" in api.client.get(f"/r/{session['token']}").get_data(as_text=True)


# --- counter page -----------------------------------------------------------------------


def sign_in_counter(client: FlaskClient, key: str) -> str:
    """Sign the counter page in; returns the page's CSRF token for the API calls."""
    login = client.get("/counter/login")
    response = client.post(
        "/counter/login", data={"key": key, "csrf_token": csrf_from(login.get_data(as_text=True))}
    )
    assert response.status_code == 302
    page = client.get("/counter")
    assert page.status_code == 200
    return client.get("/counter/state").get_json()["csrf_token"]


def test_counter_needs_sign_in(client: FlaskClient, key: str) -> None:
    response = client.get("/counter")
    assert response.status_code == 302 and response.headers["Location"].endswith("/counter/login")
    assert client.get("/counter/state").status_code == 401
    token = csrf_from(client.get("/counter/login").get_data(as_text=True))
    wrong = client.post("/counter/login", data={"key": "kt_wrong", "csrf_token": token})
    assert wrong.status_code == 401 and "终端密钥无效" in wrong.get_data(as_text=True)
    # The sign-in form is CSRF-protected like every form.
    assert client.post("/counter/login", data={"key": key}).status_code == 400
    assert client.get("/counter").status_code == 302


def test_counter_page_shows_the_staff_on_duty(client: FlaskClient, key: str) -> None:
    sign_in_counter(client, key)
    html = client.get("/counter").get_data(as_text=True)
    assert "企业登记" in html and "W01" in html
    for name in LEVEL_NAMES:
        assert name in html
    state = client.get("/counter/state").get_json()
    names = {person["staff_no"]: person for person in state["staff"]}
    # W01 on the example roster today: S001, S002, S005, S007 (S003 moved to W02).
    assert {"S001", "S002", "S005"} <= set(names) and "S003" not in names
    assert names["S001"]["name"] == "张敏" and names["S001"]["initials"] == "张敏"


def test_counter_session_counts_as_the_key(client: FlaskClient, key: str, app: Flask) -> None:
    csrf = sign_in_counter(client, key)
    headers = {"X-CSRFToken": csrf}
    opened = client.post("/api/v1/sessions", json={"staff_no": "S001"}, headers=headers)
    assert opened.status_code == 201
    body = opened.get_json()
    # Without the page's CSRF token the cookie alone is not a key.
    assert client.post("/api/v1/sessions", json={"staff_no": "S001"}).status_code == 401
    assert client.get(f"/api/v1/sessions/{body['session_id']}/qr.png").status_code == 200
    state_url = f"/counter/sessions/{body['session_id']}/state"
    assert client.get(state_url).get_json()["state"] == "open"
    # Whom the session serves, for a staff member who is not on this window's cards.
    assert client.get(state_url).get_json()["staff"]["name"] == "张敏"
    rated = client.post(
        "/api/v1/ratings", json={"token": body["token"], "level": 4}, headers=headers
    )
    assert rated.status_code == 201
    (rating,) = ratings(app)
    assert rating.channel == "counter" and rating.terminal_id is not None
    assert client.get(state_url).get_json()["state"] == "rated"
    assert client.get("/counter/sessions/nope/state").status_code == 404


def test_revoked_terminal_is_signed_out(
    client: FlaskClient, key: str, runner: FlaskCliRunner
) -> None:
    csrf = sign_in_counter(client, key)
    assert runner.invoke(args=["terminals", "revoke", "柜台1"]).exit_code == 0
    response = client.post(
        "/api/v1/sessions", json={"staff_no": "S001"}, headers={"X-CSRFToken": csrf}
    )
    assert response.status_code == 401
    assert client.get("/counter").status_code == 302


# --- terminals CLI ----------------------------------------------------------------------


def test_terminals_cli(runner: FlaskCliRunner, app: Flask, hall: None) -> None:
    added = runner.invoke(args=["terminals", "add", "柜台A", "--window", "W02", "--hall", "QJ"])
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    key_id, secret = key[3:].split(".")
    with app.app_context():
        terminal = db.session.scalar(select(Terminal).where(Terminal.name == "柜台A"))
        assert terminal is not None and terminal.key_id == key_id
        assert terminal.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert terminal.window.code == "W02"
    listing = runner.invoke(args=["terminals", "list"])
    assert listing.exit_code == 0
    assert f"柜台A\tW02\t{key_id}\tactive" in listing.output and secret not in listing.output

    duplicate = runner.invoke(args=["terminals", "add", "柜台A", "--window", "W01"])
    assert duplicate.exit_code == 1 and "already has" in duplicate.output
    unknown_window = runner.invoke(args=["terminals", "add", "X", "--window", "W99"])
    assert unknown_window.exit_code == 1 and "W99" in unknown_window.output
    unknown_hall = runner.invoke(args=["terminals", "add", "X", "--window", "W01", "--hall", "ZZ"])
    assert unknown_hall.exit_code == 1 and "ZZ" in unknown_hall.output
    missing = runner.invoke(args=["terminals", "revoke", "nope"])
    assert missing.exit_code == 1 and "柜台A" in missing.output

    assert runner.invoke(args=["terminals", "revoke", "柜台A"]).exit_code == 0
    assert "revoked" in runner.invoke(args=["terminals", "list"]).output
    again = runner.invoke(args=["terminals", "revoke", "柜台A"])
    assert again.exit_code == 0 and "already" in again.output
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "terminal")
        ).all()
        assert actions == ["terminal.add", "terminal.revoke"]
        assert db.session.scalar(select(func.count()).select_from(Terminal)) == 1
