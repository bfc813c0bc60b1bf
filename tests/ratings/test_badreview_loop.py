"""The 好差评 loop of a bad review (SPEC 11): callbacks, rectification with cause and action,
reopening, the unit's appeal and a leader's decision, the report, and default ratings."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, update

from kiosk.extensions import db
from kiosk.models import (
    AuditEntry,
    Hall,
    Rating,
    RatingCallback,
    ServiceSession,
    Staff,
    User,
    utcnow,
)
from kiosk.services.accounts import create_user
from kiosk.services.appeals import decide_appeal, file_appeal
from kiosk.services.badreviews import apply_default_ratings, loop_report
from kiosk.services.halls import resolve_hall
from kiosk.services.scoring import score_hall_period
from kiosk.services.workorders import (
    WorkOrderError,
    get_work_order,
    record_callback,
    rectify,
    verify,
)
from tests.ratings.conftest import Api
from tests.ratings.test_workorders import PASSWORD, RATED_LOCAL, RATED_UTC, add_rating

# RATED_LOCAL is Thursday 2026-11-26 10:00: the callback is due by Friday 24:00, the
# appeal window closes Thursday 2026-12-03 24:00 (5 workdays), as the rectification does.
CALLBACK_DUE_UTC = dt.datetime(2026, 11, 28) - dt.timedelta(hours=8)
APPEAL_END_UTC = dt.datetime(2026, 12, 4) - dt.timedelta(hours=8)
LATER = RATED_UTC + dt.timedelta(hours=2)


def user(app: Flask, username: str, role: str, unit: str | None = None) -> int:
    with app.test_request_context():
        row = create_user(
            db.session,
            username=username,
            password=PASSWORD,
            role=role,
            hall=resolve_hall(db.session, None),
            display_name=f"{username} 同志",
            unit_code=unit,
        )
        db.session.commit()
        return row.id


def the_user(user_id: int) -> User:
    row = db.session.get(User, user_id)
    assert row is not None
    return row


def actions() -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.like("workorder.%"))
            .order_by(AuditEntry.id)
        )
    )


def call(hall: Hall, rating_id: str, now: dt.datetime = LATER, **kw: object) -> object:
    values: dict[str, object] = {
        "outcome": "reached",
        "note": "群众反映排队时间长",
        "called_at": None,
        "satisfied": None,
        "user_id": None,
        "now": now,
    }
    values.update(kw)
    return record_callback(db.session, hall, rating_id, **values)  # type: ignore[arg-type]


def test_callbacks_are_recorded_and_judged_against_the_first_workday(
    app: Flask, hall: None
) -> None:
    add_rating(app, "B1", 1)
    add_rating(app, "B2", 2)
    officer = user(app, "duty1", "duty")
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        order = get_work_order(db.session, h, "B1", LATER)
        assert order.callback_due_day == dt.date(2026, 11, 27)
        assert not order.callback_overdue
        assert get_work_order(
            db.session, h, "B1", CALLBACK_DUE_UTC + dt.timedelta(0, 1)
        ).callback_overdue
        order = call(h, "B1", outcome="unreached", note="", user_id=officer)
        # An unreached call is a callback made: the term is met, the next call may follow.
        order = call(h, "B1", called_at=RATED_LOCAL + dt.timedelta(hours=1), user_id=officer)
        assert [c.outcome for c in order.callbacks] == ["reached", "unreached"]
        assert order.first_callback_at == RATED_LOCAL + dt.timedelta(hours=1)
        assert order.callbacks[0].called_by == "duty1 同志"
        assert not order.callback_late and not order.callback_overdue
        late = call(h, "B2", now=CALLBACK_DUE_UTC + dt.timedelta(hours=1))
        assert late.callback_late
        db.session.commit()
        assert actions() == ["workorder.callback"] * 3


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"outcome": "maybe"}, "回访结果"),
        ({"outcome": "impossible", "note": "  "}, "原因"),
        ({"outcome": "reached", "note": ""}, "回访情况"),
        ({"outcome": "reached", "note": "长" * 1001}, "1000"),
        ({"outcome": "unreached", "note": "", "satisfied": False}, "联系上"),
        ({"called_at": RATED_LOCAL - dt.timedelta(minutes=1)}, "早于评价"),
        ({"called_at": RATED_LOCAL + dt.timedelta(days=3)}, "晚于现在"),
        ({"called_at": dt.datetime(1999, 12, 31, 23)}, "2000"),
    ],
)
def test_bad_callbacks_change_nothing(
    app: Flask, hall: None, values: dict[str, object], words: str
) -> None:
    add_rating(app, "B1", 1)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        with pytest.raises(WorkOrderError, match=words):
            call(h, "B1", **values)
        db.session.rollback()
        assert db.session.scalars(select(RatingCallback)).all() == []
        assert actions() == []


def test_impossible_callback_with_its_reason(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        order = call(h, "B1", outcome="impossible", note="扫码评价，群众未留联系方式")
        assert order.callbacks[0].note == "扫码评价，群众未留联系方式"
        assert order.first_callback_at is not None


@pytest.mark.parametrize(
    ("cause", "action", "words"),
    [(None, "措施", "原因分析"), ("原因", " ", "整改措施"), ("原因", "长" * 1001, "1000")],
)
def test_rectification_needs_a_cause_and_an_action(
    app: Flask, hall: None, cause: str | None, action: str, words: str
) -> None:
    add_rating(app, "B1", 1)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        verify(db.session, h, "B1", "upheld", "属实", None, LATER)
        with pytest.raises(WorkOrderError, match=words):
            rectify(db.session, h, "B1", "备注", None, LATER, cause=cause, action=action)
        assert get_work_order(db.session, h, "B1", LATER).status == "upheld"


def test_an_unhappy_follow_up_reopens_the_rectification(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    officer = user(app, "duty1", "duty")
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        verify(db.session, h, "B1", "upheld", "属实", officer, LATER)
        rectify(db.session, h, "B1", None, officer, LATER, cause="业务不熟", action="跟班学习")
        # A satisfied follow-up leaves it closed.
        order = call(h, "B1", satisfied=True, note="群众表示满意", user_id=officer)
        assert order.status == "rectified"
        order = call(h, "B1", satisfied=False, note="群众仍不满意，要求当面道歉", user_id=officer)
        assert (order.status, order.rectified_at, order.reopened_count) == ("upheld", None, 1)
        assert order.rectification_cause is None
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "workorder.reopen")
        ).one()
        assert entry.before["rectification_cause"] == "业务不熟"
        assert entry.reason == "群众仍不满意，要求当面道歉"
        # Rectified again, after the deadline: late, and the veto of SPEC 5.4 applies.
        late = APPEAL_END_UTC + dt.timedelta(hours=1)
        order = rectify(db.session, h, "B1", None, officer, late, cause="态度", action="当面道歉")
        assert order.status == "rectified" and order.late and order.reopened_count == 1
        # An unhappy answer on an open order does not reopen anything twice.
        order = call(h, "B1", satisfied=False, now=late, note="仍有意见")
        assert order.status == "rectified" or order.reopened_count == 2
        db.session.commit()
        assert actions().count("workorder.reopen") == 2


def _upheld(app: Flask, rating_id: str, verifier: int) -> None:
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        verify(db.session, h, rating_id, "upheld", "属实", verifier, LATER)
        db.session.commit()


def test_the_window_unit_appeals_and_another_leader_approves(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    officer = user(app, "admin1", "admin")
    unit = user(app, "scjg", "unit", "SCJG")
    leader = user(app, "lead1", "leader")
    _upheld(app, "B1", officer)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        before = score_hall_period(db.session, "2026-B6", dt.datetime(2026, 12, 31, 12), "QJ")
        order = file_appeal(db.session, h, "B1", " 群众误解办事流程 ", the_user(unit), LATER)
        assert order.appeal is not None and order.appeal.status == "pending"
        assert order.appeal.statement == "群众误解办事流程"
        # The officer who verified it may not decide, even as an admin.
        with pytest.raises(WorkOrderError, match="核实") as refused:
            decide_appeal(db.session, h, "B1", "approved", "同意", the_user(officer), LATER)
        assert refused.value.code == "forbidden"
        order = decide_appeal(
            db.session, h, "B1", "approved", "经调取录像，属群众误解", the_user(leader), LATER
        )
        assert (order.review, order.status, order.appeal.status) == (  # type: ignore[union-attr]
            "unfounded",
            "unfounded",
            "approved",
        )
        db.session.commit()
        assert actions() == ["workorder.verify", "workorder.appeal", "workorder.appeal_decision"]
        decision = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "workorder.appeal_decision")
        ).one()
        assert (decision.before, decision.after["review"]) == ({"review": "upheld"}, "unfounded")
        # Unfounded now: out of scoring, and no veto for the missing rectification.
        after = score_hall_period(db.session, "2026-B6", dt.datetime(2026, 12, 31, 12), "QJ")
        s001_before = next(p for p in before.individuals if p.staff_no == "S001")
        s001_after = next(p for p in after.individuals if p.staff_no == "S001")
        assert "unrectified_bad_review" in s001_before.vetoes
        assert "unrectified_bad_review" not in s001_after.vetoes
        with pytest.raises(WorkOrderError, match="已经审核"):
            decide_appeal(db.session, h, "B1", "refused", "再议", the_user(leader), LATER)


def test_a_refused_appeal_leaves_the_review(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    officer = user(app, "duty1", "duty")
    admin = user(app, "admin1", "admin")
    leader = user(app, "lead1", "leader")
    _upheld(app, "B1", officer)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        # An admin files on the unit's behalf (the audit log says so).
        file_appeal(db.session, h, "B1", "代单位申诉", the_user(admin), LATER)
        order = decide_appeal(db.session, h, "B1", "refused", "理由不充分", the_user(leader), LATER)
        assert (order.review, order.appeal.status) == ("upheld", "refused")  # type: ignore[union-attr]
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "workorder.appeal")
        ).one()
        assert entry.after["on_behalf"] is True


@pytest.mark.parametrize(
    ("who", "when", "words", "code"),
    [
        ("zwb", LATER, "本单位", "forbidden"),
        ("duty", LATER, "所属单位", "forbidden"),
        ("scjg", APPEAL_END_UTC + dt.timedelta(seconds=1), "期限已过", "invalid"),
        ("scjg-pending", LATER, "核实属实", "invalid"),
    ],
)
def test_appeals_refused(
    app: Flask, hall: None, who: str, when: dt.datetime, words: str, code: str
) -> None:
    add_rating(app, "B1", 1)
    officer = user(app, "duty1", "duty")
    ids = {
        "zwb": user(app, "zwb", "unit", "ZWB"),
        "scjg": user(app, "scjg", "unit", "SCJG"),
        "duty": officer,
    }
    if who != "scjg-pending":
        _upheld(app, "B1", officer)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        filer = the_user(ids[who.removesuffix("-pending")])
        with pytest.raises(WorkOrderError, match=words) as refused:
            file_appeal(db.session, h, "B1", "申诉理由", filer, when)
        assert refused.value.code == code
        assert get_work_order(db.session, h, "B1", when).appeal is None


def test_at_the_end_of_the_window_an_appeal_is_still_in_time(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)
    officer = user(app, "duty1", "duty")
    unit = user(app, "scjg", "unit", "SCJG")
    _upheld(app, "B1", officer)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        order = file_appeal(db.session, h, "B1", "理由", the_user(unit), APPEAL_END_UTC)
        assert order.appeal is not None
        with pytest.raises(WorkOrderError, match="已经申诉"):
            file_appeal(db.session, h, "B1", "再次", the_user(unit), APPEAL_END_UTC)


def test_the_report_per_unit(app: Flask, hall: None) -> None:
    add_rating(app, "B1", 1)  # S001 at W01 (SCJG)
    add_rating(app, "B2", 2)
    add_rating(app, "B3", 1, misuse=True)  # misuse: not in the report
    add_rating(app, "G1", 5)
    officer = user(app, "duty1", "duty")
    unit = user(app, "scjg", "unit", "SCJG")
    leader = user(app, "lead1", "leader")
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        call(h, "B1", user_id=officer)
        verify(db.session, h, "B1", "upheld", "属实", officer, LATER)
        verify(db.session, h, "B2", "upheld", "属实", officer, LATER)
        rectify(db.session, h, "B1", None, officer, LATER, cause="c", action="a")
        file_appeal(db.session, h, "B2", "理由", the_user(unit), LATER)
        decide_appeal(db.session, h, "B2", "approved", "成立", the_user(leader), LATER)
        db.session.commit()
        report = loop_report(db.session, h, "2026-B6", LATER)
        assert [(name, f.unit) for name, f in report.units] == [("市场监督管理局", "SCJG")]
        f = report.units[0][1]
        assert (f.bad_reviews, f.called_back, f.called_back_on_time) == (2, 1, 1)
        assert (f.upheld, f.rectified, f.rectified_on_time) == (1, 1, 1)
        assert (f.appeals, f.approved, f.refused, float(f.approval_share or 0)) == (1, 1, 0, 1.0)
        assert report.hall.bad_reviews == 2
        assert loop_report(db.session, h, "2026-B5", LATER).hall.bad_reviews == 0
        with pytest.raises(WorkOrderError):
            loop_report(db.session, h, "2026-B9", LATER)


# --- default ratings (SPEC 4.2) -------------------------------------------------------


def _session(app: Flask, public_id: str, opened_at: dt.datetime, case_no: str | None) -> None:
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        staff = db.session.scalar(select(Staff).where(Staff.staff_no == "S001"))
        window = h.windows[0]
        assert staff is not None
        db.session.add(
            ServiceSession(
                public_id=public_id,
                hall_id=h.id,
                window_id=window.id,
                staff_id=staff.id,
                case_no=case_no,
                token_hash=public_id.ljust(64, "0"),
                opened_at=opened_at,
                expires_at=opened_at + dt.timedelta(hours=72),
            )
        )
        db.session.commit()


def _days(app: Flask, days: int) -> None:
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        h.settings = {**h.settings, "default_after_days": days}
        db.session.commit()


def test_default_ratings_are_applied_once_and_never_count(
    app: Flask, hall: None, runner: FlaskCliRunner
) -> None:
    opened = dt.datetime(2026, 11, 2, 2, 0)  # Monday 10:00 local
    _session(app, "S-OLD", opened, "C-1")
    _session(app, "S-NOCASE", opened, None)
    _session(app, "S-YOUNG", opened + dt.timedelta(days=3), "C-2")
    _session(app, "S-RATED", opened, "C-3")
    with app.test_request_context():
        rated = db.session.scalar(
            select(ServiceSession).where(ServiceSession.public_id == "S-RATED")
        )
        assert rated is not None
        add_rating(app, "R-REAL", 1, session_id=rated.id)
    as_of = opened + dt.timedelta(days=7, hours=1)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        assert apply_default_ratings(db.session, h, as_of) == 0  # off by default
    _days(app, 7)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        assert apply_default_ratings(db.session, h, as_of) == 1
        db.session.commit()
        assert apply_default_ratings(db.session, h, as_of) == 0  # idempotent
        row = db.session.scalars(select(Rating).where(Rating.channel == "default")).one()
        assert (row.rating_id, row.level, row.case_no, row.misuse) == (
            "QJ-D-S-OLD",
            3,
            "C-1",
            False,
        )
        assert row.rated_at == opened + dt.timedelta(days=7)
        result = score_hall_period(db.session, "2026-B6", dt.datetime(2026, 12, 31, 12), "QJ")
        s001 = next(p for p in result.individuals if p.staff_no == "S001")
        assert s001.ratings.valid == 1  # the real bad review only; the default never counts
    # The command applies the rest later, and says what it did.
    result = runner.invoke(
        args=["ratings", "defaults", "--as-of", "2026-11-30T12:00:00+08:00", "--hall", "QJ"]
    )
    assert result.exit_code == 0, result.output
    assert "QJ: 1 default rating(s) added" in result.output
    again = runner.invoke(args=["ratings", "defaults", "--as-of", "2026-11-30T12:00:00+08:00"])
    assert again.exit_code == 0 and "QJ: 0 default rating(s)" in again.output
    bad = runner.invoke(args=["ratings", "defaults", "--as-of", "soon"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    with app.test_request_context():
        assert db.session.scalars(
            select(Rating.rating_id).where(Rating.channel == "default").order_by(Rating.rating_id)
        ).all() == ["QJ-D-S-OLD", "QJ-D-S-YOUNG"]
        assert (
            db.session.scalars(
                select(AuditEntry.action).where(AuditEntry.action == "ratings.defaults")
            ).all()
            == ["ratings.defaults"] * 2
        )


def test_a_default_rating_makes_no_counter_rating_misuse(app: Flask, api: Api) -> None:
    """The misuse rule looks at the terminal's previous rating; a default one is none."""
    first = api.session("S001", "C-OLD")
    _days(app, 1)
    with app.test_request_context():
        # The first session opened a day and 3 seconds ago: its default rating is 3 s old.
        db.session.execute(
            update(ServiceSession)
            .where(ServiceSession.public_id == first["session_id"])
            .values(opened_at=utcnow() - dt.timedelta(days=1, seconds=3))
        )
        h = resolve_hall(db.session, None)
        assert apply_default_ratings(db.session, h, utcnow()) == 1
        db.session.commit()
    second = api.session("S001", "C-NEW")
    answer = api.rate({"token": second["token"], "level": 5}, key=api.key)
    assert answer.status_code == 201, answer.get_json()
    with app.test_request_context():
        real = db.session.scalars(select(Rating).where(Rating.channel == "counter")).one()
        assert real.misuse is False


def test_demo_serve_applies_the_default_ratings_at_start(app: Flask, hall: None) -> None:
    from kiosk.demo.serve import default_ratings_at_start

    _session(app, "S-OLD", utcnow() - dt.timedelta(days=8), "C-1")
    with app.app_context():
        assert default_ratings_at_start() == []  # off: nothing said, nothing added
        assert db.session.scalars(select(Rating)).all() == []
    _days(app, 7)
    with app.app_context():
        assert default_ratings_at_start() == ["QJ: 1 default rating(s) added"]
        assert default_ratings_at_start() == ["QJ: 0 default rating(s) added"]
        assert db.session.scalars(select(Rating.channel)).all() == ["default"]
