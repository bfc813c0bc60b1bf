"""The public clock feed shows only the last minutes of today, refuses odd parameters
with a message, and carries the readers' state (SPEC 9, issues 9 and 11)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Device, Hall
from tests.devices.test_clock import add_event, freeze


@pytest.fixture
def day(hall: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Now is 2026-11-26 08:40 in the hall; events of yesterday, today and tomorrow."""
    freeze(monkeypatch, "2026-11-26T08:40:00")
    return {
        "last_week": add_event(hall, "2026-11-19T08:31:00"),
        "yesterday": add_event(hall, "2026-11-25T17:31:00", staff_no="S002"),
        "early": add_event(hall, "2026-11-26T08:29:00"),  # 11 minutes ago
        "recent": add_event(hall, "2026-11-26T08:31:00", staff_no="S002"),
        "now": add_event(hall, "2026-11-26T08:40:00"),
        "tomorrow": add_event(hall, "2026-11-27T08:31:00"),
    }


def ids(client: FlaskClient, query: str) -> list[int]:
    response = client.get(f"/clock/events{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["events"]]


def test_after_zero_is_only_the_last_minutes_of_today(
    client: FlaskClient, day: dict[str, int]
) -> None:
    assert ids(client, "?after=0") == [day["recent"], day["now"]]
    assert ids(client, "") == [day["recent"], day["now"]]
    assert ids(client, f"?after={day['recent']}") == [day["now"]]


@pytest.mark.parametrize(
    "query",
    [
        "?after=0&date=2026-11-25",
        "?after=0&day=2026-11-25&from=2026-01-01&to=2026-12-31",
        "?after=0&minutes=100000&limit=100000&all=1",
        "?after=0&hall=QJ",
        "?after=0&after=1",
    ],
)
def test_no_parameter_widens_the_window(
    client: FlaskClient, day: dict[str, int], query: str
) -> None:
    assert set(ids(client, query)) <= {day["recent"], day["now"]}


def test_the_setting_sets_the_window(hall: Flask, client: FlaskClient, day: dict[str, int]) -> None:
    hall.config["CLOCK_FEED_MINUTES"] = 15
    assert ids(client, "?after=0") == [day["early"], day["recent"], day["now"]]
    hall.config["CLOCK_FEED_MINUTES"] = 24 * 60  # still never yesterday
    assert ids(client, "?after=0") == [day["early"], day["recent"], day["now"]]


def test_just_after_midnight_yesterday_is_gone(
    hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    freeze(monkeypatch, "2026-11-26T00:03:00")
    add_event(hall, "2026-11-25T23:58:00")
    today = add_event(hall, "2026-11-26T00:01:00")
    assert ids(client, "?after=0") == [today]


def test_the_screen_page_lists_only_the_feed(client: FlaskClient, day: dict[str, int]) -> None:
    html = client.get("/clock").get_data(as_text=True)
    assert "08:31:00" in html and "08:40:00" in html
    assert "08:29:00" not in html and "17:31:00" not in html


HOSTILE = [
    ("after", "-1"),
    ("after", "1e3"),
    ("after", "0x10"),
    ("after", " 1"),
    ("after", "1.5"),
    ("after", "²"),  # a Unicode digit: str.isdigit() says yes, int() says no
    ("after", "١٢"),  # Arabic-Indic digits
    ("after", "9" * 19),  # over BIGINT
    ("after", "9" * 5000),
    ("after", "1\x00"),
    ("hall", "x" * 1000),
    ("hall", "Q\x00J"),
    ("hall", "<script>alert(1)</script>"),
    ("hall", "QJ' OR '1'='1"),
    ("hall", ""),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_parameters_are_400_with_a_message(
    client: FlaskClient, day: dict[str, int], name: str, value: str
) -> None:
    for path in ("/clock/events", "/clock/stream"):
        response = client.get(path, query_string={name: value})
        assert response.status_code == 400, (path, name, value, response.status_code)
        body = response.get_json()
        assert body["error"] == "invalid" and body["message"].startswith("参数 " + name)
    page = client.get("/clock", query_string={name: value})
    assert page.status_code == 400 if name == "hall" else page.status_code == 200
    assert "<script>alert" not in page.get_data(as_text=True)


def test_hostile_last_event_id_is_400(client: FlaskClient, day: dict[str, int]) -> None:
    response = client.get("/clock/stream", headers={"Last-Event-ID": "9" * 30})
    assert response.status_code == 400 and "after" in response.get_json()["message"]


def test_unknown_hall_is_404_with_a_message(client: FlaskClient, day: dict[str, int]) -> None:
    response = client.get("/clock/events?hall=ZZ")
    assert response.status_code == 404
    assert response.get_json() == {"error": "unknown_hall", "message": "没有代码为 ZZ 的大厅。"}
    assert client.get("/clock?hall=ZZ").status_code == 404


def set_reader(app: Flask, state: str, seen_ago: float | None, error: str | None = None) -> None:
    """Write the reader's row as the listener would (``seen_ago`` seconds before "now")."""
    from kiosk import models

    with app.app_context():
        device = db.session.scalar(select(Device))
        device.state = state
        device.last_seen = (
            None if seen_ago is None else models.utcnow() - dt.timedelta(seconds=seen_ago)
        )
        device.last_error = error
        db.session.commit()


@pytest.mark.parametrize(
    ("state", "seen_ago", "ok"),
    [
        ("connected", 1, True),
        ("connected", 60, False),  # the listener went quiet
        ("disconnected", 1, False),
        ("error", 1, False),
        ("unknown", None, False),
    ],
)
def test_the_feed_carries_the_readers_state(
    hall: Flask,
    client: FlaskClient,
    day: dict[str, int],
    state: str,
    seen_ago: float | None,
    ok: bool,
) -> None:
    hall.config["CLOCK_READER_STALE_SECONDS"] = 15
    set_reader(hall, state, seen_ago, error="[Errno 2] could not open port /dev/ttyUSB0")
    answer = client.get("/clock/events?after=0").get_json()
    assert answer["readers_ok"] is ok
    (reader,) = answer["readers"]
    assert (reader["name"], reader["state"], reader["ok"]) == ("door", state, ok)
    assert reader["seen_seconds"] == (None if seen_ago is None else int(seen_ago))
    # The technical error stays in the back office.
    assert "ttyUSB0" not in client.get("/clock/events").get_data(as_text=True)
    html = client.get("/clock").get_data(as_text=True)
    notice = html[html.index('id="reader-notice"') :].split(">", 1)[0]
    assert ("hidden" in notice) is ok
    assert "指纹机未连接，请联系值班人员" in html


def test_a_hall_without_a_reader_is_not_ok(hall: Flask, client: FlaskClient) -> None:
    answer = client.get("/clock/events").get_json()
    assert answer == {
        "events": [],
        "cursor": 0,
        "readers": [],
        "readers_ok": False,
        "enrolment": None,
    }
    assert "本大厅未登记指纹机" in client.get("/clock").get_data(as_text=True)


def test_readers_are_of_the_screen_hall(hall: Flask, client: FlaskClient) -> None:
    with hall.app_context():
        other = Hall(code="EH", name="东区大厅", timezone="Asia/Shanghai", settings={})
        db.session.add(other)
        db.session.flush()
        db.session.add(Device(hall_id=other.id, name="east", port="/dev/null"))
        qj = db.session.scalar(select(Hall).where(Hall.code == "QJ"))
        db.session.add(Device(hall_id=qj.id, name="door", port="/dev/null", state="connected"))
        db.session.commit()
    names = [r["name"] for r in client.get("/clock/events?hall=EH").get_json()["readers"]]
    assert names == ["east"]
    assert [r["name"] for r in client.get("/clock/events").get_json()["readers"]] == [
        "door",
        "east",
    ]


def test_the_cursor_waits_behind_events_of_the_last_seconds(
    hall: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two listeners on PostgreSQL, id 11 may commit before id 10: a cursor that ran
    ahead at once would skip 10 for ever, so it passes an event only after a few seconds."""
    freeze(monkeypatch, "2026-11-26T08:40:00")
    old = add_event(hall, "2026-11-26T08:39:50")
    new = add_event(hall, "2026-11-26T08:39:58", staff_no="S002")
    answer = client.get("/clock/events?after=0").get_json()
    assert [e["id"] for e in answer["events"]] == [old, new]
    assert answer["cursor"] == old  # 10 s old: settled; 2 s old: not yet
    again = client.get(f"/clock/events?after={answer['cursor']}").get_json()
    assert [e["id"] for e in again["events"]] == [new]
    freeze(monkeypatch, "2026-11-26T08:40:04")
    assert client.get(f"/clock/events?after={old}").get_json()["cursor"] == new
