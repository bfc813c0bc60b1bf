"""hall.toml's ``[ratings]`` days of the bad-review loop (SPEC 2, 4.2, 11): checked on
import, kept in ``Hall.settings``, read by the rules and written back by the exporter."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from kiosk.extensions import db
from kiosk.interchange.hallfile import HallFileError, hall_file_text, parse_hall_file
from kiosk.rules.settings import hall_settings
from kiosk.services.halls import resolve_hall
from tests.conftest import EXAMPLE_DIR

EXAMPLE = (EXAMPLE_DIR / "hall.toml").read_text(encoding="utf-8")
RATINGS = """
[ratings]
reasons = ["态度不好", "效率低"]
default_after_days = 7
callback_workdays = 2
appeal_workdays = 3
"""


def with_ratings(table: str) -> bytes:
    head, _, tail = EXAMPLE.partition("[[unit]]")
    return (head + table + "\n[[unit]]" + tail).encode()


def test_the_days_are_read_and_kept() -> None:
    parsed = parse_hall_file(with_ratings(RATINGS))
    assert {k: parsed.settings[k] for k in ("default_after_days", "callback_workdays")} == {
        "default_after_days": 7,
        "callback_workdays": 2,
    }
    read = hall_settings(parsed.settings)
    assert (read.callback_workdays, read.appeal_workdays, read.default_after_days) == (2, 3, 7)


def test_a_file_without_them_keeps_its_settings_and_the_defaults_hold() -> None:
    parsed = parse_hall_file(EXAMPLE.encode())
    assert not {"default_after_days", "callback_workdays", "appeal_workdays"} & set(parsed.settings)
    read = hall_settings(parsed.settings)
    assert (read.callback_workdays, read.appeal_workdays, read.default_after_days) == (1, 5, 0)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("default_after_days = -1", "[ratings] default_after_days: expected a whole number 0–366"),
        ("default_after_days = 400", "[ratings] default_after_days: expected a whole number 0–366"),
        ("callback_workdays = 0", "[ratings] callback_workdays: expected a whole number 1–30"),
        ("callback_workdays = true", "[ratings] callback_workdays: expected a whole number 1–30"),
        ("appeal_workdays = 2.5", "[ratings] appeal_workdays: expected a whole number 1–30"),
        ('appeal_workdays = "5"', "[ratings] appeal_workdays: expected a whole number 1–30"),
    ],
)
def test_bad_days_are_named(line: str, problem: str) -> None:
    with pytest.raises(HallFileError) as error:
        parse_hall_file(with_ratings(f"[ratings]\n{line}\n"))
    assert error.value.problems == [problem]


@pytest.mark.parametrize("table", ["", RATINGS, "[ratings]\ndefault_after_days = 0\n"])
def test_round_trip_through_the_database(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, table: str
) -> None:
    source = tmp_path / "hall.toml"
    source.write_bytes(with_ratings(table))
    result = runner.invoke(args=["import", "hall", str(source)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        hall = resolve_hall(db.session, None)
        written = hall_file_text(hall)
        settings = dict(hall.settings)
    again = parse_hall_file(written.encode())
    assert again.settings == settings
    assert (again.code, again.name, again.timezone) == ("QJ", "潜江市行政服务中心", "Asia/Shanghai")
    assert again.units == parse_hall_file(source.read_bytes()).units
    assert again.windows == parse_hall_file(source.read_bytes()).windows
    # What was written imports back unchanged.
    copy = tmp_path / "again.toml"
    copy.write_text(written, encoding="utf-8")
    result = runner.invoke(args=["import", "hall", str(copy)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert resolve_hall(db.session, None).settings == settings
    if table == RATINGS:
        assert "callback_workdays = 2" in written and "appeal_workdays = 3" in written


def test_texts_with_quotes_and_backslashes_survive(app: Flask, runner: FlaskCliRunner) -> None:
    tricky = EXAMPLE.replace('name = "市场监督管理局"', 'name = "市场\\"监管\\\\局"')
    parsed = parse_hall_file(tricky.encode())
    with app.app_context():
        from kiosk.interchange.kinds import import_hall

        hall, _report = import_hall(db.session, tricky.encode())
        db.session.flush()
        db.session.refresh(hall)
        assert parse_hall_file(hall_file_text(hall).encode()).units == parsed.units
        db.session.rollback()
