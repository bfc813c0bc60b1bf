"""The clock screen's feed window and reader health: table tests of the pure rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from kiosk.rules.clockfeed import FeedWindow, ReaderHealth, feed_window, reader_health

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def utc(local: str) -> dt.datetime:
    """Naive UTC of a Shanghai-local ISO time."""
    return (
        dt.datetime.fromisoformat(local)
        .replace(tzinfo=SHANGHAI)
        .astimezone(dt.UTC)
        .replace(tzinfo=None)
    )


@pytest.mark.parametrize(
    ("now", "minutes", "start", "end"),
    [
        # Mid-morning: the last ten minutes.
        ("2026-11-26T08:40:00", 10, "2026-11-26T08:30:00", "2026-11-27T00:00:00"),
        # Just after midnight: cut at the start of the day, yesterday never shows.
        ("2026-11-26T00:05:00", 10, "2026-11-26T00:00:00", "2026-11-27T00:00:00"),
        ("2026-11-26T00:00:00", 10, "2026-11-26T00:00:00", "2026-11-27T00:00:00"),
        # Late evening: the window still ends at the coming midnight.
        ("2026-11-26T23:59:59", 10, "2026-11-26T23:49:59", "2026-11-27T00:00:00"),
        # A whole day asked for is still only today.
        ("2026-11-26T15:00:00", 100000, "2026-11-26T00:00:00", "2026-11-27T00:00:00"),
        ("2026-11-26T15:00:00", 0, "2026-11-26T15:00:00", "2026-11-27T00:00:00"),
    ],
)
def test_feed_window(now: str, minutes: float, start: str, end: str) -> None:
    assert feed_window(utc(now), SHANGHAI, minutes) == FeedWindow(utc(start), utc(end))


def test_feed_window_is_of_the_hall_local_day() -> None:
    # 2026-11-25T23:30 UTC is already 07:30 on the 26th in Shanghai.
    now = dt.datetime(2026, 11, 25, 23, 30)
    window = feed_window(now, SHANGHAI, 600)
    assert window.start == utc("2026-11-26T00:00:00") == dt.datetime(2026, 11, 25, 16, 0)


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError):
        feed_window(dt.datetime(2026, 11, 26), SHANGHAI, -1)


NOW = dt.datetime(2026, 11, 26, 1, 0, 0)


@pytest.mark.parametrize(
    ("state", "seen_ago", "ok", "seconds"),
    [
        ("connected", 0, True, 0),
        ("connected", 15, True, 15),
        ("connected", 16, False, 16),  # the listener stopped reporting: not trusted
        ("connected", None, False, None),
        ("connected", -3, True, 0),  # another machine's clock a little ahead
        ("disconnected", 1, False, 1),
        ("error", 1, False, 1),
        ("unknown", None, False, None),
        (None, None, False, None),
    ],
)
def test_reader_health(
    state: str | None, seen_ago: int | None, ok: bool, seconds: int | None
) -> None:
    seen = None if seen_ago is None else NOW - dt.timedelta(seconds=seen_ago)
    assert reader_health(state, seen, NOW, 15) == ReaderHealth(ok=ok, seen_seconds=seconds)
