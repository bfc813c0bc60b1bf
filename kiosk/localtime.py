"""Conversions between the hall's local time and the naive-UTC storage convention."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo


@functools.cache
def hall_zone(name: str) -> zoneinfo.ZoneInfo:
    """The hall's time zone, cached (ZoneInfo construction reads tzdata)."""
    return zoneinfo.ZoneInfo(name)


def to_storage(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An aware instant, or a naive hall-local time, as naive UTC for the database."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def to_local(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A stored naive-UTC instant as naive hall-local time."""
    return value.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)


def to_aware(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A stored naive-UTC instant as an aware hall-local time (for ISO output with an offset)."""
    return value.replace(tzinfo=dt.UTC).astimezone(zone)


def local_day_bounds(
    first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo
) -> tuple[dt.datetime, dt.datetime]:
    """Naive-UTC ``[start, end)`` covering the local dates ``first`` to ``last`` inclusive."""
    start = dt.datetime.combine(first, dt.time()).replace(tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time()).replace(tzinfo=zone)
    return (
        start.astimezone(dt.UTC).replace(tzinfo=None),
        end.astimezone(dt.UTC).replace(tzinfo=None),
    )
