"""The single reader of hall settings: one fallback rule for every key (SPEC 2)."""

from __future__ import annotations

from datetime import date, time

import pytest

from kiosk.rules.settings import (
    DEFAULT_REASONS,
    hall_settings,
    rating_reasons,
    setting,
)

SCHEDULE = {
    "name": "s",
    "from": "01-01",
    "to": "12-31",
    "am": ["09:00", "12:00"],
    "pm": ["13:00", "17:00"],
}


@pytest.mark.parametrize(
    ("settings", "key", "expected"),
    [
        (None, "grace_minutes", "d"),
        ({}, "grace_minutes", "d"),
        ({"grace_minutes": 7}, "grace_minutes", 7),
        ({"grace_minutes": None, "attendance": {"grace_minutes": 8}}, "grace_minutes", 8),
        ({"attendance": {"grace_minutes": 8}}, "grace_minutes", 8),
        ({"grace_minutes": 0, "attendance": {"grace_minutes": 8}}, "grace_minutes", 0),
        ({"attendance": "not a table"}, "grace_minutes", "d"),
        ({"ratings": {"reasons": ["慢"]}}, "rating_reasons", ["慢"]),
        ({"schedule": ["toml"]}, "schedules", ["toml"]),
        ({"schedules": ["json"], "schedule": ["toml"]}, "schedules", ["json"]),
        ({"notice": {"number_prefix": "X"}}, "notice", {"number_prefix": "X"}),
    ],
)
def test_one_fallback_rule(settings, key, expected) -> None:
    assert setting(settings, key, "d") == expected


def test_defaults_of_an_empty_hall() -> None:
    read = hall_settings({})
    assert (read.grace_minutes, read.debounce_seconds) == (5.0, 60.0)
    assert read.rating_reasons == DEFAULT_REASONS
    assert read.notice_number_prefix == ""
    assert read.calendar.schedules == ()
    assert hall_settings(None) == read


def test_stored_json_and_raw_toml_read_alike() -> None:
    stored = {
        "schedules": [SCHEDULE],
        "grace_minutes": 3,
        "debounce_seconds": 30,
        "closed_days": ["2026-10-16"],
        "extra_workdays": ["2026-09-12"],
        "rating_reasons": ["慢", "凶"],
        "notice": {"number_prefix": "潜政服通"},
    }
    toml = {
        "schedule": [SCHEDULE],
        "attendance": {
            "grace_minutes": 3,
            "debounce_seconds": 30,
            "closed_days": ["2026-10-16"],
            "extra_workdays": ["2026-09-12"],
        },
        "ratings": {"reasons": ["慢", "凶"]},
        "notice": {"number_prefix": "潜政服通"},
    }
    read = hall_settings(stored)
    assert hall_settings(toml) == read
    assert read.grace_minutes == 3.0 and read.debounce_seconds == 30.0
    assert read.calendar.schedules[0].am == (time(9), time(12))
    assert read.calendar.closed_days == {date(2026, 10, 16)}
    assert read.calendar.extra_workdays == {date(2026, 9, 12)}
    assert read.rating_reasons == ("慢", "凶")
    assert read.notice_number_prefix == "潜政服通"


def test_empty_reasons_mean_the_default_ones() -> None:
    assert rating_reasons({"rating_reasons": []}) == DEFAULT_REASONS
    assert rating_reasons(None) == DEFAULT_REASONS


def test_settings_are_frozen() -> None:
    read = hall_settings({})
    with pytest.raises(AttributeError):
        read.grace_minutes = 1  # type: ignore[misc]
