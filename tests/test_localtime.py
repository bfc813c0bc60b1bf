"""Hall-local time to naive UTC (kiosk.localtime.to_storage): the offset looked up once per
local hour must give exactly what the zone's own arithmetic gives, transitions included."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from kiosk.localtime import _steady_offset, to_storage


def _by_the_zone(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("zone_name", "year"),
    [
        ("Asia/Shanghai", 2026),
        ("Asia/Shanghai", 1986),  # China's daylight saving, 1986-1991
        ("Europe/Berlin", 2026),
        ("America/New_York", 2026),
        ("Australia/Lord_Howe", 2026),  # a 30-minute daylight saving shift
        ("Europe/Amsterdam", 1937),  # +01:19:32 to +01:20 just after midnight: inside an hour
        ("Asia/Kolkata", 1906),
    ],
)
def test_to_storage_is_the_zones_own_arithmetic(zone_name: str, year: int) -> None:
    zone = zoneinfo.ZoneInfo(zone_name)
    value = dt.datetime(year, 1, 1)
    while value.year == year:
        for instant in (value, value + dt.timedelta(seconds=59, microseconds=999_999)):
            assert to_storage(instant, zone) == _by_the_zone(instant, zone), instant
            folded = instant.replace(fold=1)
            assert to_storage(folded, zone) == _by_the_zone(folded, zone), folded
        value += dt.timedelta(minutes=37)  # a different minute of each hour
    aware = dt.datetime(year, 6, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert to_storage(aware, zone) == dt.datetime(year, 6, 1, 0, 30)


def test_an_hour_with_a_transition_inside_has_no_steady_offset() -> None:
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    assert _steady_offset(amsterdam, dt.datetime(1937, 7, 1, 0)) is None
    assert _steady_offset(amsterdam, dt.datetime(1937, 7, 1, 1)) == dt.timedelta(
        hours=1, minutes=20
    )
