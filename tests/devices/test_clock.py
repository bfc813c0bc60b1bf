"""The clock-in screen: wording of each press, the polled feed, its window and its parameters."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Device, Hall, Staff
from kiosk.models_devices import DeviceEvent

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def freeze(monkeypatch: pytest.MonkeyPatch, local: str) -> dt.datetime:
    """Make the clock feed's "now" the hall-local instant ``local`` (ISO); returns naive UTC."""
    at = dt.datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)
    now = at.replace(tzinfo=None)
    monkeypatch.setattr("kiosk.models.utcnow", lambda: now)
    return now


def add_event(app: Flask, local: str, kind: str = "punch", staff_no: str | None = "S001") -> int:
    """A device event at hall-local time ``local`` (ISO), as the listener would write it."""
    at = dt.datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)
    with app.app_context():
        device = db.session.scalar(select(Device))
        if device is None:
            hall = db.session.scalar(select(Hall))
            device = Device(hall_id=hall.id, name="door", port="/dev/null")
            db.session.add(device)
            db.session.flush()
        staff = (
            db.session.scalar(select(Staff).where(Staff.staff_no == staff_no)) if staff_no else None
        )
        event = DeviceEvent(
            device_id=device.id,
            at=at.replace(tzinfo=None),
            kind=kind,
            page=1,
            staff_id=staff.id if staff and kind == "punch" else None,
        )
        db.session.add(event)
        db.session.commit()
        return event.id


@pytest.mark.parametrize(
    ("local", "slot", "verdict", "css"),
    [
        ("2026-11-26T08:31:00", "上午上班", "正常", "ok"),
        ("2026-11-26T08:35:00", "上午上班", "正常", "ok"),  # within the grace
        ("2026-11-26T08:40:30", "上午上班", "迟到 10 分钟", "late"),
        ("2026-11-26T11:50:00", "上午下班", "早退 10 分钟", "early"),
        ("2026-11-26T12:03:00", "上午下班", "正常", "ok"),
        ("2026-11-26T14:20:00", "下午上班", "迟到 20 分钟", "late"),
        ("2026-11-26T17:31:00", "下午下班", "正常", "ok"),
        ("2026-11-26T17:00:00", "下午下班", "早退 30 分钟", "early"),
        ("2026-06-02T08:10:00", "上午上班", "迟到 10 分钟", "late"),  # summer: A0 08:00
        ("2026-11-28T09:00:00", None, "非工作日", "neutral"),  # a Saturday
        ("2026-11-26T05:00:00", None, "不在打卡时段", "neutral"),
    ],
)
def test_verdicts(
    hall: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    local: str,
    slot: str | None,
    verdict: str,
    css: str,
) -> None:
    freeze(monkeypatch, local)
    add_event(hall, local)
    items = client.get("/clock/events?after=0").get_json()["events"]
    assert len(items) == 1
    item = items[0]
    assert (item["name"], item["slot"], item["verdict"], item["css"]) == (
        "张敏",
        slot,
        verdict,
        css,
    )
    assert item["time"] == local[11:]


@pytest.mark.parametrize("kind", ["unmapped", "no_match"])
def test_not_recognised(
    hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    freeze(monkeypatch, "2026-11-26T08:32:00")
    add_event(hall, "2026-11-26T08:31:00", kind=kind, staff_no=None)
    item = client.get("/clock/events?after=0").get_json()["events"][0]
    assert item["verdict"] == "未能识别，请重按手指" and item["name"] is None


def test_events_after_and_bad_after(
    hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze(monkeypatch, "2026-11-26T08:33:00")
    first = add_event(hall, "2026-11-26T08:31:00")
    second = add_event(hall, "2026-11-26T08:32:00", staff_no="S002")
    answer = client.get(f"/clock/events?after={first}").get_json()
    assert [i["id"] for i in answer["events"]] == [second] and answer["events"][0]["name"] == "李强"
    assert answer["cursor"] == second
    # Nothing new: the cursor stays where the client is.
    assert client.get(f"/clock/events?after={second}").get_json()["cursor"] == second
    assert client.get("/clock/events?after=x").status_code == 400
    unknown = client.get("/clock/events?after=0&hall=NOPE")
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "unknown_hall"
    assert client.get("/clock/events?after=0&hall=QJ").get_json()["events"] != []


def test_screen_page(hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    freeze(monkeypatch, "2026-11-26T08:35:00")
    add_event(hall, "2026-11-26T08:31:00")
    page = client.get("/clock")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "请将手指放在指纹仪上" in html and "/clock/events" in html
    assert "EventSource" not in html  # polled, never a held stream
    assert "张敏" in html  # the recent list


def test_old_stream_answers_at_once_from_last_event_id(
    hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A screen still on the old page (EventSource) gets one short answer and reconnects."""
    freeze(monkeypatch, "2026-11-26T08:46:00")
    first = add_event(hall, "2026-11-26T08:31:00")
    add_event(hall, "2026-11-26T08:45:00", staff_no="S002")
    response = client.get("/clock/stream", headers={"Last-Event-ID": str(first)})
    assert response.mimetype == "text/event-stream"
    body = response.get_data(as_text=True)
    assert body.startswith("retry: 2000\n\n")
    blocks = [b for b in body.split("\n\n") if b.startswith("id:")]
    assert len(blocks) == 1
    data = json.loads(blocks[0].split("data: ", 1)[1])
    assert (data["name"], data["verdict"]) == ("李强", "迟到 15 分钟")
    assert client.get("/clock/stream", headers={"Last-Event-ID": "-1"}).status_code == 400
