"""``flask --app kiosk alerts`` and the alerts service on the SPEC's example hall (SPEC 12)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AlertAck, AuditEntry, Device, Hall
from kiosk.models_devices import DeviceSeen
from kiosk.services.alerts import acknowledge, hall_alerts, since_utc
from kiosk.services.errors import Refused


def alerts(runner: FlaskCliRunner, as_of: str) -> list[dict]:
    result = runner.invoke(args=["alerts", "--as-of", as_of, "--format", "json"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_lists_the_open_alerts_of_an_instant(
    runner: FlaskCliRunner, example_hall: Path
) -> None:
    found = alerts(runner, "2026-11-20T09:00:00+08:00")
    assert found[0] == {
        "code": "no_am_in",
        "staff": ["S001", "S002", "S003", "S004", "S005", "S006", "S007"],
        "since": "2026-11-20T09:00:00+08:00",
    }
    # R0055 is pending (not verified): its callback and rectification are overdue.
    assert {
        "code": "callback_due",
        "window": "W01",
        "staff_no": "S002",
        "rating_id": "R0055",
        "due": "2026-10-16T00:00:00+08:00",
        "since": "2026-10-15T00:00:00+08:00",
    } in found
    # Not rectified: the rectification and, with no callback recorded, the callback are
    # due; the rectified and unfounded ones raise nothing.
    rectify = sorted(a["rating_id"] for a in found if a["code"] == "rectify_due")
    assert rectify == ["R0055", "R0085", "R0184"]
    callbacks = sorted(a["rating_id"] for a in found if a["code"] == "callback_due")
    assert callbacks == ["R0055", "R0085", "R0184"]
    assert [a for a in found if a["code"] == "case_due"] == [
        {
            "code": "case_due",
            "staff_no": "S003",
            "case_no": "QJ202600104",
            "due": "2026-11-20T17:30:00+08:00",
            "since": "2026-11-20T00:00:00+08:00",
        }
    ]


def test_the_same_instant_gives_the_same_set_and_earlier_instants_their_own(
    runner: FlaskCliRunner, example_hall: Path
) -> None:
    first = alerts(runner, "2026-11-20T09:00:00+08:00")
    assert alerts(runner, "2026-11-20T01:00:00Z") == first  # the same instant in UTC
    # One microsecond before A0 + 30 min: no no_am_in yet; the day before: no case_due.
    assert "no_am_in" not in {a["code"] for a in alerts(runner, "2026-11-20T08:59:59.999999+08:00")}
    assert "case_due" not in {a["code"] for a in alerts(runner, "2026-11-19T23:59:59+08:00")}
    # Before R0184 was given, it raises nothing.
    early = alerts(runner, "2026-10-28T13:59:59+08:00")
    assert "R0184" not in {a.get("rating_id") for a in early}


def test_cli_refuses_a_bad_instant_and_an_unknown_hall(
    runner: FlaskCliRunner, example_hall: Path
) -> None:
    bad = runner.invoke(args=["alerts", "--as-of", "yesterday", "--format", "json"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    far = runner.invoke(args=["alerts", "--as-of", "2150-01-01T00:00:00", "--format", "json"])
    assert far.exit_code == 2
    unknown = runner.invoke(args=["alerts", "--hall", "NOPE", "--format", "json"])
    assert unknown.exit_code == 1
    table = runner.invoke(args=["alerts", "--as-of", "2026-11-20T09:00:00+08:00"])
    assert table.exit_code == 0 and "办件临期" in table.output and "QJ202600104" in table.output


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def test_acknowledged_alerts_leave_the_open_list_from_then_on(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    now = _utc("2026-11-20T10:00:00+08:00")
    with app.test_request_context():
        hall = db.session.scalars(db.select(Hall)).one()
        case_alert = next(a for a in hall_alerts(db.session, hall, now) if a.code == "case_due")
        for comment in ("", "x" * 501):
            try:
                acknowledge(
                    db.session,
                    hall,
                    code="case_due",
                    subject="QJ202600104",
                    since=since_utc(case_alert, hall),
                    comment=comment,
                    user_id=None,
                    now=now,
                )
            except Refused as exc:
                assert exc.code == "invalid"
            else:
                raise AssertionError("an empty or too long comment was taken")
        acknowledge(
            db.session,
            hall,
            code="case_due",
            subject="QJ202600104",
            since=since_utc(case_alert, hall),
            comment="已电话督办，下午办结",
            user_id=None,
            now=now,
        )
        db.session.commit()
        try:
            acknowledge(
                db.session,
                hall,
                code="case_due",
                subject="QJ202600104",
                since=since_utc(case_alert, hall),
                comment="again",
                user_id=None,
                now=now,
            )
        except Refused as exc:
            assert exc.code == "conflict"
        else:
            raise AssertionError("acknowledged twice")
        db.session.rollback()
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "alert.acknowledge")
        ).one()
        assert (
            entry.before["acknowledged"] is False
            and entry.after["comment"] == "已电话督办，下午办结"
        )
        assert db.session.scalar(db.select(db.func.count(AlertAck.id))) == 1
        kept = hall_alerts(db.session, hall, now, include_acknowledged=True)
        assert "case_due" in {a.code for a in kept}
    # Gone from the list at and after the acknowledgement, still there before it.
    assert "case_due" not in {a["code"] for a in alerts(runner, "2026-11-20T10:00:00+08:00")}
    assert "case_due" in {a["code"] for a in alerts(runner, "2026-11-20T09:59:59+08:00")}


def test_reader_offline_from_the_seen_spans(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        device = Device(
            hall_id=hall.id,
            name="entrance",
            port="/dev/null",
            created_at=_utc("2026-11-01T00:00:00+08:00"),
        )
        db.session.add(device)
        db.session.flush()
        db.session.add(
            DeviceSeen(
                device_id=device.id,
                first_seen=_utc("2026-11-20T07:00:00+08:00"),
                last_seen=_utc("2026-11-20T09:00:00+08:00"),
            )
        )
        db.session.commit()
    offline = [
        a for a in alerts(runner, "2026-11-20T09:05:00+08:00") if a["code"] == "reader_offline"
    ]
    assert offline == [
        {"code": "reader_offline", "device": "entrance", "since": "2026-11-20T09:05:00+08:00"}
    ]
    assert "reader_offline" not in {a["code"] for a in alerts(runner, "2026-11-20T09:04:59+08:00")}
    # Inside the span (asked about a past instant) the reader was seen: nothing.
    assert "reader_offline" not in {a["code"] for a in alerts(runner, "2026-11-20T08:59:00+08:00")}


def test_hall_file_alerts_table(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    text = (Path(__file__).parent / "data" / "small" / "hall.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text + '\n[alerts]\nburst_min_ratings = 0\noffline_minutes = "5"\nloud = true\n',
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", "hall", str(bad)])
    assert result.exit_code == 1
    for words in ("[alerts] burst_min_ratings", "[alerts] offline_minutes", "[alerts] loud"):
        assert words in result.output
    good = tmp_path / "good.toml"
    good.write_text(
        text + "\n[alerts]\nburst_min_ratings = 6\noffline_minutes = 2\n", encoding="utf-8"
    )
    assert runner.invoke(args=["import", "hall", str(good)]).exit_code == 0
    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        from kiosk.rules.settings import alert_thresholds

        thresholds = alert_thresholds(hall.settings)
        assert (thresholds.burst_min_ratings, thresholds.offline_minutes) == (6, 2.0)
        assert thresholds.burst_minutes == 15.0


def test_listener_reports_make_seen_spans(app: Flask, example_hall: Path) -> None:
    from kiosk.services.readers import note_seen

    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        device = Device(hall_id=hall.id, name="r1", port="/dev/null")
        db.session.add(device)
        db.session.flush()
        start = dt.datetime(2026, 11, 20, 1, 0)
        for seconds in (0, 5, 65, 126, 130, 120):  # a gap of 61 s starts a new span
            note_seen(db.session, device.id, start + dt.timedelta(seconds=seconds))
            db.session.flush()
        spans = db.session.execute(
            db.select(DeviceSeen.first_seen, DeviceSeen.last_seen).order_by(DeviceSeen.id)
        ).all()
        second = dt.timedelta(seconds=1)
        assert [(a - start, b - start) for a, b in spans] == [
            (0 * second, 65 * second),
            (126 * second, 130 * second),
        ]


def test_a_recorded_callback_ends_its_callback_alert_from_its_time(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    import datetime as dt

    from kiosk.models import Rating, RatingCallback

    with app.app_context():
        rating = db.session.scalars(select(Rating).where(Rating.rating_id == "R0085")).one()
        db.session.add(
            RatingCallback(
                rating_id=rating.id,
                called_at=dt.datetime(2026, 11, 20, 0, 30),  # 08:30 in the hall (UTC+8)
                outcome="reached",
                note="已电话联系群众，说明情况。",
            )
        )
        db.session.commit()
    before = alerts(runner, "2026-11-20T08:00:00+08:00")
    after = alerts(runner, "2026-11-20T09:00:00+08:00")

    def due(found: list[dict], code: str) -> list[str]:
        return sorted(a["rating_id"] for a in found if a["code"] == code)

    assert "R0085" in due(before, "callback_due")
    assert "R0085" not in due(after, "callback_due")
    assert "R0085" in due(after, "rectify_due")  # the callback does not rectify
