"""Hostile import files (issue 9): every one gets a line-and-column message and changes nothing.

Each case goes through the real CLI on the test backend (SQLite or PostgreSQL): NUL and other
control characters, values longer than the schema's columns, a 20 MB field, dates in year 1
or 9999 (and instants that overflow when converted to UTC), and hall files with hostile values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import (
    Absence,
    Assignment,
    AuditEntry,
    Case,
    Event,
    Hall,
    Punch,
    Rating,
    Staff,
    Unit,
    Window,
)

SMALL = Path(__file__).parent / "data" / "small"
MODELS = (Hall, Unit, Window, Staff, Assignment, Punch, Rating, Case, Absence, Event, AuditEntry)
BIG = 20 * 1024 * 1024  # a 20 MB field


def snapshot(app: Flask) -> tuple[object, ...]:
    """Everything an import may change: row counts, and the hall, unit and window texts."""
    with app.app_context():
        counts = tuple(db.session.scalar(select(func.count()).select_from(m)) for m in MODELS)
        halls = db.session.execute(
            select(Hall.code, Hall.name, Hall.timezone, Hall.settings).order_by(Hall.code)
        ).all()
        units = db.session.execute(select(Unit.code, Unit.name).order_by(Unit.code)).all()
        windows = db.session.execute(select(Window.code, Window.name).order_by(Window.code)).all()
        staff = db.session.execute(select(Staff.staff_no, Staff.name).order_by(Staff.staff_no))
        return counts, tuple(halls), tuple(units), tuple(windows), tuple(staff.all())


@pytest.fixture
def small_hall(runner: FlaskCliRunner) -> None:
    """The worked example's hall and roster, imported through the CLI."""
    for kind, name in (("hall", "hall.toml"), ("roster", "roster.csv")):
        result = runner.invoke(args=["import", kind, str(SMALL / name)])
        assert result.exit_code == 0, result.output


def refused(runner: FlaskCliRunner, tmp_path: Path, kind: str, data: bytes) -> str:
    """Import ``data`` as ``kind``; assert it was refused cleanly and return the messages."""
    path = tmp_path / ("hall.toml" if kind == "hall" else f"{kind}.csv")
    path.write_bytes(data)
    result = runner.invoke(args=["import", kind, str(path)])
    assert isinstance(result.exception, SystemExit), (
        f"traceback instead of a message: {result.exception!r}"
    )
    assert result.exit_code == 1, result.output
    assert "nothing was changed" in result.output
    return result.output


LONG_NAME = "张" * 101  # Staff.name is String(100)
LONG_NO = "S" * 33  # Staff.staff_no is String(32)
LONG_ID = "R" * 65  # Rating.rating_id is String(64)

CSV_CASES = [
    pytest.param(
        "roster",
        "staff_no,name,window_code,start_date\nS900,张\x00三,W01,2026-09-01\n",
        "line 2, column name: contains a control character (U+0000)",
        id="roster-nul-in-name",
    ),
    pytest.param(
        "roster",
        "staff_no,name,window_code,start_date\nS900,张\x07三,W01,2026-09-01\n",
        "line 2, column name: contains a control character (U+0007)",
        id="roster-bell-in-name",
    ),
    pytest.param(
        "roster",
        f'staff_no,name,window_code,start_date\nS900,"{LONG_NAME}",W01,2026-09-01\n',
        "line 2, column name: is longer than 100 characters",
        id="roster-long-name",
    ),
    pytest.param(
        "roster",
        f"staff_no,name,window_code,start_date\n{LONG_NO},张三,W01,2026-09-01\n",
        "line 2, column staff_no: is longer than 32 characters",
        id="roster-long-staff-no",
    ),
    pytest.param(
        "roster",
        "staff_no,name,window_code,start_date\nS900,张三,W01,0001-01-01\n",
        'line 2, column start_date: "0001-01-01" is outside 2000-01-01 to 2099-12-31',
        id="roster-year-1",
    ),
    pytest.param(
        "roster",
        "staff_no,name,window_code,start_date,end_date\nS900,张三,W01,2026-09-01,9999-12-31\n",
        'line 2, column end_date: "9999-12-31" is outside 2000-01-01 to 2099-12-31',
        id="roster-year-9999",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at\nS001,0001-01-01T00:00:00\n",
        'line 2, column punched_at: "0001-01-01T00:00:00" is outside 2000-01-01 to 2099-12-31',
        id="punch-year-1-local",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at\nS001,0001-01-01T00:00:00+08:00\n",
        "line 2, column punched_at: "
        '"0001-01-01T00:00:00+08:00" is outside 2000-01-01 to 2099-12-31',
        id="punch-year-1-overflows-utc",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at\nS001,9999-12-31T23:59:59-05:00\n",
        "line 2, column punched_at: "
        '"9999-12-31T23:59:59-05:00" is outside 2000-01-01 to 2099-12-31',
        id="punch-year-9999-overflows-utc",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at\nS00\x001,2026-09-01T08:00:00\n",
        "line 2, column staff_no: contains a control character (U+0000)",
        id="punch-nul",
    ),
    pytest.param(
        "ratings",
        "rating_id,rated_at,staff_no,level\nR9,9999-12-31T23:59:59,S001,5\n",
        'line 2, column rated_at: "9999-12-31T23:59:59" is outside 2000-01-01 to 2099-12-31',
        id="rating-year-9999-local",
    ),
    pytest.param(
        "ratings",
        "rating_id,rated_at,staff_no,level,case_no\nR9,2026-09-01T08:00:00,S001,5,QJ\x00X\n",
        "line 2, column case_no: contains a control character (U+0000)",
        id="rating-nul-case-no",
    ),
    pytest.param(
        "ratings",
        f"rating_id,rated_at,staff_no,level\n{LONG_ID},2026-09-01T08:00:00,S001,5\n",
        "line 2, column rating_id: is longer than 64 characters",
        id="rating-long-id",
    ),
    pytest.param(
        "cases",
        "case_no,staff_no,matter,accepted_at,due_at\n"
        f"C1,S001,{'事' * 201},2026-09-01T08:00:00,2026-09-02T08:00:00\n",
        "line 2, column matter: is longer than 200 characters",
        id="case-long-matter",
    ),
    pytest.param(
        "absences",
        "staff_no,kind,start,end,note\n"
        "S001,leave,2026-09-01T08:00:00,2026-09-01T09:00:00,看\x00病\n",
        "line 2, column note: contains a control character (U+0000)",
        id="absence-nul-note",
    ),
    pytest.param(
        "events",
        "event_id,staff_no,at,kind,points\nE9,S001,1999-12-31T23:59:59,spot_check,-1\n",
        'line 2, column at: "1999-12-31T23:59:59" is outside 2000-01-01 to 2099-12-31',
        id="event-1999",
    ),
    pytest.param(
        "events",
        "event_id,staff_no,at,kind,points,category\n"
        f"E9,S001,2026-09-01T08:00:00,spot_check,-1,{'类' * 101}\n",
        "line 2, column category: is longer than 100 characters",
        id="event-long-category",
    ),
    pytest.param(
        "punches",
        f"staff_no,punched_at\nS001,2026-09-01T08:00:00\nS001,{'9' * BIG}\n",
        "line 3, column punched_at: is larger than",
        id="punch-20mb-unquoted",
    ),
    pytest.param(
        "punches",
        f'staff_no,punched_at\nS001,2026-09-01T08:00:00\n"S001","{"9" * BIG}"\n',
        "line 3, column punched_at: is larger than",
        id="punch-20mb-quoted",
    ),
    pytest.param(
        "roster",
        f"staff_no,name,window_code,start_date\nS900,{'名' * BIG},W01,2026-09-01\n",
        "line 2, column name: is larger than",
        id="roster-20mb-name",
    ),
]


@pytest.mark.parametrize(("kind", "text", "expected"), CSV_CASES)
def test_hostile_csv_is_refused_with_line_and_column(
    app: Flask,
    runner: FlaskCliRunner,
    small_hall: None,
    tmp_path: Path,
    kind: str,
    text: str,
    expected: str,
) -> None:
    before = snapshot(app)
    output = refused(runner, tmp_path, kind, text.encode("utf-8"))
    assert expected in output, output
    assert "\x00" not in output  # the message shows U+0000, it does not echo the byte
    assert len(output) < 5000  # a 20 MB value is not echoed back
    assert snapshot(app) == before


def test_tab_in_a_note_is_kept(app: Flask, runner: FlaskCliRunner, small_hall: None, tmp_path):
    path = tmp_path / "absences.csv"
    path.write_text(
        "staff_no,kind,start,end,note\nS001,leave,2026-09-01T08:00:00,2026-09-01T09:00:00,"
        '"看病\t复诊"\n',
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", "absences", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Absence.note)) == "看病\t复诊"


def _hall_toml(prefix: str, replace: dict[str, str]) -> str:
    """The example's hall file with top-level ``prefix`` lines and texts replaced."""
    text = (SMALL / "hall.toml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return prefix + text


HALL_CASES = [
    pytest.param(
        "",
        {'code = "SCJG"': f'code = "{"U" * 33}"'},
        "[[unit]] #1 code: is longer than 32 characters",
        id="long-unit-code",
    ),
    pytest.param(
        "",
        {'name = "市场监督管理局"': f'name = "{"局" * 201}"'},
        "[[unit]] #1 name: is longer than 200 characters",
        id="long-unit-name",
    ),
    pytest.param(
        "",
        {'name = "企业登记"': f'name = "{"窗" * 201}"'},
        "[[window]] #1 name: is longer than 200 characters",
        id="long-window-name",
    ),
    pytest.param(
        "",
        {'name = "潜江市行政服务中心"': 'name = "潜江\\u0000中心"'},
        "[hall] name: contains a control character (U+0000)",
        id="nul-hall-name",
    ),
    pytest.param(
        "",
        {'name = "市场监督管理局"': 'name = "市场\\u001b监督"'},
        "[[unit]] #1 name: contains a control character (U+001B)",
        id="escape-in-unit-name",
    ),
    pytest.param(
        "",
        {'timezone = "Asia/Shanghai"': f'timezone = "{"A" * 65}"'},
        "[hall] timezone: is longer than 64 characters",
        id="long-timezone",
    ),
    pytest.param(
        "",
        {'closed_days = ["2026-10-16"]': 'closed_days = ["0001-01-01", 9999-12-31]'},
        '[attendance] closed_days: "0001-01-01" is outside 2000-01-01 to 2099-12-31',
        id="closed-day-year-1",
    ),
    pytest.param(
        "",
        {"grace_minutes = 5": "grace_minutes = 99999999999999999999"},
        "[attendance] grace_minutes: expected a whole number 0–120",
        id="huge-grace",
    ),
    pytest.param(
        "attendance = 5\n",
        {"[attendance]": "[old_attendance]"},
        "[attendance]: expected a table",
        id="attendance-not-a-table",
    ),
    pytest.param(
        "unit = 5\n",
        {"[[unit]]": "[[old_unit]]"},
        "[[unit]]: expected an array of tables",
        id="unit-not-a-list",
    ),
    pytest.param(
        'window = ["W01"]\n',
        {"[[window]]": "[[old_window]]"},
        "[[window]] #1: expected a table",
        id="window-not-a-table",
    ),
    pytest.param(
        "schedule = [1, 2]\n",
        {"[[schedule]]": "[[old_schedule]]"},
        "[[schedule]] #1: expected a table",
        id="schedule-not-tables",
    ),
    pytest.param(
        'ratings = "x"\n',
        {},
        "[ratings]: expected a table",
        id="ratings-not-a-table",
    ),
    pytest.param(
        "deep = " + "[" * 5000 + "]" * 5000 + "\n",
        {},
        "not valid TOML",
        id="deeply-nested",
    ),
]


@pytest.mark.parametrize(("prefix", "replace", "expected"), HALL_CASES)
def test_hostile_hall_file_is_refused(
    app: Flask,
    runner: FlaskCliRunner,
    small_hall: None,
    tmp_path: Path,
    prefix: str,
    replace: dict[str, str],
    expected: str,
) -> None:
    before = snapshot(app)
    output = refused(runner, tmp_path, "hall", _hall_toml(prefix, replace).encode("utf-8"))
    assert expected in output, output
    assert "\x00" not in output
    assert snapshot(app) == before


@pytest.mark.parametrize("option", ["--from", "--to"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_export_with_a_boundary_date_is_a_message(
    runner: FlaskCliRunner, small_hall: None, option: str, day: str
) -> None:
    result = runner.invoke(args=["export", "punches", option, day])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert "is outside 2000-01-01 to 2099-12-31" in result.output
