"""Account administration in the back office: create, unlock, deactivate (audited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.models import AuditEntry, User
from tests.admin.conftest import csrf_token


def test_admin_creates_unlocks_and_deactivates_users(
    app: Flask, login_as: Callable[..., FlaskClient], make_user: Callable[..., int]
) -> None:
    client = login_as("admin")
    token = csrf_token(client, "/admin/users")
    created = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "kind": "create",
            "new-username": "viewer",
            "new-role": "unit",
            "new-unit": "ZWB",
            "new-password": "long-enough-1",
        },
        follow_redirects=True,
    )
    assert "已创建用户" in created.get_data(as_text=True)
    refused = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "kind": "create",
            "new-username": "viewer2",
            "new-role": "unit",
            "new-unit": "",
            "new-password": "long-enough-1",
        },
    )
    refused_text = refused.get_data(as_text=True)
    assert "未做更改" in refused_text and "单位查看人员须指定所属单位" in refused_text
    assert "--unit" not in refused_text and "needs" not in refused_text  # no raw English
    locked_id = make_user("locked", "duty")
    with app.app_context():
        user = db.session.get(User, locked_id)
        assert user is not None
        user.locked_until = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
        db.session.commit()
    client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "kind": "action",
            "act-user_id": str(locked_id),
            "act-action": "unlock",
            "act-reason": "本人电话确认",
        },
    )
    deactivate = {
        "csrf_token": token,
        "kind": "action",
        "act-user_id": str(locked_id),
        "act-action": "deactivate",
        "act-reason": "调离",
    }
    asked = client.post("/admin/users", data=deactivate).get_data(as_text=True)
    assert "确认停用账户" in asked and "调离" in asked
    with app.app_context():
        user = db.session.get(User, locked_id)
        assert user is not None and user.active  # only asked, nothing changed
        assert "user.deactivate" not in set(db.session.scalars(db.select(AuditEntry.action)))
    client.post("/admin/users", data={**deactivate, "confirmed": "1"})
    with app.app_context():
        user = db.session.get(User, locked_id)
        assert user is not None and user.locked_until is None and not user.active
        actions = set(db.session.scalars(db.select(AuditEntry.action)))
        assert {"user.create", "user.unlock", "user.deactivate"} <= actions
        assert db.session.scalar(db.select(User).where(User.username == "viewer2")) is None


def test_users_page_is_for_admins_only(login_as: Callable[..., FlaskClient]) -> None:
    leader = login_as("leader")
    assert leader.get("/admin/users").status_code == 403
    token = csrf_token(leader, "/admin/periods")
    response = leader.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "kind": "create",
            "new-username": "sneaky",
            "new-role": "admin",
            "new-password": "long-enough-1",
        },
    )
    assert response.status_code == 403
