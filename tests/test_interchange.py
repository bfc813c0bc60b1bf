"""Import and export of the interchange files (SPEC section 6), through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.interchange import store
from kiosk.models import Absence, Assignment, Case, Event, Punch, Rating, Staff, Window

KINDS_AND_FILES = (
    ("roster", "roster.csv"),
    ("punches", "punches.csv"),
    ("ratings", "ratings.csv"),
    ("cases", "cases.csv"),
    ("absences", "absences.csv"),
    ("events", "events.csv"),
)
MODELS = (Staff, Assignment, Punch, Rating, Case, Absence, Event, Window)


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in MODELS}


def test_example_imports_with_expected_counts(app: Flask, example_hall: Path) -> None:
    counts = _counts(app)
    assert counts == {
        "Staff": 8,
        "Assignment": 9,
        "Punch": 1006,
        "Rating": 186,
        "Case": 180,
        "Absence": 6,
        "Event": 7,
        "Window": 4,
    }


def test_reimport_changes_nothing(app: Flask, runner: FlaskCliRunner, example_hall: Path) -> None:
    before = _counts(app)
    for kind, name in KINDS_AND_FILES:
        result = runner.invoke(args=["import", kind, str(example_hall / name)])
        assert result.exit_code == 0, result.output
        assert " 0 new, 0 updated" in result.output
    result = runner.invoke(args=["import", "hall", str(example_hall / "hall.toml")])
    assert " 0 new, 0 updated" in result.output
    assert _counts(app) == before


@pytest.mark.parametrize("kind", [k for k, _ in KINDS_AND_FILES])
def test_export_reimports_unchanged(
    app: Flask, runner: FlaskCliRunner, example_hall: Path, tmp_path: Path, kind: str
) -> None:
    exported = runner.invoke(args=["export", kind])
    assert exported.exit_code == 0, exported.output
    path = tmp_path / f"{kind}.csv"
    path.write_text(exported.stdout, encoding="utf-8")
    again = runner.invoke(args=["import", kind, str(path)])
    assert again.exit_code == 0, again.output
    assert " 0 new, 0 updated" in again.output
    # A second export is byte-identical: nothing drifted through the round trip.
    assert runner.invoke(args=["export", kind]).stdout == exported.stdout


def test_export_header_and_local_times(runner: FlaskCliRunner, example_hall: Path) -> None:
    out = runner.invoke(args=["export", "ratings", "--from", "2026-11-01", "--to", "2026-11-01"])
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "rating_id,rated_at,staff_no,level,channel,case_no,reasons,misuse,review,rectified_at"
    )
    # The rating stamped 16:30Z on 31 Oct is 1 Nov 00:30 in the hall's local time.
    assert any(",2026-11-01T00:30:00,S004," in line for line in lines[1:])


def test_punch_export_filters_by_local_date(runner: FlaskCliRunner, example_hall: Path) -> None:
    out = runner.invoke(args=["export", "punches", "--from", "2026-09-01", "--to", "2026-09-01"])
    rows = out.stdout.splitlines()[1:]
    assert rows and all(",2026-09-01T" in r and r.endswith(",import") for r in rows)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


BAD_FILES = [
    pytest.param(
        "punches",
        "staff_no,punched_at\nS001,2026-09-01T08:00:00\nS001,2026-13-01T08:00:00\n"
        "S999,2026-09-02T08:00:00\n",
        [
            'line 3, column punched_at: "2026-13-01T08:00:00" is not an ISO 8601 date-time',
            'line 4, column staff_no: unknown staff number "S999"',
        ],
        id="bad-date-and-unknown-staff",
    ),
    pytest.param(
        "punches",
        "staff_no,when\nS001,2026-09-01T08:00:00\n",
        ["line 1: missing column(s) punched_at", "line 1: unknown column(s) when"],
        id="missing-column",
    ),
    pytest.param(
        "punches",
        "staff_no;punched_at\nS001;2026-09-01T08:00:00\n",
        ["line 1: the file is not comma-separated; save it as CSV with commas"],
        id="semicolons",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at,source\nS001,2026-09-02T08:00:00,device,extra\n",
        ["line 2: 4 fields, but the header has 3 columns"],
        id="extra-field",
    ),
    pytest.param(
        "punches",
        "staff_no,punched_at\nS001,2026-09-01T08:00:00\nS001,2026-09-01T08:00:00+08:00\n",
        ["line 3: duplicate staff_no + punched_at (first on line 2)"],
        id="duplicate-key-in-file",
    ),
    pytest.param(
        "ratings",
        "rating_id,rated_at,staff_no,level,channel,reasons\n"
        "X1,2026-09-01T09:00:00,S001,6,,\nX2,2026-09-01T09:00:00,S001,2,qr,\n"
        "X3,2026-09-01T09:00:00,S001,1,,骂人\nX3,2026-09-01T09:00:00,S001,5,web,\n",
        [
            'line 2, column level: "6" is not a level 1–5',
            "line 3, column reasons: a bad review from a terminal or QR code needs a reason",
            'line 4, column reasons: "骂人" is not on the hall\'s list',
            'line 5, column channel: "web" is not one of counter, qr, other',
            "line 5: duplicate rating_id (first on line 4)",
        ],
        id="ratings-levels-reasons-channel",
    ),
    pytest.param(
        "roster",
        "staff_no,name,window_code,start_date,end_date\n"
        "S100,新人,W99,2026-09-01,\nS101,新人二,W01,2026-09-31,\nS102,新人三,W01,2026-09-10,2026-09-01\n",
        [
            'line 2, column window_code: unknown window "W99"',
            'line 3, column start_date: "2026-09-31" is not a date YYYY-MM-DD',
            "line 4, column end_date: 2026-09-01 is before start_date 2026-09-10",
        ],
        id="roster-window-and-dates",
    ),
    pytest.param(
        "events",
        "event_id,staff_no,at,kind,points,veto\nE9,S001,2026-09-01T09:00:00,praise,x,maybe\n",
        [
            'line 2, column kind: "praise" is not one of spot_check, complaint, commendation',
            'line 2, column points: "x" is not a number',
            'line 2, column veto: "maybe" is not true or false',
        ],
        id="events-kind-points-veto",
    ),
    pytest.param(
        "cases",
        "case_no,staff_no,accepted_at,due_at,completed_at,weight\n"
        "C1,S001,2026-09-02T09:00:00,2026-09-01T09:00:00,,0\n",
        [
            "line 2, column due_at: is before accepted_at",
            "line 2, column weight: 0 is not a positive weight",
        ],
        id="cases-times-weight",
    ),
    pytest.param(
        "absences",
        "staff_no,kind,start,end\nS001,holiday,2026-09-01T09:00:00,2026-09-01T08:00:00\n",
        [
            'line 2, column kind: "holiday" is not one of leave, out',
            "line 2, column end: is before start",
        ],
        id="absences-kind-and-order",
    ),
]


@pytest.mark.parametrize(("kind", "text", "messages"), BAD_FILES)
def test_bad_file_is_refused_whole(
    app: Flask,
    runner: FlaskCliRunner,
    example_hall: Path,
    tmp_path: Path,
    kind: str,
    text: str,
    messages: list[str],
) -> None:
    before = _counts(app)
    result = runner.invoke(args=["import", kind, str(_write(tmp_path, f"{kind}.csv", text))])
    assert result.exit_code == 1
    assert "nothing was changed" in result.output
    for message in messages:
        assert message in result.output
    assert _counts(app) == before


def test_a_file_is_written_in_batches_all_or_nothing(
    app: Flask,
    runner: FlaskCliRunner,
    example_hall: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches of 3 rows: rows are written while the file is read, yet a bad row near the
    # end leaves nothing stored, a key repeated batches later is refused with both
    # lines, and a re-import updates exactly the changed row.
    monkeypatch.setattr(store, "WRITE_ROWS", 3)
    header = "rating_id,rated_at,staff_no,level,channel\n"
    rows = [f"N{n:03d},2026-11-0{2 + n % 5}T10:{n:02d}:00,S001,5,counter\n" for n in range(20)]
    punches = ["staff_no,punched_at\n"] + [f"S002,2026-11-02T08:{n:02d}:00\n" for n in range(20)]
    before = _counts(app)
    for kind, text, message in (
        (
            "ratings",
            header + "".join(rows) + "N999,2026-11-03T10:00:00,S001,9,counter\n",
            'line 22, column level: "9" is not a level 1–5',
        ),
        (
            "ratings",
            header + "".join(rows) + rows[1],
            "line 22: duplicate rating_id (first on line 3)",
        ),
        (
            "punches",
            "".join(punches) + "S002,not-a-time\n",
            'line 22, column punched_at: "not-a-time"',
        ),
        (
            "punches",
            "".join(punches) + punches[2],
            "line 22: duplicate staff_no + punched_at (first on line 3)",
        ),
    ):
        result = runner.invoke(args=["import", kind, str(_write(tmp_path, f"{kind}.csv", text))])
        assert result.exit_code == 1 and message in result.output, result.output
        assert _counts(app) == before
    result = runner.invoke(
        args=["import", "ratings", str(_write(tmp_path, "r.csv", header + "".join(rows)))]
    )
    assert "20 rows, 20 new, 0 updated, 0 unchanged" in result.output, result.output
    rows[14] = rows[14].replace(",5,", ",4,")
    result = runner.invoke(
        args=["import", "ratings", str(_write(tmp_path, "r.csv", header + "".join(rows)))]
    )
    assert "20 rows, 0 new, 1 updated, 19 unchanged" in result.output, result.output
    result = runner.invoke(
        args=["import", "punches", str(_write(tmp_path, "p.csv", "".join(punches)))]
    )
    assert "20 rows, 20 new, 0 updated, 0 unchanged" in result.output, result.output
    again = runner.invoke(
        args=[
            "import",
            "punches",
            str(_write(tmp_path, "p.csv", "".join(punches + ["S002,2026-11-02T09:00:00\n"]))),
        ]
    )
    assert "21 rows, 1 new, 0 updated, 20 unchanged" in again.output, again.output
    with app.app_context():
        assert db.session.scalar(select(Rating.level).where(Rating.rating_id == "N014")) == 4


def test_wrong_encoding_is_named(
    app: Flask, runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    path = _write(tmp_path, "gbk.csv", "staff_no,punched_at\nS001,2026-09-01T08:00:00 张\n", "gbk")
    result = runner.invoke(args=["import", "punches", str(path)])
    assert result.exit_code == 1
    assert "line 2: the file is not UTF-8" in result.output


def test_bom_is_accepted(
    app: Flask, runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    path = _write(tmp_path, "bom.csv", "\ufeffstaff_no,punched_at\nS001,2026-11-02T08:20:00\n")
    result = runner.invoke(args=["import", "punches", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output


def test_bad_hall_file_lists_every_problem(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "hall.toml",
        """
[hall]
code = "QJ"
name = "测试"
timezone = "Mars/Olympus"
[[schedule]]
from = "13-01"
to = "04-30"
am = ["08:30", "12:00"]
pm = ["14:00", "13:30"]
[attendance]
closed_days = ["2026-02-30"]
[[unit]]
code = "A"
name = "甲"
[[window]]
code = "W1"
name = "一"
unit = "B"
""",
    )
    result = runner.invoke(args=["import", "hall", str(path)])
    assert result.exit_code == 1
    for message in (
        'timezone: "Mars/Olympus"',
        'from: "13-01"',
        "pm: start 14:00 is not before",
        '"2026-02-30" is not a date',
        'unit "B" is not a [[unit]]',
    ):
        assert message in result.output


def test_unknown_hall_and_missing_file(
    runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        args=["import", "punches", str(example_hall / "punches.csv"), "--hall", "XX"]
    )
    assert result.exit_code == 1
    assert 'unknown hall "XX" (known halls: QJ)' in result.output
    result = runner.invoke(args=["import", "punches", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_two_halls_in_one_database(
    runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    second = (
        (example_hall / "hall.toml")
        .read_text(encoding="utf-8")
        .replace('code = "QJ"', 'code = "XT"')
        .replace("潜江市", "仙桃市")
    )
    path = _write(tmp_path, "xt.toml", second)
    assert runner.invoke(args=["import", "hall", str(path)]).exit_code == 0
    result = runner.invoke(args=["import", "roster", str(example_hall / "roster.csv")])
    assert result.exit_code == 1
    assert "several halls in this database (QJ, XT)" in result.output
    result = runner.invoke(
        args=["import", "roster", str(example_hall / "roster.csv"), "--hall", "XT"]
    )
    assert result.exit_code == 0, result.output
    export_qj = runner.invoke(args=["export", "roster", "--hall", "QJ"]).stdout
    export_xt = runner.invoke(args=["export", "roster", "--hall", "XT"]).stdout
    assert export_qj == export_xt
