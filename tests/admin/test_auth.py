"""Sign-in, lockout, role checks and the ``users`` command."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from kiosk.extensions import db
from kiosk.models import AuditEntry, User
from tests.admin.conftest import PASSWORD, csrf_token, sign_in


def test_login_page_has_csrf_and_refuses_a_post_without_token(client: FlaskClient) -> None:
    assert "csrf_token" in client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"username": "a", "password": "b"})
    assert response.status_code == 400


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_sign_in_and_out(
    client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    assert sign_in(client, "duty1") == 302
    assert client.get("/admin/").status_code == 200
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_wrong_password_is_refused_with_a_message(
    client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"username": "duty1", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_next_parameter_only_goes_to_this_site(
    client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    make_user("duty1", "duty")
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login?next=https://evil.example/x",
        data={"username": "duty1", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_lockout_after_max_failures_refuses_even_the_right_password(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    user_id = make_user("duty1", "duty")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        token = csrf_token(client, "/admin/login")
        client.post(
            "/admin/login", data={"username": "duty1", "password": "wrong", "csrf_token": token}
        )
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login", data={"username": "duty1", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401
    # The same words as a wrong password: the page does not tell that the account is locked.
    assert "用户名或密码错误" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None and user.locked_until is not None
        remaining = user.locked_until - dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert 0 < remaining.total_seconds() <= app.config["LOGIN_LOCKOUT_SECONDS"]
        actions = db.session.scalars(db.select(AuditEntry.action)).all()
        assert "user.locked" in actions
        # When the lock has run out the right password works again.
        user.locked_until = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=1)
        db.session.commit()
    assert sign_in(client, "duty1") == 302


def test_a_success_resets_the_failure_count(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    user_id = make_user("duty1", "duty")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        sign_in(client, "duty1", "wrong")
    assert sign_in(client, "duty1") == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None and user.failed_logins == 0 and user.locked_until is None


def test_deactivated_user_loses_access(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    user_id = make_user("duty1", "duty")
    assert sign_in(client, "duty1") == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        user.active = False
        db.session.commit()
    assert client.get("/admin/").status_code == 302


def test_users_add_creates_an_admin_and_checks_input(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    result = runner.invoke(
        args=["users", "add", "boss", "--role", "admin", "--password", "s3cret-pw"]
    )
    assert result.exit_code == 0, result.output
    bad = runner.invoke(
        args=["users", "add", "viewer", "--role", "unit", "--password", "s3cret-pw"]
    )
    assert bad.exit_code == 1 and "须指定所属单位" in bad.output
    bad = runner.invoke(
        args=[
            "users",
            "add",
            "viewer",
            "--role",
            "unit",
            "--unit",
            "NOPE",
            "--password",
            "s3cret-pw",
        ]
    )
    assert bad.exit_code == 1 and "没有单位" in bad.output
    bad = runner.invoke(args=["users", "add", "boss", "--role", "duty", "--password", "s3cret-pw"])
    assert bad.exit_code == 1 and "已被使用" in bad.output
    short = runner.invoke(args=["users", "add", "x", "--role", "duty", "--password", "short"])
    assert short.exit_code == 1 and "至少需要 8 个字符" in short.output
    ok = runner.invoke(
        args=[
            "users",
            "add",
            "viewer",
            "--role",
            "unit",
            "--unit",
            "SCJG",
            "--password",
            "s3cret-pw",
        ]
    )
    assert ok.exit_code == 0, ok.output
    prompted = runner.invoke(
        args=["users", "add", "leader1", "--role", "leader"], input="pw-long-1\npw-long-1\n"
    )
    assert prompted.exit_code == 0, prompted.output
    with app.app_context():
        names = db.session.scalars(db.select(User.username).order_by(User.username)).all()
        assert names == ["boss", "leader1", "viewer"]
        admin = db.session.scalar(db.select(User).where(User.username == "boss"))
        assert admin is not None and admin.password_hash.startswith("$argon2")


def test_an_admin_of_no_hall_chooses_one_and_keeps_it(
    app: Flask, client: FlaskClient, make_user: Callable[..., int], example_hall: Path
) -> None:
    from kiosk.models import Hall

    with app.app_context():
        db.session.add(Hall(code="ZZ", name="第二中心", timezone="Asia/Shanghai", settings={}))
        db.session.commit()
    with app.app_context():
        from kiosk.services.accounts import create_user

        create_user(db.session, username="root", password=PASSWORD, role="admin", hall=None)
        db.session.commit()
    assert sign_in(client, "root") == 302
    first = client.get("/admin/reports/weekly?week=2026-W41").get_data(as_text=True)
    assert "潜江市行政服务中心" in first and "第二中心" in first  # the chooser lists both
    chosen = client.get("/admin/reports/weekly?week=2026-W41&hall=ZZ").get_data(as_text=True)
    assert "<h1>第二中心" in chosen
    kept = client.get("/admin/reports/weekly?week=2026-W41").get_data(as_text=True)
    assert "<h1>第二中心" in kept
    assert client.get("/admin/today?hall=NOPE").status_code == 404
