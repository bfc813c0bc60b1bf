"""Conversions between the hall's local time and the naive-UTC storage convention."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo


@functools.cache
def hall_zone(name: str) -> zoneinfo.ZoneInfo:
    """The hall's time zone, cached (ZoneInfo construction reads tzdata)."""
    return zoneinfo.ZoneInfo(name)


_REST_OF_HOUR = dt.timedelta(minutes=59, seconds=59, microseconds=999_999)


@functools.lru_cache(maxsize=8192)
def _steady_offset(zone: zoneinfo.ZoneInfo, hour: dt.datetime) -> dt.timedelta | None:
    """The zone's UTC offset all through the naive local ``hour`` (fold 0), or None when
    it changes within that hour (a transition that is not on the hour)."""
    first = hour.replace(tzinfo=zone).utcoffset()
    last = (hour + _REST_OF_HOUR).replace(tzinfo=zone).utcoffset()
    return first if first == last else None


def to_storage(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """An aware instant, or a naive hall-local time, as naive UTC for the database."""
    if value.tzinfo is None:
        if not value.fold:
            # The offset looked up once per local hour: an import converts 650,000 times.
            offset = _steady_offset(zone, value.replace(minute=0, second=0, microsecond=0))
            if offset is not None:
                return value - offset
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
