"""Passwords and leavers (issue 13): a user changes their own password (other sessions
end), an admin resets one (a temporary password shown once, changed at the next sign-in
before any other page opens), and deactivating a duty officer asks what becomes of their
future duty-roster days."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, DutyAssignment, User
from kiosk.passwords import verify_password
from kiosk.services.halls import resolve_hall
from kiosk.services.roster import set_duty
from tests.admin.conftest import PASSWORD, csrf_token, sign_in

NEW = "a-much-better-one-7"


def _change(client: FlaskClient, current: str, new: str, repeat: str) -> tuple[int, str]:
    token = csrf_token(client, "/admin/password")
    response = client.post(
        "/admin/password",
        data={"current": current, "new": new, "repeat": repeat, "csrf_token": token},
    )
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "message"),
    [
        ("wrong-password", NEW, NEW, "当前密码不正确"),
        (PASSWORD, NEW, NEW + "x", "两次输入的新密码不一致"),
        (PASSWORD, "short", "short", "密码至少需要 8 个字符"),
        (PASSWORD, PASSWORD, PASSWORD, "新密码不能与当前密码相同"),
        (PASSWORD, "", "", "此项必填"),
        (PASSWORD, "x" * 201, "x" * 201, "200"),
    ],
    ids=["wrong-current", "mismatch", "short", "same", "empty", "too-long"],
)
def test_password_change_refusals_show_the_form_again(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    current: str,
    new: str,
    repeat: str,
    message: str,
) -> None:
    client = login_as("duty")
    status, page = _change(client, current, new, repeat)
    assert status == 400
    assert message in page and 'class="field-error"' in page and 'id="password-form"' in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "duty-user"))
        assert user is not None and verify_password(user.password_hash, PASSWORD)


def test_password_change_ends_the_other_sessions_only(
    app: Flask, client: FlaskClient, login_as: Callable[..., FlaskClient]
) -> None:
    login_as("leader")
    other = app.test_client()
    assert sign_in(other, "leader-user") == 302
    assert other.get("/admin/").status_code == 200
    status, _page = _change(client, PASSWORD, NEW, NEW)
    assert status == 302
    assert client.get("/admin/").status_code == 200  # this browser stays signed in
    ended = other.get("/admin/")
    assert ended.status_code == 302 and "/admin/login" in ended.headers["Location"]
    assert sign_in(other, "leader-user") == 401
    assert sign_in(other, "leader-user", NEW) == 302
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.password"))
        assert entry is not None and NEW not in str(entry.after) + str(entry.reason)


def _act(client: FlaskClient, user_id: int, action: str, reason: str = "忘记密码", **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/admin/users")
    data = {
        "kind": "action",
        "act-user_id": str(user_id),
        "act-action": action,
        "act-reason": reason,
        "csrf_token": token,
        **extra,
    }
    return client.post("/admin/users", data=data)


def test_admin_reset_shows_a_temporary_password_once_and_forces_a_change(
    app: Flask, make_user: Callable[..., int], login_as: Callable[..., FlaskClient]
) -> None:
    duty_id = make_user("duty1", "duty")
    duty = app.test_client()
    assert sign_in(duty, "duty1") == 302
    admin = login_as("admin")
    answer = _act(admin, duty_id, "reset")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    match = re.search(r'class="temp-password">([^<]+)<', answer.get_data(as_text=True))
    assert match, "the temporary password is shown"
    temporary = match.group(1)
    assert temporary not in admin.get("/admin/users").get_data(as_text=True)  # once only
    # The officer's open session ended; the old password no longer works.
    assert duty.get("/admin/today").status_code == 302
    assert sign_in(duty, "duty1") == 401
    assert sign_in(duty, "duty1", temporary) == 302
    for path in ("/admin/", "/admin/today", "/admin/events", "/admin/punches"):
        sent = duty.get(path)
        assert sent.status_code == 302 and sent.headers["Location"].endswith("/admin/password")
    # Nor can a change be made before the new password is set.
    token = csrf_token(duty, "/admin/password")
    refused = duty.post("/admin/events", data={"csrf_token": token, "action": "withdraw"})
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/admin/password")
    assert "管理员已重置您的密码" in duty.get("/admin/password").get_data(as_text=True)
    status, _page = _change(duty, temporary, NEW, NEW)
    assert status == 302
    assert duty.get("/admin/today").status_code == 200
    with app.app_context():
        user = db.session.get(User, duty_id)
        assert user is not None and not user.must_change_password
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action == "user.password.reset")
        )
        assert entry is not None and entry.reason == "忘记密码"
        assert temporary not in f"{entry.before}{entry.after}{entry.reason}"


def test_admin_cannot_reset_without_reason_or_their_own(
    app: Flask, make_user: Callable[..., int], login_as: Callable[..., FlaskClient]
) -> None:
    duty_id = make_user("duty1", "duty")
    admin = login_as("admin")
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "admin-user"))
    assert admin_id is not None
    page = _act(admin, admin_id, "reset").get_data(as_text=True)
    assert "不能重置自己的密码" in page and "temp-password" not in page
    page = _act(admin, duty_id, "reset", reason="").get_data(as_text=True)
    assert "temp-password" not in page
    with app.app_context():
        user = db.session.get(User, duty_id)
        assert user is not None and not user.must_change_password


def test_other_roles_cannot_reset(
    app: Flask, make_user: Callable[..., int], login_as: Callable[..., FlaskClient]
) -> None:
    duty_id = make_user("duty1", "duty")
    leader = login_as("leader")
    token = csrf_token(leader, "/admin/password")
    refused = leader.post(
        "/admin/users",
        data={
            "kind": "action",
            "act-user_id": str(duty_id),
            "act-action": "reset",
            "act-reason": "r",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 403


def _roster(app: Flask, user_id: int, days: int = 3) -> list[dt.date]:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        today = dt.date.today()
        chosen = [today + dt.timedelta(days=n) for n in range(1, days + 1)]
        for day in [today - dt.timedelta(days=3), *chosen]:
            set_duty(db.session, hall, day=day, user_id=user_id, actor_id=user_id)
        db.session.commit()
        return chosen


def _days_of(app: Flask, user_id: int) -> list[dt.date]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(DutyAssignment.day)
                .where(DutyAssignment.user_id == user_id)
                .order_by(DutyAssignment.day)
            )
        )


@pytest.mark.parametrize("choice", ["keep", "clear", "hand"])
def test_deactivating_a_duty_officer_asks_about_their_roster_days(
    app: Flask,
    make_user: Callable[..., int],
    login_as: Callable[..., FlaskClient],
    choice: str,
) -> None:
    leaving = make_user("duty1", "duty")
    taking = make_user("duty2", "duty")
    future = _roster(app, leaving)
    admin = login_as("admin")
    asked = _act(admin, leaving, "deactivate", reason="调离").get_data(as_text=True)
    assert 'id="handover"' in asked and "今后还有 3 个带班日" in asked
    assert f'<option value="{taking}">' in asked
    with app.app_context():
        user = db.session.get(User, leaving)
        assert user is not None and user.active  # asked, nothing changed yet
    extra = {"act-days": choice, "confirmed": "1"}
    if choice == "hand":
        extra["act-to_user"] = str(taking)
    done = _act(admin, leaving, "deactivate", reason="调离", **extra)
    assert done.status_code == 302
    kept = _days_of(app, leaving)
    past = [d for d in kept if d < dt.date.today()]
    assert len(past) == 1  # the past is never rewritten
    if choice == "keep":
        assert kept[1:] == future and _days_of(app, taking) == []
    elif choice == "clear":
        assert kept == past and _days_of(app, taking) == []
    else:
        assert kept == past and _days_of(app, taking) == future
    with app.app_context():
        user = db.session.get(User, leaving)
        assert user is not None and not user.active
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "duty.handover"))
        assert entry is not None and entry.after["choice"] == choice
        assert entry.before["days"] == [d.isoformat() for d in future]


def test_handing_days_to_nobody_is_refused(
    app: Flask, make_user: Callable[..., int], login_as: Callable[..., FlaskClient]
) -> None:
    leaving = make_user("duty1", "duty")
    future = _roster(app, leaving)
    admin = login_as("admin")
    for target in ("", str(leaving), "99999"):
        page = _act(
            admin,
            leaving,
            "deactivate",
            reason="调离",
            **{"act-days": "hand", "act-to_user": target, "confirmed": "1"},
        ).get_data(as_text=True)
        assert "请选择接手带班的其他在岗人员" in page
    page = _act(admin, leaving, "deactivate", reason="调离", **{"act-days": "xx", "confirmed": "1"})
    assert "请选择如何处理" in page.get_data(as_text=True)
    assert _days_of(app, leaving)[1:] == future
    with app.app_context():
        user = db.session.get(User, leaving)
        assert user is not None and user.active


def test_an_officer_without_future_days_is_deactivated_as_before(
    app: Flask,
    make_user: Callable[..., int],
    login_as: Callable[..., FlaskClient],
    example_hall: Path,
) -> None:
    leaving = make_user("duty1", "duty")
    admin = login_as("admin")
    asked = _act(admin, leaving, "deactivate", reason="调离").get_data(as_text=True)
    assert "确认停用账户" in asked and 'id="handover"' not in asked
    assert _act(admin, leaving, "deactivate", reason="调离", confirmed="1").status_code == 302
