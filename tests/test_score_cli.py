"""``flask score``: the worked example imported through the real ``flask import`` commands.

The JSON must meet the example README's bar against expected.json, on whatever backend
the suite runs on (SQLite by default, PostgreSQL with KIOSK_TEST_DB=postgresql).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from kiosk.cli.score import register_cli
from tests.rules.test_example_small import assert_matches_expected

AS_OF = "2026-11-05T12:00:00+08:00"


@pytest.fixture
def score_runner(app: Flask, runner: FlaskCliRunner, example_hall: Path) -> FlaskCliRunner:
    # create_app registers `score` once kiosk.cli calls kiosk.cli.score.register_cli.
    if "score" not in app.cli.commands:
        register_cli(app)
    return runner


def _expected(example_hall: Path) -> dict[str, Any]:
    return json.loads((example_hall / "expected.json").read_text(encoding="utf-8"))


def test_score_json_matches_expected(score_runner: FlaskCliRunner, example_hall: Path) -> None:
    result = score_runner.invoke(args=["score", "2026-B5", "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code == 0, result.output
    actual = json.loads(result.output)
    assert_matches_expected(actual, _expected(example_hall))
    assert actual["rules"]["name"] == "default"


def test_score_with_hall_code_and_utc_as_of(
    score_runner: FlaskCliRunner, example_hall: Path
) -> None:
    result = score_runner.invoke(
        args=[
            "score",
            "2026-B5",
            "--hall",
            "QJ",
            "--as-of",
            "2026-11-05T04:00:00Z",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    assert_matches_expected(json.loads(result.output), _expected(example_hall))


def test_as_of_moves_the_deadline_veto(score_runner: FlaskCliRunner) -> None:
    # S007's bad review of 28 Oct is due 5 Nov 00:00: as of 4 Nov it is still pending.
    result = score_runner.invoke(
        args=["score", "2026-B5", "--as-of", "2026-11-04T12:00:00+08:00", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    people = {p["staff_no"]: p for p in json.loads(result.output)["individuals"]}
    assert people["S007"]["vetoes"] == []
    assert people["S002"]["vetoes"] == ["unrectified_bad_review"]


def test_default_table_is_chinese(score_runner: FlaskCliRunner) -> None:
    result = score_runner.invoke(args=["score", "2026-B5", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert "先进个人" in result.output and "红旗窗口" in result.output
    assert "S001" in result.output and "99.90" in result.output


def test_explain(score_runner: FlaskCliRunner) -> None:
    result = score_runner.invoke(args=["score", "2026-B5", "--as-of", AS_OF, "--explain", "S002"])
    assert result.exit_code == 0, result.output
    assert "2026-09-15 下午上班：打卡 15:10:00，迟到 40.00 分钟 −2" in result.output
    assert "整改晚于期限" in result.output
    missing = score_runner.invoke(args=["score", "2026-B5", "--as-of", AS_OF, "--explain", "S008"])
    assert missing.exit_code == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["score", "2026-B9"], 2),
        (["score", "2026-B5", "--hall", "NOPE"], 1),
        (["score", "2026-B5", "--as-of", "yesterday"], 2),
    ],
)
def test_bad_arguments(score_runner: FlaskCliRunner, args: list[str], code: int) -> None:
    assert score_runner.invoke(args=args).exit_code == code


def test_period_before_every_assignment_scores_nobody(score_runner: FlaskCliRunner) -> None:
    result = score_runner.invoke(args=["score", "2022-B1", "--as-of", AS_OF, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["individuals"], data["windows"]) == ([], [])


def test_rule_file_option(score_runner: FlaskCliRunner, tmp_path: Path) -> None:
    from kiosk.rules.ruleset import DEFAULT_RULES_PATH

    content = DEFAULT_RULES_PATH.read_bytes().replace(b'name = "default"', b'name = "hall-2027"')
    custom = tmp_path / "hall_rules.toml"
    custom.write_bytes(content.replace(b"min_ratings = 20", b"min_ratings = 10", 1))
    result = score_runner.invoke(
        args=["score", "2026-B5", "--as-of", AS_OF, "--format", "json", "--rules", str(custom)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["rules"]["name"] == "hall-2027"
    assert (
        data["rules"]["sha256"]
        != json.loads(
            score_runner.invoke(
                args=["score", "2026-B5", "--as-of", AS_OF, "--format", "json"]
            ).output
        )["rules"]["sha256"]
    )
    s007 = {p["staff_no"]: p for p in data["individuals"]}["S007"]
    assert "too_few_ratings" not in s007["ineligible_reasons"]  # 12 ratings >= 10
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"name = 'x'\n")
    result = score_runner.invoke(args=["score", "2026-B5", "--rules", str(broken)])
    assert result.exit_code == 1
    assert "rule file" in result.output
