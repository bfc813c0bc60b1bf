"""Withdrawing an event or an absence (issue 13, SPEC 10): kept and marked, audited, no
longer counted in attendance and scoring, left out of the export; a published period
keeps its result until a revision is published."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from kiosk.extensions import db
from kiosk.interchange.exporter import export_rows
from kiosk.models import Absence, AuditEntry, Event, PublishedPeriod, Staff
from kiosk.rules.ruleset import default_rules
from kiosk.services import publishing, records
from kiosk.services.errors import RecordError
from kiosk.services.halls import resolve_hall
from kiosk.services.reports import attendance_records
from tests.admin.conftest import csrf_token
from tests.admin.test_publishing import AS_OF, _publish, _publisher_id


def _compute(app: Flask) -> publishing.Computation:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        return publishing.compute(
            db.session,
            hall,
            publishing.parse_period("2026-B5"),
            dt.datetime.fromisoformat(AS_OF),
            default_rules(),
        )


def _vetoes(app: Flask, staff_no: str) -> tuple[str, ...]:
    person = _compute(app).result.individual(staff_no)
    assert person is not None
    return person.vetoes


def test_a_withdrawn_veto_spot_check_no_longer_vetoes(app: Flask, example_hall: Path) -> None:
    assert "discipline" in _vetoes(app, "S005")  # E005: complaint with a veto
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        user_id = _publisher_id()
        event = records.withdraw_event(
            db.session, hall, event_id="E005", reason="误录，实为他人", user_id=user_id
        )
        db.session.commit()
        assert event.withdrawn_at is not None and event.withdrawn_by == user_id
    assert "discipline" not in _vetoes(app, "S005")
    with app.app_context():
        kept = db.session.scalar(select(Event).where(Event.event_id == "E005"))
        assert kept is not None and kept.withdraw_reason == "误录，实为他人"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "event.withdraw"))
        assert entry is not None and entry.object_id == "E005"
        assert entry.before["withdrawn"] is False and entry.after["withdrawn"] is True
        assert entry.after["veto"] is True and entry.reason == "误录，实为他人"


def test_a_withdrawn_commendation_no_longer_adds_points(app: Flask, example_hall: Path) -> None:
    before = _compute(app).result.individual("S006")
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        records.withdraw_event(
            db.session, hall, event_id="E006", reason="重复登记", user_id=_publisher_id()
        )
        db.session.commit()
    after = _compute(app).result.individual("S006")
    assert before is not None and after is not None
    assert [e.event_id for e in before.events] == ["E006"]
    assert after.events == ()
    assert after.total < before.total


def test_a_withdrawn_absence_excuses_nothing_and_is_kept(app: Flask, example_hall: Path) -> None:
    day = dt.date(2026, 9, 22)  # S002: leave 07:30-09:30 (看病)
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        person = db.session.scalar(select(Staff).where(Staff.staff_no == "S002"))
        assert person is not None

        def excused() -> bool:
            found = attendance_records(db.session, hall, day, day, staff_id=person.id).records
            return any(s.status == "excused" for s in found[0].record.slots)

        assert excused()
        absence = db.session.scalar(select(Absence).where(Absence.staff_id == person.id))
        assert absence is not None
        records.withdraw_absence(
            db.session, hall, absence_id=absence.id, reason="假条作废", user_id=_publisher_id()
        )
        db.session.commit()
        assert not excused()
        kept = db.session.get(Absence, absence.id)
        assert kept is not None and kept.withdraw_reason == "假条作废"
        with pytest.raises(RecordError, match="已撤销"):
            records.withdraw_absence(
                db.session, hall, absence_id=absence.id, reason="again", user_id=_publisher_id()
            )
        # The same registration again hits the withdrawn row's key: a clear refusal.
        with pytest.raises(RecordError, match="已撤销的同类登记"):
            records.add_absence(
                db.session,
                hall,
                staff_no="S002",
                kind="leave",
                start=dt.datetime(2026, 9, 22, 7, 30),
                end=dt.datetime(2026, 9, 22, 9, 30),
                note=None,
                user_id=_publisher_id(),
            )


def test_withdrawn_rows_are_left_out_of_the_export(app: Flask, example_hall: Path) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        user_id = _publisher_id()
        records.withdraw_event(db.session, hall, event_id="E002", reason="r", user_id=user_id)
        absence = db.session.scalars(select(Absence).order_by(Absence.start)).first()
        assert absence is not None
        records.withdraw_absence(
            db.session, hall, absence_id=absence.id, reason="r", user_id=user_id
        )
        db.session.commit()
        ids = [row[0] for row in list(export_rows(db.session, "events", hall, None, None))[1:]]
        assert "E002" not in ids and "E001" in ids
        starts = [row[2] for row in list(export_rows(db.session, "absences", hall, None, None))[1:]]
        assert len(starts) == 5  # 6 in the file, one withdrawn
        assert "2026-09-10T00:00:00" not in starts


def test_a_withdrawal_after_publication_needs_a_revision(app: Flask, example_hall: Path) -> None:
    published = _publish(app)
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        records.withdraw_event(
            db.session, hall, event_id="E005", reason="复核不属实", user_id=_publisher_id()
        )
        db.session.commit()
        # The published result is frozen: unchanged rows, same digests.
        stored = db.session.scalars(select(PublishedPeriod)).all()
        assert [(p.revision, p.sha256) for p in stored] == [(1, published.sha256)]
    changed = _compute(app)
    assert changed.inputs_sha256 != published.inputs_sha256
    # Only the events changed (the review page names the kind that changed).
    frozen_detail = json.loads(published.inputs_detail or "{}")
    assert [k for k in frozen_detail if frozen_detail[k] != changed.inputs_detail[k]] == ["events"]
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        with pytest.raises(publishing.PublishError):
            # Reviewed before the withdrawal: refused, the data changed since.
            publishing.publish(
                db.session,
                hall,
                period_code="2026-B5",
                as_of=dt.datetime.fromisoformat(AS_OF),
                reviewed_inputs_sha256=published.inputs_sha256,
                reason="撤销投诉",
                user_id=_publisher_id(),
                rules=default_rules(),
            )
        db.session.rollback()
    revised = _publish(app, reason="撤销误录的投诉")
    assert revised.revision == 2 and revised.inputs_sha256 == changed.inputs_sha256


def _event_withdraw(client: FlaskClient, event_id: str, reason: str, **extra: str) -> str:
    token = csrf_token(client, "/admin/events")
    data = {"action": "withdraw", "wd-event_id": event_id, "wd-reason": reason, **extra}
    response = client.post(
        "/admin/events", data={**data, "csrf_token": token}, follow_redirects=True
    )
    return response.get_data(as_text=True)


def test_events_page_withdraws_after_confirmation_and_strikes_through(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    page = _event_withdraw(client, "E005", "误录")
    assert "确认撤销记录" in page and "不再否决" in page
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.event_id == "E005"))
        assert event is not None and event.withdrawn_at is None  # asked, nothing changed
    token = csrf_token(client, "/admin/events")
    done = client.post(
        "/admin/events",
        data={
            "action": "withdraw",
            "wd-event_id": "E005",
            "wd-reason": "误录",
            "confirmed": "1",
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    listing = client.get("/admin/events").get_data(as_text=True)
    assert 'id="event-E005" class="withdrawn"' in listing and "已撤销" in listing
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.event_id == "E005"))
        assert event is not None and event.withdrawn_at is not None


@pytest.mark.parametrize(
    ("event_id", "reason", "message"),
    [("E999", "r", "找不到这条记录"), ("E001", "", "撤销原因"), ("E" * 70, "r", "编号：")],
    ids=["unknown", "no-reason", "too-long"],
)
def test_events_page_refuses_bad_withdrawals(
    app: Flask, login_as: Callable[..., FlaskClient], event_id: str, reason: str, message: str
) -> None:
    client = login_as("duty")
    page = _event_withdraw(client, event_id, reason, confirmed="1")
    assert message in page
    with app.app_context():
        assert (
            db.session.scalar(
                select(db.func.count(Event.id)).where(Event.withdrawn_at.is_not(None))
            )
            == 0
        )


def test_leaders_read_the_lists_but_cannot_withdraw(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    page = client.get("/admin/events")
    assert page.status_code == 200 and "E005" in page.get_data(as_text=True)
    assert 'id="event-form"' not in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/events")
    refused = client.post(
        "/admin/events",
        data={
            "action": "withdraw",
            "wd-event_id": "E005",
            "wd-reason": "r",
            "confirmed": "1",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 403
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.event_id == "E005"))
        assert event is not None and event.withdrawn_at is None


def test_absences_page_withdraw_keeps_the_row_struck_through(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    with app.app_context():
        absence = db.session.scalars(select(Absence).order_by(Absence.start)).first()
        assert absence is not None
        absence_id = absence.id
    token = csrf_token(client, "/admin/absences")
    done = client.post(
        "/admin/absences",
        data={
            "action": "withdraw",
            "wd-absence_id": str(absence_id),
            "wd-reason": "登错人",
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    page = client.get("/admin/absences").get_data(as_text=True)
    assert f'id="absence-{absence_id}" class="withdrawn"' in page and "登错人" in page
    with app.app_context():
        entry = db.session.scalar(
            select(AuditEntry).where(AuditEntry.action.like("absence.%.withdraw"))
        )
        assert entry is not None and entry.after["withdrawn"] is True


def test_the_export_after_a_withdrawal_reimports_to_the_same_score(
    app: Flask, runner: Any, example_hall: Path, tmp_path: Path
) -> None:
    """SPEC 6 has no withdrawn column: the export leaves withdrawn rows out, so a hall that
    imports it scores exactly what this database scores."""
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        user_id = _publisher_id()
        records.withdraw_event(db.session, hall, event_id="E005", reason="r", user_id=user_id)
        absence = db.session.scalars(select(Absence).order_by(Absence.start)).first()
        assert absence is not None
        records.withdraw_absence(
            db.session, hall, absence_id=absence.id, reason="r", user_id=user_id
        )
        db.session.commit()
    here = _compute(app)
    files = {}
    for kind in ("events", "absences"):
        out = runner.invoke(args=["export", kind])
        assert out.exit_code == 0, out.output
        files[kind] = tmp_path / f"{kind}.csv"
        files[kind].write_text(out.stdout, encoding="utf-8")
    with app.app_context():
        # What another hall's database would hold: only the exported rows.
        db.session.execute(delete(Event))
        db.session.execute(delete(Absence))
        db.session.commit()
    for kind, path in files.items():
        result = runner.invoke(args=["import", kind, str(path)])
        assert result.exit_code == 0, result.output
    there = _compute(app)
    assert there.inputs_sha256 == here.inputs_sha256
    assert there.sha256 == here.sha256
