"""SPEC 5.1 and 4.2 through the real CLI on the worked example: ``as_of`` before the
period is refused with exit 2; rating channel ``default`` imports, exports and is left
out of scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner

from kiosk.cli.score import register_cli

AS_OF = "2026-11-05T12:00:00+08:00"
HEADER = "rating_id,rated_at,staff_no,level,channel,case_no,reasons,misuse,review,rectified_at"


def _score(app: Flask, runner: FlaskCliRunner, as_of: str = AS_OF) -> Any:
    if "score" not in app.cli.commands:
        register_cli(app)
    return runner.invoke(args=["score", "2026-B5", "--as-of", as_of, "--format", "json"])


def test_as_of_before_the_period_exits_2(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    result = _score(app, runner, "2026-08-31T23:59:59+08:00")
    assert result.exit_code == 2
    assert "早于考评期 2026-B5 的第一天 2026-09-01" in result.output
    assert _score(app, runner, "2026-09-01T00:00:00+08:00").exit_code == 0


def test_mid_period_as_of_counts_closed_days_only(
    app: Flask, runner: FlaskCliRunner, example_hall: Path
) -> None:
    """As of Wednesday 2 September 13:50 only Tuesday 1 September has closed."""
    result = _score(app, runner, "2026-09-02T13:50:00+08:00")
    assert result.exit_code == 0, result.output
    people = {p["staff_no"]: p for p in json.loads(result.output)["individuals"]}
    # S007 joins on 12 October and S008 left in August: not on the roster of a closed day.
    assert sorted(people) == ["S001", "S002", "S003", "S004", "S005", "S006"]
    for person in people.values():
        assert person["attendance_detail"]["workdays"] == 1
        assert person["attendance_detail"]["absent_half_days"] == 0
        assert person["vetoes"] == []


def test_default_ratings_import_export_and_are_left_out(
    app: Flask, runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    before = {p["staff_no"]: p for p in json.loads(_score(app, runner).output)["individuals"]}
    path = tmp_path / "defaults.csv"
    path.write_text(
        HEADER
        + "\nD0001,2026-10-20T10:00:00,S001,3,default,C-D1,,,,"
        + "\nD0002,2026-10-21T10:00:00,S001,3,default,C-D2,,,,\n",
        encoding="utf-8",
    )
    imported = runner.invoke(args=["import", "ratings", str(path)])
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(
        args=["export", "ratings", "--from", "2026-10-20", "--to", "2026-10-21"]
    )
    assert "D0001,2026-10-20T10:00:00,S001,3,default,C-D1," in exported.stdout
    after = {p["staff_no"]: p for p in json.loads(_score(app, runner).output)["individuals"]}
    # Never valid, never bad: the person's ratings and everyone's S* (through C) unchanged.
    assert after == before


def test_a_default_rating_is_level_3_and_never_misuse(
    app: Flask, runner: FlaskCliRunner, example_hall: Path, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "\nD0003,2026-10-20T10:00:00,S001,1,default,,态度不好,,,"
        + "\nD0004,2026-10-20T11:00:00,S001,3,default,,,true,,\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", "ratings", str(path)])
    assert result.exit_code == 1
    assert result.output.count("a default rating is level 3 and never misuse") == 2
