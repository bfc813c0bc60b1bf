"""The bimonthly round: review, publish frozen, revisions, notice PDF and Excel."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from kiosk.extensions import db
from kiosk.models import AuditEntry, PublishedPeriod, User
from kiosk.rules.ruleset import default_rules
from kiosk.services import publishing
from kiosk.services.accounts import create_user
from kiosk.services.halls import resolve_hall
from kiosk.services.publishing import PublishError
from kiosk.services.records import add_correction_punch
from tests.admin.conftest import csrf_token

AS_OF = "2026-11-05T12:00:00+08:00"
EXPECTED = json.loads(
    (
        __import__("pathlib").Path(__file__).parents[1] / "data" / "small" / "expected.json"
    ).read_text(encoding="utf-8")
)


def _publisher_id() -> int:
    """Any existing user, else a new admin: publications name who published them."""
    user = db.session.scalar(db.select(User).order_by(User.id).limit(1))
    if user is None:
        user = create_user(
            db.session, username="publisher", password="long-enough-1", role="admin", hall=None
        )
        db.session.commit()
    return user.id


def _publish(app: Flask, reason: str | None = None) -> PublishedPeriod:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        user_id = _publisher_id()
        as_of = dt.datetime.fromisoformat(AS_OF)
        computation = publishing.compute(
            db.session, hall, publishing.parse_period("2026-B5"), as_of, default_rules()
        )
        row = publishing.publish(
            db.session,
            hall,
            period_code="2026-B5",
            as_of=as_of,
            reviewed_inputs_sha256=computation.inputs_sha256,
            reason=reason,
            user_id=user_id,
            rules=default_rules(),
        )
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
        return row


def test_review_page_shows_ranking_and_explanations(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("leader")
    page = client.get(f"/admin/periods/review?period=2026-B5&as_of={AS_OF[:16]}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for person in EXPECTED["individuals"]:
        assert f'data-staff="{person["staff_no"]}"' in text
    assert "得分说明" in text and "publish-form" in text


def test_review_refuses_a_bad_period(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    page = client.get("/admin/periods/review?period=2026-B9", follow_redirects=True)
    assert "不是有效的考评期" in page.get_data(as_text=True)


def test_publish_freezes_the_spec_result(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    review = client.get(f"/admin/periods/review?period=2026-B5&as_of={AS_OF[:16]}")
    text = review.get_data(as_text=True)
    fields = dict(
        re.findall(r'name="(period|as_of|inputs_sha256|csrf_token)"[^>]*value="([^"]*)"', text)
    )
    assert set(fields) == {"period", "as_of", "inputs_sha256", "csrf_token"}
    # The server asks first (no JavaScript needed); only the confirmed POST publishes.
    asked = client.post("/admin/periods/publish", data=fields)
    assert asked.status_code == 200 and "确认发布通报" in asked.get_data(as_text=True)
    with app.test_request_context():
        assert db.session.scalar(db.select(db.func.count(PublishedPeriod.id))) == 0
        assert (
            db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "period.publish"))
            is None
        )
    response = client.post("/admin/periods/publish", data={**fields, "confirmed": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.test_request_context():
        row = db.session.scalar(db.select(PublishedPeriod))
        assert row is not None and row.revision == 1
        result = publishing.frozen(row)
        assert row.rules_sha256 == default_rules().sha256 == result["rules"]["sha256"]
        got = {p["staff_no"]: p for p in result["individuals"]}
        for person in EXPECTED["individuals"]:
            mine = got[person["staff_no"]]
            assert mine["rank"] == person["rank"] and mine["award"] == person["award"]
            assert abs(mine["total"] - person["total"]) <= 0.01
        assert db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "period.publish"))
    # Publishing again without a change is refused; nothing is added.
    again = client.post(
        "/admin/periods/publish", data={**fields, "confirmed": "1"}, follow_redirects=True
    )
    assert "必须填写原因" in again.get_data(as_text=True)
    with app.test_request_context():
        assert db.session.scalar(db.select(db.func.count(PublishedPeriod.id))) == 1
    page = client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert "第 1 版" in page and "得分说明" in page


def test_a_correction_after_publication_needs_a_new_revision_with_reason(
    app: Flask, example_hall: object
) -> None:
    first = _publish(app)
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        # S005 had no punches on Sat 10 Oct: an officer adds the morning one afterwards.
        add_correction_punch(
            db.session,
            hall,
            staff_no="S005",
            local_time=dt.datetime(2026, 10, 10, 8, 20),
            reason="指纹机故障，监控核实到岗",
            user_id=None,  # type: ignore[arg-type]
        )
        db.session.commit()
        as_of = dt.datetime.fromisoformat(AS_OF)
        fresh = publishing.compute(
            db.session, hall, publishing.parse_period("2026-B5"), as_of, default_rules()
        )
        assert fresh.inputs_sha256 != first.inputs_sha256
        # The published result is still what it was: nothing recomputes it silently.
        stored = publishing.latest(db.session, hall, "2026-B5")
        assert stored is not None and stored.sha256 == first.sha256
        with pytest.raises(PublishError, match="必须填写原因"):
            publishing.publish(
                db.session,
                hall,
                period_code="2026-B5",
                as_of=as_of,
                reviewed_inputs_sha256=fresh.inputs_sha256,
                reason="",
                user_id=_publisher_id(),
                rules=default_rules(),
            )
        with pytest.raises(PublishError, match="数据已发生变化"):
            publishing.publish(
                db.session,
                hall,
                period_code="2026-B5",
                as_of=as_of,
                reviewed_inputs_sha256=first.inputs_sha256,
                reason="更正",
                user_id=_publisher_id(),
                rules=default_rules(),
            )
        db.session.rollback()
    second = _publish(app, reason="补录 S005 10 月 10 日上午上班打卡")
    assert second.revision == 2 and second.sha256 != first.sha256
    with app.test_request_context():
        revise = db.session.scalar(
            db.select(AuditEntry).where(AuditEntry.action == "period.revise")
        )
        assert revise is not None and revise.reason == "补录 S005 10 月 10 日上午上班打卡"
        assert revise.before["sha256"] == first.sha256


def test_publish_refuses_an_unfinished_period(app: Flask, example_hall: object) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        with pytest.raises(PublishError, match="尚未结束"):
            publishing.publish(
                db.session,
                hall,
                period_code="2026-B5",
                as_of=dt.datetime(2026, 10, 20, 12, 0),
                reviewed_inputs_sha256="x",
                reason=None,
                user_id=_publisher_id(),
                rules=default_rules(),
            )


def test_duty_officer_cannot_publish(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    assert client.get(f"/admin/periods/review?period=2026-B5&as_of={AS_OF[:16]}").status_code == 403
    token = csrf_token(client, "/admin/periods")
    response = client.post(
        "/admin/periods/publish",
        data={"csrf_token": token, "period": "2026-B5", "as_of": AS_OF, "inputs_sha256": "x"},
    )
    assert response.status_code == 403
    with app.test_request_context():
        assert db.session.scalar(db.select(db.func.count(PublishedPeriod.id))) == 0


def test_notice_pdf_per_unit_and_excel(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    _publish(app)
    pdf = client.get("/admin/periods/2026-B5/notice-SCJG.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    # .ci/setup installs fonts-wqy-zenhei, so the Chinese font is embedded (a subset).
    assert pdf.data.startswith(b"%PDF") and b"WenQuanYiZenHei" in pdf.data
    everything = client.get("/admin/periods/2026-B5/notice.pdf")
    assert everything.status_code == 200 and len(everything.data) > len(pdf.data) // 2
    assert client.get("/admin/periods/2026-B5/notice-NOPE.pdf").status_code == 404
    xlsx = client.get("/admin/periods/2026-B5/result.xlsx")
    book = load_workbook(io.BytesIO(xlsx.data))
    people = [row[1] for row in book["个人"].iter_rows(min_row=2, values_only=True)]
    assert sorted(people) == sorted(p["staff_no"] for p in EXPECTED["individuals"])


def test_unit_viewer_gets_only_own_unit(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="ZWB")
    _publish(app)
    page = client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert 'data-staff="S004"' in page
    for other in ("S001", "S002", "S003", "S005", "S006", "S007"):
        assert f'data-staff="{other}"' not in page
    assert client.get("/admin/periods/2026-B5/notice-ZWB.pdf").status_code == 200
    assert client.get("/admin/periods/2026-B5/notice-SCJG.pdf").status_code == 403
    assert client.get("/admin/periods/2026-B5/notice.pdf").status_code == 403
    xlsx = client.get("/admin/periods/2026-B5/result.xlsx")
    book = load_workbook(io.BytesIO(xlsx.data))
    people = [row[1] for row in book["个人"].iter_rows(min_row=2, values_only=True)]
    assert people == ["S004"]
    assert client.get("/admin/periods/review?period=2026-B5").status_code == 403


def test_frozen_refuses_a_result_that_fails_its_checksum() -> None:
    row = PublishedPeriod(period="2026-B5", revision=1, result_json='{"a":1}', sha256="0" * 64)
    with pytest.raises(publishing.IntegrityFailure):
        publishing.frozen(row)
    row.sha256 = publishing.sha256_text(row.result_json)
    assert publishing.frozen(row) == {"a": 1}


def test_inputs_digest_ignores_row_order_but_not_content(app: Flask, example_hall: object) -> None:
    import dataclasses

    from kiosk.services.scoring import load_period_data

    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        data = load_period_data(
            db.session.connection(),
            hall.id,
            publishing.parse_period("2026-B5"),
            dt.datetime.fromisoformat(AS_OF),
        )
        digest = publishing.inputs_digest(data)
        shuffled = dataclasses.replace(data, punches=list(reversed(data.punches)))
        assert publishing.inputs_digest(shuffled) == digest
        fewer = dataclasses.replace(data, punches=list(data.punches)[1:])
        assert publishing.inputs_digest(fewer) != digest


def test_published_page_keeps_the_frozen_result_after_a_correction(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    row = _publish(app)
    assert 'id="data-changed"' not in client.get("/admin/periods/2026-B5").get_data(as_text=True)
    with app.test_request_context():
        add_correction_punch(
            db.session,
            resolve_hall(db.session, None),
            staff_no="S005",
            local_time=dt.datetime(2026, 10, 10, 8, 20),
            reason="核实到岗",
            user_id=_publisher_id(),
        )
        db.session.commit()
    page = client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert 'id="data-changed"' in page and row.sha256 in page
    s005 = page.split('data-staff="S005"')[1].split("</tr>")[0]
    assert ">2</td>" in s005  # still the two absent half-days that were published


def test_refusals_read_in_chinese_outside_a_request(app: Flask, example_hall: object) -> None:
    """The command line (e.g. the demo) gets the same refusals, untranslated."""
    with app.app_context():
        hall = resolve_hall(db.session, None)
        with pytest.raises(PublishError, match=r"2026年第6期（11—12月）尚未结束"):
            publishing.publish(
                db.session,
                hall,
                period_code="2026-B6",
                as_of=dt.datetime.fromisoformat(AS_OF),
                reviewed_inputs_sha256="x",
                reason=None,
                user_id=1,
                rules=default_rules(),
            )
