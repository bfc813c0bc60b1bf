"""The per-person explanation names the data behind each part (worked example)."""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.rules.explain import explain, explain_lines
from kiosk.rules.ruleset import default_rules
from kiosk.rules.scoring import ScoreResult, score_period
from tests.rules.example_loader import load_example
from tests.rules.test_example_small import AS_OF, DATA


@pytest.fixture(scope="module")
def result() -> ScoreResult:
    return score_period(load_example(DATA, "2026-B5", AS_OF), default_rules())


def test_explains_deductions_ratings_cases_and_veto(result: ScoreResult) -> None:
    text = "\n".join(explain_lines(result, "S002"))
    assert "2026-09-08 上午上班：打卡 08:05:01，迟到 5.02 分钟 −1" in text
    assert "2026-09-15 下午上班：打卡 15:10:00，迟到 40.00 分钟 −2" in text
    assert "2026-10-13 上午下班：打卡 11:54:30，早退 5.50 分钟 −1" in text
    assert "2026-10-13 11:55:20 的打卡为重复打卡" in text
    assert "2026-10-20 上午下班：时段内无打卡，记缺卡 −1" in text
    assert "R0055 不计分" in text and "R0056 不计分" in text
    assert "QJ202600041" in text  # an overdue case
    assert "巡查抽查（玩手机） -2 分（E002）" in text
    assert "R0053" in text and "2026-09-25 00:00:00" in text
    assert "不具备先进个人资格：被一票否决" in text


def test_explains_every_ineligible_reason(result: ScoreResult) -> None:
    items = explain(result, "S007")
    eligibility = [i.text for i in items if i.part == "eligibility"]
    assert len(eligibility) == 4
    assert "12 条，需至少 20 条" in eligibility[1]
    assert "在岗 11 天" in eligibility[2]
    leave_days = [i.text for i in items if "请假" in i.text]
    assert len(leave_days) == 3


def test_explains_award_and_missed_quota(result: ScoreResult) -> None:
    assert explain(result, "S001")[-1].text == "评为先进个人"
    assert "名额 1 个" in explain(result, "S003")[-1].text
    assert any("不办件" in i.text for i in explain(result, "S004"))


def test_unknown_person(result: ScoreResult) -> None:
    with pytest.raises(KeyError):
        explain(result, "S008")
    assert isinstance(result.as_of, datetime)
