"""The loop in the back office, per role: the duty officer calls back and rectifies, the
window's unit appeals, a leader (not the verifier) decides; the report page."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Rating, RatingAppeal, RatingCallback, User
from kiosk.services.halls import resolve_hall
from kiosk.services.workorders import verify
from tests.ratings.test_badreview_loop import user
from tests.ratings.test_workorders import add_rating, page_token, sign_in

NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None)
DETAIL = "/admin/workorders/B1"


def fresh_bad_review(app: Flask, verifier: int | None = None) -> None:
    """B1 (S001, W01, unit SCJG) rated an hour ago; upheld by ``verifier`` when given."""
    add_rating(app, "B1", 1, rated_at=NOW - dt.timedelta(hours=1))
    if verifier is not None:
        with app.test_request_context():
            hall = resolve_hall(db.session, None)
            verify(db.session, hall, "B1", "upheld", "调取录像属实", verifier, NOW)
            db.session.commit()


def post(client: FlaskClient, path: str, data: dict[str, str]) -> tuple[int, str]:
    response = client.post(path, data={**data, "csrf_token": page_token(client, DETAIL)})
    return response.status_code, response.get_data(as_text=True)


def test_duty_officer_calls_back_and_a_follow_up_reopens(
    app: Flask, hall: None, client: FlaskClient
) -> None:
    fresh_bad_review(app)
    user(app, "duty1", "duty")
    sign_in(client, "duty1")
    page = client.get(DETAIL).get_data(as_text=True)
    assert "callback-form" in page and "尚未回访" in page and "回访期限" in page
    # "Not possible" without a reason is refused beside the form; nothing is stored.
    status, page = post(client, f"{DETAIL}/callback", {"outcome": "impossible", "note": ""})
    assert status == 400 and 'id="callback-error"' in page and "无法回访须写明原因" in page
    status, page = post(
        client, f"{DETAIL}/callback", {"outcome": "reached", "note": "x", "called_at": "soon"}
    )
    assert status == 400 and "回访时间的格式" in page
    status, page = post(
        client,
        f"{DETAIL}/callback",
        {"outcome": "reached", "note": "x", "called_at": "2026-11-26T10:30+08:00"},
    )
    assert status == 400 and "回访时间的格式" in page
    with app.app_context():
        assert db.session.scalars(select(RatingCallback)).all() == []
    status, _ = post(
        client, f"{DETAIL}/callback", {"outcome": "reached", "note": "群众反映窗口推诿"}
    )
    assert status == 302
    status, _ = post(client, f"{DETAIL}/verify", {"verdict": "upheld", "note": "属实"})
    assert status == 302
    # Closing needs a cause and an action.
    status, page = post(
        client, f"{DETAIL}/rectify", {"rectification_cause": "", "rectification_action": "培训"}
    )
    assert status == 400 and "请填写差评原因分析" in page and 'id="rectify-error"' in page
    status, _ = post(
        client,
        f"{DETAIL}/rectify",
        {"rectification_cause": "一次性告知不到位", "rectification_action": "约谈并培训"},
    )
    assert status == 302
    page = client.get(DETAIL).get_data(as_text=True)
    assert "一次性告知不到位" in page and "约谈并培训" in page and 'name="satisfied"' in page
    status, _ = post(
        client,
        f"{DETAIL}/callback",
        {"outcome": "reached", "note": "仍认为被推诿", "satisfied": "no"},
    )
    assert status == 302
    page = client.get(DETAIL).get_data(as_text=True)
    assert "整改已重新打开" in page and 'id="reopened"' in page and "rectify-form" in page
    listing = client.get("/admin/workorders").get_data(as_text=True)
    assert "已回访" in listing and 'data-rating-id="B1"' in listing
    # The duty officer neither appeals nor decides.
    assert post(client, f"{DETAIL}/appeal", {"statement": "x"})[0] == 403
    assert post(client, f"{DETAIL}/appeal/decide", {"decision": "approved", "note": "x"})[0] == 403


def test_the_unit_appeals_its_own_window_only(app: Flask, hall: None, client: FlaskClient) -> None:
    officer = user(app, "duty1", "duty")
    fresh_bad_review(app, officer)
    user(app, "zwb", "unit", "ZWB")
    user(app, "scjg", "unit", "SCJG")
    sign_in(client, "zwb")
    # Another unit's order is not there for it.
    assert client.get(DETAIL).status_code == 404
    assert 'data-rating-id="B1"' not in client.get("/admin/workorders").get_data(as_text=True)
    token = page_token(client, "/admin/workorders")
    assert (
        client.post(f"{DETAIL}/appeal", data={"statement": "x", "csrf_token": token}).status_code
        == 404
    )
    client.post("/admin/logout", data={"csrf_token": token})
    sign_in(client, "scjg")
    page = client.get(DETAIL).get_data(as_text=True)
    assert "appeal-form" in page and "callback-form" not in page and "rectify-form" not in page
    status, page = post(client, f"{DETAIL}/appeal", {"statement": "  "})
    assert status == 400 and "请填写申诉理由" in page
    assert post(client, f"{DETAIL}/callback", {"outcome": "reached", "note": "x"})[0] == 403
    status, _ = post(client, f"{DETAIL}/appeal", {"statement": "群众所需材料属其他部门出具"})
    assert status == 302
    page = client.get(DETAIL).get_data(as_text=True)
    assert "群众所需材料属其他部门出具" in page and "待审核" in page and "appeal-form" not in page
    assert post(client, f"{DETAIL}/appeal/decide", {"decision": "approved", "note": "x"})[0] == 403


def test_a_leader_decides_but_not_the_verifier(app: Flask, hall: None, client: FlaskClient) -> None:
    verifier = user(app, "admin1", "admin")
    fresh_bad_review(app, verifier)
    user(app, "lead1", "leader")
    scjg = user(app, "scjg", "unit", "SCJG")
    with app.test_request_context():
        from kiosk.services.appeals import file_appeal

        appellant = db.session.get(User, scjg)
        assert appellant is not None
        file_appeal(db.session, resolve_hall(db.session, None), "B1", "申诉理由", appellant, NOW)
        db.session.commit()
    sign_in(client, "admin1")
    status, page = post(client, f"{DETAIL}/appeal/decide", {"decision": "approved", "note": "同意"})
    assert status == 403 and "核实这条差评的人员不能审核" in page
    with app.app_context():
        assert db.session.scalars(select(RatingAppeal.decision)).one() is None
    client.post("/admin/logout", data={"csrf_token": page_token(client, DETAIL)})
    sign_in(client, "lead1")
    page = client.get(DETAIL).get_data(as_text=True)
    assert "decide-form" in page and "callback-form" not in page
    status, page = post(client, f"{DETAIL}/appeal/decide", {"decision": "approved", "note": ""})
    assert status == 400 and "请填写审核意见" in page
    status, _ = post(
        client, f"{DETAIL}/appeal/decide", {"decision": "approved", "note": "经核查属群众误解"}
    )
    assert status == 302
    page = client.get(DETAIL).get_data(as_text=True)
    assert "申诉成立" in page and "经核查属群众误解" in page and "不属实" in page
    with app.app_context():
        rating = db.session.scalar(select(Rating).where(Rating.rating_id == "B1"))
        assert rating is not None and rating.review == "unfounded"
        decided = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "workorder.appeal_decision")
        ).one()
        assert decided.after["review"] == "unfounded"


def test_the_report_page_per_role(app: Flask, hall: None, client: FlaskClient) -> None:
    officer = user(app, "duty1", "duty")
    fresh_bad_review(app, officer)
    user(app, "lead1", "leader")
    user(app, "zwb", "unit", "ZWB")
    local = NOW + dt.timedelta(hours=8) - dt.timedelta(hours=1)
    period = f"{local.year}-B{(local.month + 1) // 2}"
    sign_in(client, "lead1")
    page = client.get("/admin/workorders/report").get_data(as_text=True)
    assert 'id="unit-SCJG"' in page and 'id="hall-total"' in page and period in page
    assert "回访率" in page and "按期整改率" in page and "成立率" in page
    bad = client.get("/admin/workorders/report?period=2026-B9")
    assert bad.status_code == 400 and "统计期应写成" in bad.get_data(as_text=True)
    other = client.get("/admin/workorders/report?period=2001-B1").get_data(as_text=True)
    assert "本期没有差评" in other
    client.post("/admin/logout", data={"csrf_token": page_token(client, "/admin/workorders")})
    sign_in(client, "zwb")
    page = client.get("/admin/workorders/report").get_data(as_text=True)
    assert 'id="unit-SCJG"' not in page and 'id="hall-total"' not in page
