"""``push run`` against the platform double over real HTTP (SPEC 11): batches, records,
duplicates, rejections, 503, a hang past the timeout, a dropped connection, a changed
rating sent again, and what ``push status`` says of it all."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Hall, PushDelivery, Rating, utcnow
from kiosk.services import push, workorders
from tests.push.conftest import AREA_CODE, SCJG_ORG_CODE, TOKEN, rating_count
from tests.push.platform_double import PlatformState


def run_once(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["push", "run", "--once", *args])
    return result.exit_code, result.output  # stdout and stderr, interleaved


def status(app: Flask) -> dict:
    result = app.test_cli_runner().invoke(args=["push", "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["QJ"]


def delivered_ids(app: Flask) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                select(Rating.rating_id)
                .join(PushDelivery, PushDelivery.rating_pk == Rating.id)
                .where(PushDelivery.state == "delivered")
            )
        )


def test_every_rating_goes_oldest_first_in_batches_of_at_most_100(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    total = rating_count(push_app)
    assert total == 190
    assert status(push_app)["pending"] == total
    code, output = run_once(push_app)
    assert code == 0, output
    assert [len(r["ids"]) for r in state.requests] == [100, 90]
    assert {r["authorization"] for r in state.requests} == {f"Bearer {TOKEN}"}
    sent = [r for request in state.requests for r in request["records"]]
    times = [r["assessTime"] for r in sent]
    assert times == sorted(times) and len({r["id"] for r in sent}) == total
    assert set(state.store) == delivered_ids(push_app)
    after = status(push_app)
    assert (after["pending"], after["delivered"], after["rejected"]) == (0, total, [])
    assert after["last_success"] is not None and after["last_error"] is None
    # Nothing is pending: a second run sends nothing.
    assert run_once(push_app)[0] == 0
    assert len(state.requests) == 2


def test_the_national_record_of_each_channel(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    assert run_once(push_app)[0] == 0
    counter, qr, other, default = (
        state.store[i] for i in ("X-COUNTER", "X-QR", "X-OTHER", "X-DEFAULT")
    )
    assert counter == {
        "id": "X-COUNTER",
        "areaCode": AREA_CODE,
        "deptCode": SCJG_ORG_CODE,  # the unit's org_code
        "deptName": "市场监督管理局",
        "windowCode": "W02",  # the session's window
        "proManagerNo": "S001",
        "proManager": "张敏",
        "taskCode": "设立登记",  # the case's matter
        "projectNo": "QJ202600001",
        "channel": "4",
        "apprate": 5,
        "reasons": None,
        "comment": "办事很快",
        "assessTime": "2026-08-03T09:00:00+08:00",
        "isDefault": False,
    }
    assert (qr["channel"], qr["apprate"], qr["reasons"], qr["comment"]) == (
        "3",
        2,
        ["态度不好", "效率低"],
        None,
    )
    assert (qr["windowCode"], qr["taskCode"], qr["projectNo"]) == ("W01", None, None)
    # S004 sits at W03 of ZWB, a unit without org_code: its code stands in.
    assert (other["channel"], other["windowCode"], other["deptCode"], other["deptName"]) == (
        "5",
        "W03",
        "ZWB",
        "市政务服务中心",
    )
    assert (other["projectNo"], other["taskCode"]) == ("NO-SUCH-CASE", None)
    assert (default["channel"], default["isDefault"], default["apprate"]) == ("5", True, 3)


def test_duplicates_are_delivered(push_app: Flask, double: tuple[str, PlatformState]) -> None:
    _url, state = double
    assert run_once(push_app)[0] == 0
    # The database forgets (a restore from a backup, say): the platform answers duplicates.
    with push_app.app_context():
        db.session.execute(PushDelivery.__table__.delete())
        db.session.commit()
    assert status(push_app)["pending"] == 190
    assert run_once(push_app)[0] == 0
    last = state.requests[-1]
    assert last["action"] == "ok"
    assert status(push_app)["delivered"] == 190 and status(push_app)["pending"] == 0


def test_a_rejected_record_is_kept_with_its_reason_until_an_officer_resends_it(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.reject["X-QR"] = "deptCode 不在本省机构库中"
    assert run_once(push_app)[0] == 0
    after = status(push_app)
    assert after["rejected"] == [{"rating_id": "X-QR", "reason": "deptCode 不在本省机构库中"}]
    assert (after["pending"], after["delivered"]) == (0, 189)
    assert "X-QR" not in delivered_ids(push_app)
    # Not sent again by itself.
    requests = len(state.requests)
    assert run_once(push_app)[0] == 0
    assert len(state.requests) == requests
    # The officer fixes it (here: the platform stops objecting) and resends: audited.
    del state.reject["X-QR"]
    with push_app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        assert push.resend(db.session, hall, ["X-QR"], None, utcnow()) == 1
        db.session.commit()
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "push.resend")
        ).one()
        assert (
            entry.object_id == "X-QR" and entry.before["push_reason"] == "deptCode 不在本省机构库中"
        )
    assert status(push_app)["pending"] == 1
    assert run_once(push_app)[0] == 0
    assert state.requests[-1]["ids"] == ["X-QR"]
    assert status(push_app)["rejected"] == [] and "X-QR" in delivered_ids(push_app)


def test_a_resend_of_a_record_that_is_not_rejected_is_refused(push_app: Flask) -> None:
    assert run_once(push_app)[0] == 0
    with push_app.test_request_context():
        hall = db.session.scalars(select(Hall)).one()
        try:
            push.resend(db.session, hall, ["X-QR", "NOPE"], None, utcnow())
        except push.PushError as exc:
            assert exc.code == "not_found" and "X-QR" in exc.message
        else:
            raise AssertionError("resend of delivered records was not refused")
    assert status(push_app)["pending"] == 0


def test_a_503_is_retried_with_growing_pauses_and_loses_nothing(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["503", "503", "503"]
    code, output = run_once(push_app)
    assert code == 0, output
    assert [r["action"] for r in state.requests] == ["503", "503", "503", "ok", "ok"]
    assert output.count("HTTP 503") == 3
    assert (
        "again in 0.01 s" in output and "again in 0.02 s" in output and "again in 0.04 s" in output
    )
    after = status(push_app)
    assert (after["pending"], after["delivered"]) == (0, 190)
    assert "HTTP 503" in after["last_error"]["message"]


def test_the_pauses_grow_up_to_the_maximum(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["503"] * 6
    code, output = run_once(push_app, "--attempts", "10")
    assert code == 0
    pauses = [line.rsplit("again in ", 1)[1] for line in output.splitlines() if "again in" in line]
    assert pauses == ["0.01 s", "0.02 s", "0.04 s", "0.05 s", "0.05 s", "0.05 s"]


def test_once_gives_up_after_its_attempts_and_says_why(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["503"] * 10
    code, output = run_once(push_app, "--attempts", "2")
    assert code == 1 and "HTTP 503" in output
    assert status(push_app)["pending"] == 190 and state.store == {}


def test_a_hang_past_the_timeout_is_retried(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["hang"]
    code, output = run_once(push_app)
    assert code == 0, output
    assert "no answer within 0.5 s" in output
    assert [r["action"] for r in state.requests][:2] == ["hang", "ok"]
    assert status(push_app)["pending"] == 0 and set(state.store) == delivered_ids(push_app)


def test_a_dropped_connection_is_retried_and_the_records_come_back_as_duplicates(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["drop"]
    code, output = run_once(push_app)
    assert code == 0, output
    assert "connection failed" in output
    first = state.requests[0]["ids"]
    assert state.requests[1]["ids"] == first  # the same batch again
    assert delivered_ids(push_app) == set(state.store) and status(push_app)["pending"] == 0


def test_a_refused_connection_is_retried(push_app: Flask) -> None:
    push_app.config["PUSH_URL"] = "http://127.0.0.1:9/records"  # discard port: nothing listens
    code, output = run_once(push_app, "--attempts", "2")
    assert code == 1 and "connection failed" in output
    assert status(push_app)["pending"] == 190


def test_a_wrong_token_is_not_delivered(push_app: Flask, double: tuple[str, PlatformState]) -> None:
    push_app.config["PUSH_TOKEN"] = "wrong"
    code, output = run_once(push_app, "--attempts", "1")
    assert code == 1 and "HTTP 401" in output
    assert delivered_ids(push_app) == set()


def test_records_the_answer_leaves_out_stay_pending(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    state.script = ["partial"]
    code, output = run_once(push_app)
    assert code == 0, output
    assert "named 99 of the records sent in neither list" in output
    # Sent again on the next pass, under the same ids; the platform now has them all.
    assert status(push_app)["pending"] == 0 and delivered_ids(push_app) == set(state.store)


def test_a_verdict_after_delivery_sends_the_rating_again_under_its_id(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    assert run_once(push_app)[0] == 0
    with push_app.test_request_context():
        hall = db.session.scalars(select(Hall)).one()
        workorders.verify(db.session, hall, "X-QR", "unfounded", "恶意差评", None, utcnow())
        db.session.commit()
    assert status(push_app)["pending"] == 1
    assert run_once(push_app)[0] == 0
    assert state.requests[-1]["ids"] == ["X-QR"]
    assert status(push_app)["pending"] == 0


def test_a_rating_changed_by_a_reimport_is_sent_again(
    push_app: Flask, double: tuple[str, PlatformState], tmp_path
) -> None:
    _url, state = double
    assert run_once(push_app)[0] == 0
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "rating_id,rated_at,staff_no,level,channel,case_no,reasons,misuse,review,rectified_at\n"
        "X-OTHER,2026-08-03T09:20:00,S004,3,other,NO-SUCH-CASE,,,,\n"
    )
    result = push_app.test_cli_runner().invoke(args=["import", "ratings", str(changed)])
    assert result.exit_code == 0, result.output
    assert status(push_app)["pending"] == 1
    assert run_once(push_app)[0] == 0
    assert state.requests[-1]["ids"] == ["X-OTHER"] and state.store["X-OTHER"]["apprate"] == 3


def test_a_change_while_the_batch_is_out_is_sent_again(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    # The delivered version is the one that was sent, not the one current at the answer.
    with push_app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        batch = push.next_batch(db.session, hall, push.profile_named("national"))
        pk = batch[0].rating_pk
        push.mark_changed(db.session, [pk])
        answer = push.Answer(frozenset(item.rating_id for item in batch), frozenset())
        push.apply_answer(db.session, hall, batch, answer, utcnow())
        db.session.commit()
    assert status(push_app)["pending"] == 190 - 100 + 1


def test_a_hall_without_an_area_code_is_not_pushed(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    with push_app.app_context():
        db.session.scalars(select(Hall)).one().area_code = None
        db.session.commit()
    assert run_once(push_app)[0] == 0
    assert state.requests == []
    assert "area_code" in status(push_app)["last_error"]["message"]


def test_push_run_refuses_without_push_url_or_with_an_unknown_profile(push_app: Flask) -> None:
    push_app.config["PUSH_PROFILE"] = "atlantis"
    code, output = run_once(push_app)
    assert code == 1 and 'unknown push profile "atlantis"' in output
    push_app.config["PUSH_URL"] = None
    code, output = run_once(push_app)
    assert code == 1 and "PUSH_URL is not set" in output


def test_a_province_profile_named_by_module_path(
    push_app: Flask, double: tuple[str, PlatformState]
) -> None:
    _url, state = double
    push_app.config["PUSH_PROFILE"] = "tests.push.zhejiang_profile:record"
    assert run_once(push_app)[0] == 0
    qr = state.store["X-QR"]
    assert qr["satisfaction"] == "4" and qr["evalId"] == "X-QR"  # level 2 reversed: 4
    assert state.store["X-COUNTER"]["satisfaction"] == "1"
