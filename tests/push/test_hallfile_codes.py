"""hall.toml's codes for the provincial push (SPEC 2, 11): ``[hall] area_code`` and each
unit's ``org_code``, checked, stored, exported and imported back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.interchange.hallfile import HallFileError, parse_hall_file
from kiosk.models import Hall, Unit
from tests.conftest import EXAMPLE_DIR
from tests.push.conftest import AREA_CODE, SCJG_ORG_CODE, hall_toml_with_codes


def test_the_codes_are_read_and_stored(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    parsed = parse_hall_file(hall_toml_with_codes().encode())
    assert parsed.area_code == AREA_CODE and parsed.org_codes == {"SCJG": SCJG_ORG_CODE}
    path = tmp_path / "hall.toml"
    path.write_text(hall_toml_with_codes())
    assert runner.invoke(args=["import", "hall", str(path)]).exit_code == 0
    with app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        assert hall.area_code == AREA_CODE
        units = {u.code: u.org_code for u in db.session.scalars(select(Unit))}
        assert units == {"SCJG": SCJG_ORG_CODE, "ZWB": None}


def test_both_are_optional() -> None:
    parsed = parse_hall_file((EXAMPLE_DIR / "hall.toml").read_bytes())
    assert parsed.area_code is None and parsed.org_codes == {}


@pytest.mark.parametrize(
    "old, new, problem",
    [
        (
            f'area_code = "{AREA_CODE}"',
            'area_code = "42900"',
            "[hall] area_code: expected six digits",
        ),
        (f'area_code = "{AREA_CODE}"', "area_code = 429005", "[hall] area_code: expected a text"),
        (
            f'area_code = "{AREA_CODE}"',
            'area_code = "999999"',
            '[hall] area_code: "99" is not a province-level code',
        ),
        (
            f'org_code = "{SCJG_ORG_CODE}"',
            'org_code = "11429005MB1234567X"',
            "[[unit]] #1 org_code: the check character is wrong: a code starting "
            '"11429005MB1234567" ends in "K"',
        ),
        (
            f'org_code = "{SCJG_ORG_CODE}"',
            'org_code = "1142"',
            "[[unit]] #1 org_code: expected 18 characters",
        ),
        (
            f'org_code = "{SCJG_ORG_CODE}"',
            'org_code = "11429005mb1234567k"',
            "[[unit]] #1 org_code: expected digits and capital letters",
        ),
    ],
)
def test_a_bad_code_is_named_and_nothing_is_imported(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, old: str, new: str, problem: str
) -> None:
    text = hall_toml_with_codes()
    assert old in text
    with pytest.raises(HallFileError) as caught:
        parse_hall_file(text.replace(old, new).encode())
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    path = tmp_path / "hall.toml"
    path.write_text(text.replace(old, new))
    result = runner.invoke(args=["import", "hall", str(path)])
    assert result.exit_code == 1 and problem in result.output
    with app.app_context():
        assert db.session.scalars(select(Hall)).all() == []


def test_export_hall_imports_back_unchanged(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    original = tmp_path / "hall.toml"
    original.write_text(
        hall_toml_with_codes().replace(
            "[attendance]", '[notice]\nnumber_prefix = "潜政服通"\n\n[attendance]'
        )
    )
    assert runner.invoke(args=["import", "hall", str(original)]).exit_code == 0
    exported = runner.invoke(args=["export", "hall"])
    assert exported.exit_code == 0, exported.output
    assert f'area_code = "{AREA_CODE}"' in exported.output
    assert f'org_code = "{SCJG_ORG_CODE}"' in exported.output
    assert parse_hall_file(exported.output.encode()) == parse_hall_file(original.read_bytes())
    again = tmp_path / "again.toml"
    again.write_text(exported.output)
    result = runner.invoke(args=["import", "hall", str(again)])
    assert result.exit_code == 0 and "0 new, 0 updated, 7 unchanged" in result.output


def test_removing_a_code_from_the_file_removes_it(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "hall.toml"
    path.write_text(hall_toml_with_codes())
    assert runner.invoke(args=["import", "hall", str(path)]).exit_code == 0
    assert runner.invoke(args=["import", "hall", str(EXAMPLE_DIR / "hall.toml")]).exit_code == 0
    with app.app_context():
        assert db.session.scalars(select(Hall.area_code)).one() is None
        assert set(db.session.scalars(select(Unit.org_code))) == {None}
