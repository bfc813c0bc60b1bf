"""Bad-review work orders: verification, rectification, deadlines, the audit log and the pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Hall, Rating, Staff
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall
from kiosk.services.workorders import (
    WorkOrderError,
    get_work_order,
    list_work_orders,
    rectify,
    verify,
)
from tests.ratings.conftest import Api

PASSWORD = "correct-horse-42"
# Thursday 2026-11-26, 10:00 in Qianjiang; the 5th workday after it is Thursday 2026-12-03.
RATED_LOCAL = dt.datetime(2026, 11, 26, 10, 0)
RATED_UTC = RATED_LOCAL - dt.timedelta(hours=8)
DEADLINE_LOCAL = dt.datetime(2026, 12, 4, 0, 0)
DEADLINE_UTC = DEADLINE_LOCAL - dt.timedelta(hours=8)


def add_rating(app: Flask, rating_id: str, level: int, **values: object) -> None:
    """A rating row as an import would leave it."""
    with app.test_request_context():
        hall = db.session.scalars(select(Hall)).one()
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S001"))
        assert staff is not None
        db.session.add(
            Rating(
                hall_id=hall.id,
                rating_id=rating_id,
                staff_id=staff.id,
                rated_at=values.pop("rated_at", RATED_UTC),
                level=level,
                channel=values.pop("channel", "qr"),
                reasons=values.pop("reasons", "态度不好" if level <= 2 else None),
                **values,
            )
        )
        db.session.commit()


def make_user(app: Flask, username: str, role: str) -> int:
    with app.test_request_context():
        user = create_user(
            db.session,
            username=username,
            password=PASSWORD,
            role=role,
            hall=resolve_hall(db.session, None),
            display_name=f"{role} 官",
            unit_code="SCJG" if role == "unit" else None,
        )
        db.session.commit()
        return user.id


def test_only_bad_reviews_are_work_orders_with_their_deadline(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    add_rating(app, "B2", 2, misuse=True)
    add_rating(app, "G3", 3)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        orders = list_work_orders(db.session, hall_row, RATED_UTC + dt.timedelta(hours=1))
        assert [o.rating_id for o in orders] == ["B1", "B2"]
        order = orders[0]
        assert order.status == "pending" and order.is_open
        assert order.rated_at == RATED_LOCAL
        assert order.deadline == DEADLINE_LOCAL
        assert order.deadline_day == dt.date(2026, 12, 3)
        assert not order.overdue
        assert orders[1].misuse
        # One second past 24:00 of the 5th workday the open order is overdue.
        late = get_work_order(db.session, hall_row, "B1", DEADLINE_UTC + dt.timedelta(seconds=1))
        assert late.overdue and late.days_left < 0
        assert not get_work_order(db.session, hall_row, "B1", DEADLINE_UTC).overdue
        with pytest.raises(WorkOrderError):
            get_work_order(db.session, hall_row, "G3", RATED_UTC)


def test_deadline_skips_holidays(app: Flask, hall: None) -> None:
    # Rated on 2026-09-30: the National Day holidays come first (SPEC 4.3 counts hall workdays).
    add_rating(app, "B9", 1, rated_at=dt.datetime(2026, 9, 30, 2, 0))
    with app.test_request_context():
        order = get_work_order(db.session, resolve_hall(db.session, None), "B9", RATED_UTC)
        assert order.deadline_day > dt.date(2026, 10, 8)


def test_verify_and_rectify_are_audited(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    officer = make_user(app, "duty1", "duty")
    now = RATED_UTC + dt.timedelta(days=1)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        order = verify(db.session, hall_row, "B1", "upheld", " 态度生硬属实 ", officer, now)
        assert (order.status, order.review_note, order.reviewed_by) == (
            "upheld",
            "态度生硬属实",
            "duty 官",
        )
        with pytest.raises(WorkOrderError, match="已经核实"):
            verify(db.session, hall_row, "B1", "unfounded", "改判", officer, now)
        later = now + dt.timedelta(days=2)
        order = rectify(
            db.session,
            hall_row,
            "B1",
            "已批评教育并回访群众",
            officer,
            later,
            cause="窗口人员服务态度生硬",
            action="约谈并组织服务礼仪培训",
        )
        assert order.status == "rectified" and not order.is_open and not order.late
        assert order.rectified_at == later + dt.timedelta(hours=8)
        with pytest.raises(WorkOrderError, match="待整改"):
            rectify(db.session, hall_row, "B1", "again", officer, later, cause="c", action="a")
        rating = db.session.scalar(select(Rating).where(Rating.rating_id == "B1"))
        assert rating is not None
        assert (rating.review, rating.reviewed_by, rating.rectified_at) == (
            "upheld",
            officer,
            later,
        )
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("workorder.%")).order_by(AuditEntry.id)
        ).all()
        actions = [(e.action, e.object_id, e.user_id) for e in entries]
        assert actions == [
            ("workorder.verify", "B1", officer),
            ("workorder.rectify", "B1", officer),
        ]
        assert entries[0].after["review"] == "upheld"
        assert entries[1].reason == "约谈并组织服务礼仪培训"
        assert entries[1].after["rectification_cause"] == "窗口人员服务态度生硬"


def test_late_rectification_is_marked(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 2)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        verify(db.session, hall_row, "B1", "upheld", "属实", None, RATED_UTC)
        order = rectify(
            db.session,
            hall_row,
            "B1",
            "整改",
            None,
            DEADLINE_UTC + dt.timedelta(minutes=1),
            cause="业务不熟",
            action="再培训",
        )
        assert order.late and not order.overdue


@pytest.mark.parametrize(
    ("verdict", "note", "words"),
    [("maybe", "x", "属实"), ("upheld", "  ", "核实说明"), ("upheld", "长" * 1001, "1000")],
)
def test_bad_verification_changes_nothing(
    app: Flask, hall: None, verdict: str, note: str, words: str
) -> None:
    add_rating(app, "B1", 1)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        with pytest.raises(WorkOrderError, match=words):
            verify(db.session, hall_row, "B1", verdict, note, None, RATED_UTC)
        assert get_work_order(db.session, hall_row, "B1", RATED_UTC).status == "pending"
        assert (
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action.like("workorder.%"))
            ).all()
            == []
        )


def test_unfounded_and_pending_orders_cannot_be_rectified(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    add_rating(app, "B2", 1)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        with pytest.raises(WorkOrderError):
            rectify(db.session, hall_row, "B1", "note", None, RATED_UTC, cause="c", action="a")
        verify(db.session, hall_row, "B2", "unfounded", "恶意差评", None, RATED_UTC)
        with pytest.raises(WorkOrderError):
            rectify(db.session, hall_row, "B2", "note", None, RATED_UTC, cause="c", action="a")
        statuses = {
            o.rating_id: o.status for o in list_work_orders(db.session, hall_row, RATED_UTC)
        }
        assert statuses == {"B1": "pending", "B2": "unfounded"}
        assert [o.rating_id for o in list_work_orders(db.session, hall_row, RATED_UTC, "open")] == [
            "B1"
        ]
        with pytest.raises(WorkOrderError):
            list_work_orders(db.session, hall_row, RATED_UTC, "bogus")


# --- pages ---------------------------------------------------------------------------


def sign_in(client: FlaskClient, username: str) -> None:
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token
    response = client.post(
        "/admin/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 302


def page_token(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def test_duty_officer_handles_an_order_through_the_pages(
    app: Flask, api: Api, client: FlaskClient
) -> None:
    session = api.session("S002", "C-9")
    rating_id = api.rate(
        {"token": session["token"], "level": 1, "reasons": ["推诿扯皮"], "comment": "让我跑三趟"}
    ).get_json()["rating_id"]
    make_user(app, "duty1", "duty")
    sign_in(client, "duty1")
    listing = client.get("/admin/workorders").get_data(as_text=True)
    assert rating_id in listing and "待核实" in listing and "推诿扯皮" in listing
    detail_path = f"/admin/workorders/{rating_id}"
    detail = client.get(detail_path).get_data(as_text=True)
    assert "让我跑三趟" in detail and "C-9" in detail and "verify-form" in detail
    # Without the CSRF token the form post is refused and nothing changes.
    refused = client.post(f"{detail_path}/verify", data={"verdict": "upheld", "note": "属实"})
    assert refused.status_code == 400
    with app.test_request_context():
        rating = db.session.scalar(select(Rating).where(Rating.rating_id == rating_id))
        assert rating is not None and rating.review is None
    # A missing note is named, and nothing changes.
    token = page_token(client, detail_path)
    response = client.post(
        f"{detail_path}/verify", data={"verdict": "upheld", "note": "", "csrf_token": token}
    )
    assert response.status_code == 400 and "请填写核实说明" in response.get_data(as_text=True)
    response = client.post(
        f"{detail_path}/verify",
        data={"verdict": "upheld", "note": "调取录像属实", "csrf_token": token},
    )
    assert response.status_code == 302
    detail = client.get(detail_path).get_data(as_text=True)
    assert "调取录像属实" in detail and "rectify-form" in detail and "24:00" in detail
    response = client.post(
        f"{detail_path}/rectify",
        data={
            "rectification_cause": "推诿扯皮，未一次告知",
            "rectification_action": "已约谈并电话回访",
            "csrf_token": page_token(client, detail_path),
        },
    )
    assert response.status_code == 302
    detail = client.get(detail_path).get_data(as_text=True)
    assert "已约谈并电话回访" in detail and "已整改" in detail
    assert rating_id not in client.get("/admin/workorders").get_data(as_text=True)
    assert rating_id in client.get("/admin/workorders?status=all").get_data(as_text=True)


def test_overdue_orders_stand_out(app: Flask, hall: None, client: FlaskClient) -> None:
    add_rating(app, "OLD-1", 1, rated_at=dt.datetime(2026, 1, 5, 2, 0))
    make_user(app, "duty1", "duty")
    sign_in(client, "duty1")
    listing = client.get("/admin/workorders").get_data(as_text=True)
    row = re.search(r'<tr class="overdue" data-rating-id="OLD-1"', listing)
    assert row, listing
    assert "已逾期" in listing


def test_leader_may_view_but_not_handle(app: Flask, hall: None, client: FlaskClient) -> None:
    add_rating(app, "B1", 1)
    make_user(app, "lead1", "leader")
    sign_in(client, "lead1")
    assert client.get("/admin/workorders").status_code == 200
    detail = client.get("/admin/workorders/B1")
    assert detail.status_code == 200 and "verify-form" not in detail.get_data(as_text=True)
    token = page_token(client, "/admin/workorders")  # the sign-out form's token
    response = client.post(
        "/admin/workorders/B1/verify",
        data={"verdict": "unfounded", "note": "x", "csrf_token": token},
    )
    assert response.status_code == 403
    assert client.get("/admin/workorders/NOPE").status_code == 404


def test_anonymous_is_kept_out(app: Flask, hall: None, client: FlaskClient) -> None:
    assert client.get("/admin/workorders").status_code == 302  # to the sign-in page


def test_imported_bad_reviews_show_the_window_of_the_rating_day(
    app: Flask, example_hall: object
) -> None:
    """Ratings imported without a counter session take the staff's window on that day."""
    with app.app_context():
        hall = resolve_hall(db.session, None)
        now = dt.datetime(2026, 11, 5, 4, 0)
        orders = {o.rating_id: o for o in list_work_orders(db.session, hall, now)}
        assert orders["R0053"].window_code == "W01"  # S002, always at W01
        # S003 moved from W01 to W02 on 25 Sep; the rating of 29 Oct is W02's.
        assert orders["R0085"].window_code == "W02"
        assert orders["R0085"].window_name == "食品经营许可"


def test_verify_and_rectify_leave_the_commit_to_the_caller(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    now = RATED_UTC + dt.timedelta(days=1)
    with app.test_request_context():
        hall_row = resolve_hall(db.session, None)
        assert verify(db.session, hall_row, "B1", "upheld", "属实", None, now).status == "upheld"
        db.session.rollback()
        assert get_work_order(db.session, hall_row, "B1", now).status == "pending"
        verify(db.session, hall_row, "B1", "upheld", "属实", None, now)
        db.session.commit()
        rectify(db.session, hall_row, "B1", "已整改", None, now, cause="c", action="a")
        db.session.rollback()
        assert get_work_order(db.session, hall_row, "B1", now).status == "upheld"
        audited = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert audited.count("workorder.verify") == 1 and "workorder.rectify" not in audited
