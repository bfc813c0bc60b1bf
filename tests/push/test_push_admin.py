"""The back office's push page (/admin/push): who may read it, who may resend, refusals,
the audit of a resend."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import AuditEntry, PushDelivery, Rating
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall
from tests.admin.conftest import PASSWORD, csrf_token, sign_in
from tests.push.platform_double import PlatformState
from tests.push.test_push_run import run_once, status


def login(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        create_user(
            db.session,
            username=f"{role}-user",
            password=PASSWORD,
            role=role,
            hall=resolve_hall(db.session, None) if role != "admin" else None,
            unit_code="SCJG" if role == "unit" else None,
        )
        db.session.commit()
    assert sign_in(client, f"{role}-user") == 302
    return client


@pytest.fixture
def rejected_app(push_app: Flask, double: tuple[str, PlatformState]) -> Flask:
    """Everything pushed; the platform rejected X-QR and X-OTHER."""
    _url, state = double
    state.reject.update({"X-QR": "reasons 含有平台未登记的原因", "X-OTHER": "deptCode 无效"})
    assert run_once(push_app)[0] == 0
    state.reject.clear()
    return push_app


@pytest.mark.parametrize("role", ["duty", "leader", "admin"])
def test_the_page_shows_pending_rejected_and_the_last_success(
    rejected_app: Flask, role: str
) -> None:
    page = login(rejected_app, role).get("/admin/push")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="pending">0<' in html and 'id="rejected-count">2<' in html
    assert "reasons 含有平台未登记的原因" in html and "deptCode 无效" in html
    assert "429005" in html and "市政务服务中心（ZWB）" in html  # the unit without org_code
    assert "尚未上报" not in html
    # Only those who may resend see the boxes.
    assert ('name="rating_id"' in html) == (role in ("duty", "admin"))


def test_a_unit_viewer_may_not_open_it(rejected_app: Flask) -> None:
    assert login(rejected_app, "unit").get("/admin/push").status_code == 403


@pytest.mark.parametrize("role", ["duty", "admin"])
def test_an_officer_resends_rejected_records_and_it_is_audited(
    rejected_app: Flask, role: str
) -> None:
    client = login(rejected_app, role)
    token = csrf_token(client, "/admin/push")
    answer = client.post("/admin/push/resend", data={"csrf_token": token, "rating_id": ["X-QR"]})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/admin/push")
    assert "已将 1 条评价重新列入待上报" in client.get("/admin/push").get_data(as_text=True)
    assert status(rejected_app)["pending"] == 1
    assert [r["rating_id"] for r in status(rejected_app)["rejected"]] == ["X-OTHER"]
    with rejected_app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "push.resend")
        ).one()
        assert entry.object_id == "X-QR" and entry.user_id is not None
        assert entry.before["push_state"] == "rejected" and entry.after == {"push_state": "pending"}
    assert run_once(rejected_app)[0] == 0
    assert status(rejected_app)["pending"] == 0


@pytest.mark.parametrize("role", ["leader", "unit"])
def test_leaders_and_units_may_not_resend(rejected_app: Flask, role: str) -> None:
    client = login(rejected_app, role)
    token = csrf_token(client, "/admin/")  # the sign-out form carries one
    answer = client.post("/admin/push/resend", data={"csrf_token": token, "rating_id": ["X-QR"]})
    assert answer.status_code == 403
    assert len(status(rejected_app)["rejected"]) == 2


def _rows(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PushDelivery))


@pytest.mark.parametrize(
    "chosen, message",
    [
        ([], "请选择要重新上报的评价。"),
        (["R0001"], "以下评价不是被退回的记录：R0001"),  # delivered, not rejected
        (["X-QR", "NOPE"], "以下评价不是被退回的记录：NOPE"),
        (["x" * 65], "所选记录过多或编号无效。"),
        ([f"R{i}" for i in range(501)], "所选记录过多或编号无效。"),
    ],
)
def test_a_refused_resend_shows_the_page_again_and_changes_nothing(
    rejected_app: Flask, chosen: list[str], message: str
) -> None:
    client = login(rejected_app, "duty")
    token = csrf_token(client, "/admin/push")
    before = _rows(rejected_app)
    answer = client.post("/admin/push/resend", data={"csrf_token": token, "rating_id": chosen})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert message in html and 'id="resend-error"' in html
    assert _rows(rejected_app) == before and len(status(rejected_app)["rejected"]) == 2
    with rejected_app.app_context():
        assert not db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "push.resend")
        ).all()


def test_a_resend_without_the_csrf_token_is_refused(rejected_app: Flask) -> None:
    client = login(rejected_app, "duty")
    answer = client.post("/admin/push/resend", data={"rating_id": ["X-QR"]})
    assert answer.status_code == 400
    assert len(status(rejected_app)["rejected"]) == 2


def test_the_page_before_any_push(push_hall: Flask) -> None:
    html = login(push_hall, "duty").get("/admin/push").get_data(as_text=True)
    with push_hall.app_context():
        total = db.session.scalar(select(func.count()).select_from(Rating))
    assert f'id="pending">{total}<' in html and "尚未上报" in html and "没有被退回的记录。" in html
