"""How the service says things to people: periods as people name them, device faults
in plain words. Pure functions (no Flask, no database), shared by every page.

A period's code (``2026-B5``) stays in URLs, files and the CLI; pages print
``2026年第5期（9—10月）`` (``2026 period 5 (Sep–Oct)`` in English).
"""

from __future__ import annotations

import errno
import re

from kiosk.rules.calendar import Period

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_label(code: str, language: str = "zh") -> str:
    """``2026-B5`` as people say it: ``2026年第5期（9—10月）``, or in English
    ``2026 period 5 (Sep–Oct)``; a text that is not a period code is returned as it is
    (so a page never fails on an odd value)."""
    try:
        period = Period.parse(code)
    except (ValueError, AttributeError):
        return code
    year, index = period.first_day.year, int(period.code.rsplit("B", 1)[1])
    first, last = period.first_day.month, period.last_day.month
    if language.startswith("en"):
        return f"{year} period {index} ({_MONTHS_EN[first - 1]}–{_MONTHS_EN[last - 1]})"
    return f"{year}年第{index}期（{first}—{last}月）"


# What went wrong with a reader, in the words a duty officer understands. The stored
# error keeps the technical text (for the log and an admin's tooltip); pages show the kind.
DEVICE_FAULTS = (
    "not_connected",
    "no_response",
    "checksum",
    "protocol",
    "busy",
    "stopped",
    "unknown",
)

_ERRNO_NOT_CONNECTED = {
    errno.ENOENT,
    errno.ENODEV,
    errno.ENXIO,
    errno.EIO,
    errno.EACCES,
    errno.EBADF,
    errno.EPIPE,
}
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("stopped", re.compile(r"listener stopped", re.I)),
    ("checksum", re.compile(r"checksum|crc|校验", re.I)),
    ("no_response", re.compile(r"timed? ?out|timeout|no (answer|response|reply)|silent", re.I)),
    (
        "not_connected",
        re.compile(
            r"no such file|no such device|device not configured|not connected|could not open"
            r"|disconnected|unplugged|permission denied|input/output error|broken pipe"
            r"|returned no data|port not open|read failed|write failed|another device or nowhere"
            r"|\bEIO\b|\bENXIO\b|\bENOENT\b",
            re.I,
        ),
    ),
    ("busy", re.compile(r"resource busy|device or resource busy|in use", re.I)),
    ("protocol", re.compile(r"frame|protocol|header|unexpected|malformed|invalid", re.I)),
)
_ERRNO = re.compile(r"\[Errno (\d+)\]")


def device_fault(error: str | None) -> str | None:
    """The kind of a reader's stored error (one of :data:`DEVICE_FAULTS`); None for none."""
    if error is None or not error.strip():
        return None
    match = _ERRNO.search(error)
    if match is not None:
        number = int(match.group(1))
        if number in _ERRNO_NOT_CONNECTED:
            return "not_connected"
        if number == errno.EBUSY:
            return "busy"
        if number in {errno.ETIMEDOUT, errno.EAGAIN}:
            return "no_response"
    for kind, pattern in _PATTERNS:
        if pattern.search(error):
            return kind
    return "unknown"


# Schedule names hall files commonly use, as the office says them.
_SCHEDULES = {
    "winter": ("冬季作息", "Winter hours"),
    "summer": ("夏季作息", "Summer hours"),
    "spring": ("春季作息", "Spring hours"),
    "autumn": ("秋季作息", "Autumn hours"),
    "fall": ("秋季作息", "Autumn hours"),
    "default": ("默认作息", "Default hours"),
    "standard": ("标准作息", "Standard hours"),
}


def schedule_label(name: str, language: str = "zh") -> str:
    """A schedule's name for a page: ``winter`` as ``冬季作息``; a name the hall gave in
    Chinese (or any other) is shown as it is, with ``作息`` added when it lacks it."""
    key = name.strip().lower()
    if key in _SCHEDULES:
        chinese, english = _SCHEDULES[key]
        return english if language.startswith("en") else chinese
    if language.startswith("en") or not name.strip() or name.strip().endswith(("作息", "时间")):
        return name.strip()
    return f"{name.strip()}作息"
