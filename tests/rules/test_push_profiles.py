"""Table tests of the push's record profiles (SPEC 11): ``national`` field by field, and a
second profile through the same interface."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from dataclasses import replace

import pytest

from kiosk.rules.push_profiles import NATIONAL_CHANNELS, PROFILES, RatingFacts, national
from tests.push.zhejiang_profile import record as zhejiang

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
FACTS = RatingFacts(
    rating_id="QJ-20261105-0001",
    area_code="429005",
    unit_code="SCJG",
    unit_org_code="11429005MB1234567K",
    unit_name="市场监督管理局",
    window_code="W01",
    staff_no="S001",
    staff_name="张敏",
    matter="设立登记",
    case_no="QJ202600001",
    channel="counter",
    level=5,
    reasons=(),
    comment=None,
    rated_at=dt.datetime(2026, 11, 5, 9, 30, 15, 123456, tzinfo=SHANGHAI),
)


def test_the_national_record_has_exactly_the_spec_fields() -> None:
    assert national(FACTS) == {
        "id": "QJ-20261105-0001",
        "areaCode": "429005",
        "deptCode": "11429005MB1234567K",
        "deptName": "市场监督管理局",
        "windowCode": "W01",
        "proManagerNo": "S001",
        "proManager": "张敏",
        "taskCode": "设立登记",
        "projectNo": "QJ202600001",
        "channel": "4",
        "apprate": 5,
        "reasons": None,
        "comment": None,
        "assessTime": "2026-11-05T09:30:15+08:00",
        "isDefault": False,
    }
    json.dumps(national(FACTS))  # a JSON value as it stands


@pytest.mark.parametrize(
    "channel, code, is_default",
    [("counter", "4", False), ("qr", "3", False), ("other", "5", False), ("default", "5", True)],
)
def test_channel_codes_of_gb_t_39046(channel: str, code: str, is_default: bool) -> None:
    record = national(replace(FACTS, channel=channel))
    assert (record["channel"], record["isDefault"]) == (code, is_default)


def test_every_channel_of_the_service_has_a_code() -> None:
    from kiosk.rules.codes import Channel, values

    assert set(NATIONAL_CHANNELS) == set(values(Channel))


@pytest.mark.parametrize(
    "change, field, value",
    [
        ({"unit_org_code": None}, "deptCode", "SCJG"),  # no org_code: the unit's code
        ({"case_no": None}, "taskCode", None),  # no case: no matter either
        ({"case_no": None}, "projectNo", None),
        ({"matter": None}, "taskCode", None),  # a case without a matter
        ({"reasons": ("态度不好", "效率低")}, "reasons", ["态度不好", "效率低"]),
        ({"comment": ""}, "comment", None),
        ({"comment": "很好"}, "comment", "很好"),
        ({"level": 1}, "apprate", 1),
        ({"area_code": None}, "areaCode", None),
        (
            {"rated_at": dt.datetime(2026, 11, 5, 1, 0, tzinfo=dt.UTC)},
            "assessTime",
            "2026-11-05T01:00:00+00:00",
        ),
    ],
)
def test_national_field_by_field(change: dict, field: str, value: object) -> None:
    assert national(replace(FACTS, **change))[field] == value


def test_national_is_the_profile_of_that_name() -> None:
    assert PROFILES["national"] is national


@pytest.mark.parametrize("level, satisfaction", [(5, "1"), (4, "2"), (3, "3"), (2, "4"), (1, "5")])
def test_a_second_profile_through_the_same_interface(level: int, satisfaction: str) -> None:
    record = zhejiang(replace(FACTS, level=level))
    assert record["satisfaction"] == satisfaction
    assert record["evalId"] == FACTS.rating_id and "apprate" not in record
