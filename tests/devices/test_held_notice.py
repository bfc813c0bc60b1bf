"""The "punches held" notice (issue 12) on the clock screen and the back office's today page,
from the listener's status file (the database cannot tell while it is away)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from tests.admin.conftest import login_as, make_user  # noqa: F401 - fixtures

MESSAGE = "暂存3条打卡，数据库恢复后自动写入"


def write_status(app: Flask, backlog: dict[str, int]) -> None:
    folder = Path(app.instance_path) / "devices"
    folder.mkdir(parents=True, exist_ok=True)
    devices = {
        name: {
            "state": "connected",
            "backlog": n,
            "backlog_since": "2026-12-01T01:02:03+00:00" if n else None,
        }
        for name, n in backlog.items()
    }
    data = {
        "updated": "2026-12-01T01:05:00+00:00",
        "database": {"ok": False, "error": "OperationalError: database is locked"},
        "backlog": sum(backlog.values()),
        "devices": devices,
    }
    (folder / "status.json").write_text(json.dumps(data), encoding="utf-8")


def add_door(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["devices", "add", "door", "--port", "/dev/null"])
    assert result.exit_code == 0, result.output


def test_clock_screen_says_punches_are_held(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, example_hall: Path
) -> None:
    add_door(runner)
    assert client.get("/clock/held").get_json() == {"held": None}  # no listener ran yet
    write_status(app, {"door": 3, "elsewhere": 4})
    held = client.get("/clock/held?hall=QJ").get_json()["held"]
    # Only the hall's own readers count; "elsewhere" is not a device of this database.
    assert held == {"count": 3, "since": "2026-12-01T01:02:03+00:00", "message": MESSAGE}
    assert client.get("/clock/held?hall=NOPE").get_json() == {"held": None}
    write_status(app, {"door": 0})
    assert client.get("/clock/held?hall=QJ").get_json() == {"held": None}
    page = client.get("/clock").get_data(as_text=True)
    assert 'id="held"' in page and "/clock/held" in page


def test_today_page_says_punches_are_held(
    app: Flask,
    runner: FlaskCliRunner,
    login_as: Callable[..., FlaskClient],  # noqa: F811 - the fixture imported above
) -> None:
    client = login_as("duty")
    add_door(runner)
    assert "暂存" not in client.get("/admin/today").get_data(as_text=True)
    write_status(app, {"door": 3})
    page = client.get("/admin/today").get_data(as_text=True)
    assert MESSAGE in page
    english = client.get("/admin/today?lang=en").get_data(as_text=True)
    assert "3 punches held" in english
