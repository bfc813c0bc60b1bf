"""What the public clock screen may show: the feed's time window and the readers' health.

The clock screen stands in the hall and needs no sign-in, so its feed is limited to the
last few minutes of the current hall-local day (SPEC 9); and it warns when a reader is
not working, so a press is never silently lost (issue 11). Pure functions over plain
values: naive UTC instants (the storage convention) and a ``ZoneInfo`` for the hall.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

CONNECTED = "connected"  # the listener's word for a reader that answered its last poll


@dataclass(frozen=True)
class FeedWindow:
    """Naive-UTC ``[start, end)`` of the device events a public screen may read."""

    start: dt.datetime
    end: dt.datetime


def feed_window(now: dt.datetime, zone: zoneinfo.ZoneInfo, minutes: float) -> FeedWindow:
    """The last ``minutes`` before naive-UTC ``now``, cut at the start of the hall-local day.

    The end is the next local midnight, so an event stamped a moment ahead of this
    process's clock (another machine's listener) still shows, but never one of tomorrow.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=zone)
    next_midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    day_start = midnight.astimezone(dt.UTC).replace(tzinfo=None)
    day_end = next_midnight.astimezone(dt.UTC).replace(tzinfo=None)
    return FeedWindow(start=max(now - dt.timedelta(minutes=minutes), day_start), end=day_end)


@dataclass(frozen=True)
class ReaderHealth:
    """A reader as the clock screen judges it."""

    ok: bool
    seen_seconds: int | None  # whole seconds since the listener last heard the reader


def reader_health(
    state: str | None, last_seen: dt.datetime | None, now: dt.datetime, stale_seconds: float
) -> ReaderHealth:
    """Whether a reader can take a press now.

    It can when its listener says ``connected`` and heard from it within
    ``stale_seconds``: a listener that died (or lost its database) stops refreshing
    ``last_seen``, and its last word ``connected`` must not be trusted for ever.
    """
    seen = None if last_seen is None else max(0, int((now - last_seen).total_seconds()))
    ok = state == CONNECTED and seen is not None and seen <= stale_seconds
    return ReaderHealth(ok=ok, seen_seconds=seen)
