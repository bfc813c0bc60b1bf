"""Today's hall, the duty roster, corrections, absences and events (with their audit rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.models import (
    Absence,
    AuditEntry,
    DutyAssignment,
    Event,
    Punch,
    PunchVoid,
    Rating,
    Staff,
)
from kiosk.services.hallday import hall_today
from kiosk.services.halls import resolve_hall
from tests.admin.conftest import csrf_token


def _utc(local: str) -> dt.datetime:
    """A Shanghai local time as naive UTC."""
    return dt.datetime.fromisoformat(local) - dt.timedelta(hours=8)


def test_hall_today_classifies_slots_and_lists_missing_and_away(
    app: Flask, example_hall: object
) -> None:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        # Tue 22 Sep 2026 at 15:00 local: S002 on leave in the morning (07:30–09:30).
        board = hall_today(db.session, hall, now=_utc("2026-09-22T15:00:00"))
        assert board.workday and board.schedule == "summer"
        people = {p.staff_no: p for p in board.people}
        assert "S008" not in people  # left in August
        s001 = {c.slot.value: c.status for c in people["S001"].cells}
        # The day runs until 21:30 (SPEC 5.1): a punch reads 已打卡, never late or on time yet.
        assert s001["AM_IN"] == "punched" and s001["PM_IN"] == "punched"
        assert s001["PM_OUT"] == "pending"  # its range is still open at 15:00
        assert not board.closed
        assert {c.slot.value: c.status for c in people["S002"].cells}["AM_IN"] == "excused"
        assert any(a.staff_no == "S002" and a.kind == "leave" for a in board.away)
        assert all(c.status != "missing" for c in people["S001"].cells)
        assert people["S001"].absent_half_days == 0


@pytest.mark.parametrize(
    ("now", "statuses", "absent", "closed"),
    [
        # Sat 10 Oct 2026 (a make-up workday, winter: P1 17:30, closes 21:30): S005 has no
        # punches at all. While the day runs nothing is a defect: 未打卡 / 待打卡.
        ("2026-10-10T13:30:00", ["unpunched", "unpunched", "pending", "pending"], 0, False),
        ("2026-10-10T21:29:59", ["unpunched"] * 3 + ["pending"], 0, False),
        ("2026-10-10T21:30:00", ["missing"] * 4, 2, True),
        ("2026-10-10T22:00:00", ["missing"] * 4, 2, True),
    ],
)
def test_hall_today_tells_an_absence_only_once_the_day_closed(
    app: Flask, example_hall: object, now: str, statuses: list[str], absent: int, closed: bool
) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        board = hall_today(db.session, hall, now=_utc(now))
        s005 = next(p for p in board.people if p.staff_no == "S005")
        assert [c.status for c in s005.cells] == statuses
        assert s005.absent_half_days == absent
        assert s005 in board.missing
        assert board.closed is closed


def test_open_work_orders_are_bad_reviews_not_closed(app: Flask, example_hall: object) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        board = hall_today(db.session, hall, now=_utc("2026-11-05T12:00:00"))
        ids = {o.rating_id for o in board.work_orders}
        open_rows = db.session.scalars(
            db.select(Rating).where(
                Rating.level <= 2,
                Rating.rectified_at.is_(None),
                (Rating.review.is_(None)) | (Rating.review == "upheld"),
            )
        ).all()
        assert ids == {r.rating_id for r in open_rows}
        assert ids, "the example has open bad reviews"
        s007 = [o for o in board.work_orders if o.staff_no == "S007" and o.review == "upheld"]
        assert s007 and s007[0].deadline == dt.datetime(2026, 11, 5) and s007[0].overdue


def test_today_page_renders_for_duty_and_is_refused_to_unit(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("duty")
    page = client.get("/admin/today")
    assert page.status_code == 200
    assert "今日大厅" in page.get_data(as_text=True)


def test_unit_viewer_cannot_open_duty_pages(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="SCJG")
    for path in ("/admin/today", "/admin/corrections"):
        assert client.get(path).status_code == 403, path
    # The lists are theirs to read, their own unit only (issue 13); changing them is not.
    for path in ("/admin/absences", "/admin/events"):
        assert client.get(path).status_code == 200, path
        assert client.post(path, data={"action": "add"}).status_code in (400, 403), path


def test_correction_adds_a_punch_with_reason_and_audit(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    path = "/admin/corrections?staff_no=S001&day=2026-09-02"
    token = csrf_token(client, path)
    missing_reason = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "add",
            "add-staff_no": "S001",
            "add-punched_at": "2026-09-02T08:01",
            "add-reason": "",
        },
    )
    assert missing_reason.status_code == 200
    assert "原因" in missing_reason.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "punch.add")) is None
        )
        assert db.session.scalar(db.select(Punch).where(Punch.source == "correction")) is None
    done = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "add",
            "add-staff_no": "S001",
            "add-punched_at": "2026-09-02T08:01",
            "add-reason": "指纹机故障，带班人员核实",
        },
        follow_redirects=True,
    )
    assert "已补录打卡" in done.get_data(as_text=True)
    with app.app_context():
        punch = db.session.scalar(db.select(Punch).where(Punch.source == "correction"))
        assert punch is not None and punch.punched_at == dt.datetime(2026, 9, 2, 0, 1)
        assert punch.reason == "指纹机故障，带班人员核实"
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "punch.add"))
        assert entry is not None and entry.reason == punch.reason and entry.user_id is not None
        assert entry.after["staff_no"] == "S001"
    again = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "add",
            "add-staff_no": "S001",
            "add-punched_at": "2026-09-02T08:01",
            "add-reason": "重复",
        },
    )
    assert "已有一条打卡记录" in again.get_data(as_text=True)


def test_void_needs_a_reason_and_is_audited(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    with app.app_context():
        s001 = db.session.scalar(db.select(Staff).where(Staff.staff_no == "S001"))
        punch = db.session.scalars(
            db.select(Punch).where(Punch.staff_id == s001.id).order_by(Punch.punched_at)
        ).first()
        punch_id = punch.id
    path = "/admin/corrections?staff_no=S001&day=2026-09-01"
    token = csrf_token(client, path)
    refused = client.post(
        path,
        data={"csrf_token": token, "action": "void", "void-punch_id": punch_id, "void-reason": ""},
    )
    assert "作废原因" in refused.get_data(as_text=True)
    fields = {
        "csrf_token": token,
        "action": "void",
        "void-punch_id": punch_id,
        "void-reason": "替人代打卡",
    }
    # The first valid POST only asks (a server-side confirmation step); nothing changes.
    asked = client.post(path, data=fields).get_data(as_text=True)
    assert "确认作废打卡记录" in asked and 'name="confirmed" value="1"' in asked
    assert "替人代打卡" in asked
    with app.app_context():
        assert db.session.scalars(db.select(PunchVoid)).all() == []
        assert (
            db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "punch.void"))
            is None
        )
    client.post(path, data={**fields, "confirmed": "1"})
    twice = client.post(
        path,
        data={
            "csrf_token": token,
            "action": "void",
            "void-punch_id": punch_id,
            "void-reason": "again",
            "confirmed": "1",
        },
    )
    assert "已作废" in twice.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Punch, punch_id) is not None  # the raw punch stays
        voids = db.session.scalars(db.select(PunchVoid)).all()
        assert [v.reason for v in voids] == ["替人代打卡"]
        entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "punch.void"))
        assert entry is not None and entry.before["voided"] is False and entry.after["voided"]


def test_absence_and_event_forms_check_input(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    token = csrf_token(client, "/admin/absences")
    bad = client.post(
        "/admin/absences",
        data={
            "csrf_token": token,
            "action": "add",
            "abs-staff_no": "S001",
            "abs-kind": "out",
            "abs-start": "2026-11-02T10:00",
            "abs-end": "2026-11-02T09:00",
        },
    )
    assert "结束时间必须晚于开始时间" in bad.get_data(as_text=True)
    client.post(
        "/admin/absences",
        data={
            "csrf_token": token,
            "action": "add",
            "abs-staff_no": "S001",
            "abs-kind": "out",
            "abs-start": "2026-11-02T09:00",
            "abs-end": "2026-11-02T11:00",
            "abs-note": "窗口安排上门服务",
        },
    )
    token = csrf_token(client, "/admin/events")
    wrong_sign = client.post(
        "/admin/events",
        data={
            "csrf_token": token,
            "ev-staff_no": "S002",
            "ev-kind": "complaint",
            "ev-at": "2026-11-02T10:00",
            "ev-points": "3",
        },
    )
    assert "不能为正数" in wrong_sign.get_data(as_text=True)
    future = client.post(
        "/admin/events",
        data={
            "csrf_token": token,
            "ev-staff_no": "S002",
            "ev-kind": "complaint",
            "ev-at": "2099-01-01T10:00",
            "ev-points": "-1",
        },
    )
    assert "不能晚于当前时间" in future.get_data(as_text=True)
    veto = {
        "csrf_token": token,
        "ev-staff_no": "S002",
        "ev-kind": "complaint",
        "ev-at": "2026-11-02T10:00",
        "ev-points": "-2",
        "ev-veto": "y",
        "ev-category": "态度生硬",
    }
    asked = client.post("/admin/events", data=veto).get_data(as_text=True)
    assert "确认记录一票否决" in asked
    with app.app_context():
        assert db.session.scalar(db.select(Event).where(Event.category == "态度生硬")) is None
    client.post("/admin/events", data={**veto, "confirmed": "1"})
    with app.app_context():
        absences = db.session.scalars(
            db.select(Absence).where(Absence.note == "窗口安排上门服务")
        ).all()
        assert len(absences) == 1 and absences[0].start == dt.datetime(2026, 11, 2, 1, 0)
        event = db.session.scalar(db.select(Event).where(Event.category == "态度生硬"))
        assert event is not None and event.veto and event.points == -2
        actions = set(db.session.scalars(db.select(AuditEntry.action)))
        assert {"absence.out.add", "event.complaint.add"} <= actions


def test_roster_is_edited_by_admin_only(
    app: Flask, client: FlaskClient, login_as: Callable[..., FlaskClient], make_user
) -> None:
    officer_id = make_user("officer", "duty")
    duty_client = login_as("duty")
    token = csrf_token(duty_client, "/admin/roster")
    refused = duty_client.post(
        "/admin/roster", data={"csrf_token": token, "day": "2026-11-02", "user_id": officer_id}
    )
    assert refused.status_code == 403
    with duty_client.session_transaction() as session:
        session.clear()
    make_user("boss", "admin")
    from tests.admin.conftest import sign_in

    assert sign_in(client, "boss") == 302
    token = csrf_token(client, "/admin/roster")
    response = client.post(
        "/admin/roster", data={"csrf_token": token, "day": "2026-11-02", "user_id": officer_id}
    )
    assert response.status_code == 302
    page = client.get("/admin/roster?start=2026-11-02").get_data(as_text=True)
    assert "officer" in page
    with app.app_context():
        rows = db.session.scalars(db.select(DutyAssignment)).all()
        assert [(r.day, r.user_id) for r in rows] == [(dt.date(2026, 11, 2), officer_id)]
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "duty.set"))
