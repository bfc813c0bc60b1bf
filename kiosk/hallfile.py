"""Reading and checking ``hall.toml`` (SPEC section 2) into plain data.

The result is what the database keeps: the hall's identity, its units and windows,
and ``settings`` (schedules, attendance options, rating reasons) as JSON.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REASONS = ["态度不好", "效率低", "业务不熟", "推诿扯皮", "解释不清", "其他"]
DEFAULT_GRACE_MINUTES = 5
DEFAULT_DEBOUNCE_SECONDS = 60
MAX_NUMBER_PREFIX = 20

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_HOUR_MINUTE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class HallFileError(ValueError):
    """The hall file is not valid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class HallFile:
    """A checked hall file."""

    code: str
    name: str
    timezone: str
    settings: dict[str, Any]
    units: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    # (code, name, unit_code, handles_cases)
    windows: list[tuple[str, str, str, bool]] = field(default_factory=list)


def _check_month_day(value: Any, where: str, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not _MONTH_DAY.match(value):
        problems.append(f'{where}: "{value}" is not a month-day such as "10-01"')
        return None
    month, day = (int(x) for x in value.split("-"))
    try:
        dt.date(2000, month, day)  # a leap year, so 02-29 is accepted
    except ValueError:
        problems.append(f'{where}: "{value}" is not a day of the year')
        return None
    return value


def _check_span(value: Any, where: str, problems: list[str]) -> list[str] | None:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, str) and _HOUR_MINUTE.match(v) for v in value)
    ):
        problems.append(f'{where}: expected two times ["HH:MM", "HH:MM"], got {value!r}')
        return None
    if value[0] >= value[1]:
        problems.append(f"{where}: start {value[0]} is not before end {value[1]}")
        return None
    return list(value)


def _check_dates(value: Any, where: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list):
        problems.append(f'{where}: expected a list of dates "YYYY-MM-DD"')
        return []
    days: list[str] = []
    for item in value:
        text = item.isoformat() if isinstance(item, dt.date) else str(item)
        try:
            days.append(dt.date.fromisoformat(text).isoformat())
        except ValueError:
            problems.append(f'{where}: "{item}" is not a date "YYYY-MM-DD"')
    return sorted(set(days))


def parse_hall_file(data: bytes) -> HallFile:
    """Parse and check a hall file; raise :class:`HallFileError` listing every problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HallFileError([f"the file is not UTF-8 (byte {exc.start})"]) from exc
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HallFileError([f"not valid TOML: {exc}"]) from exc

    problems: list[str] = []
    hall = doc.get("hall")
    if not isinstance(hall, dict):
        raise HallFileError(["[hall] table is missing"])
    code = hall.get("code")
    name = hall.get("name")
    timezone = hall.get("timezone", "Asia/Shanghai")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code):
        problems.append("[hall] code: expected 1–32 letters, digits, '-' or '_'")
    if not isinstance(name, str) or not name.strip():
        problems.append("[hall] name: missing")
    try:
        zoneinfo.ZoneInfo(str(timezone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f'[hall] timezone: "{timezone}" is not a known time zone')

    schedules: list[dict[str, Any]] = []
    raw_schedules = doc.get("schedule", [])
    if not isinstance(raw_schedules, list) or not raw_schedules:
        problems.append("[[schedule]]: at least one schedule is needed")
        raw_schedules = []
    for index, sched in enumerate(raw_schedules, start=1):
        where = f"[[schedule]] #{index}"
        start = _check_month_day(sched.get("from"), f"{where} from", problems)
        end = _check_month_day(sched.get("to"), f"{where} to", problems)
        am = _check_span(sched.get("am"), f"{where} am", problems)
        pm = _check_span(sched.get("pm"), f"{where} pm", problems)
        if am and pm and am[1] > pm[0]:
            problems.append(f"{where}: the morning ends after the afternoon starts")
        schedules.append(
            {
                "name": str(sched.get("name", f"schedule{index}")),
                "from": start,
                "to": end,
                "am": am,
                "pm": pm,
            }
        )

    attendance = doc.get("attendance", {})
    grace = attendance.get("grace_minutes", DEFAULT_GRACE_MINUTES)
    debounce = attendance.get("debounce_seconds", DEFAULT_DEBOUNCE_SECONDS)
    if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= 120:
        problems.append("[attendance] grace_minutes: expected a whole number 0–120")
    if not isinstance(debounce, int) or isinstance(debounce, bool) or not 0 <= debounce <= 3600:
        problems.append("[attendance] debounce_seconds: expected a whole number 0–3600")
    closed = _check_dates(attendance.get("closed_days", []), "[attendance] closed_days", problems)
    extra = _check_dates(
        attendance.get("extra_workdays", []), "[attendance] extra_workdays", problems
    )
    for day in sorted(set(closed) & set(extra)):
        problems.append(f"[attendance]: {day} is both a closed day and an extra workday")

    reasons = doc.get("ratings", {}).get("reasons", DEFAULT_REASONS)
    if (
        not isinstance(reasons, list)
        or not reasons
        or not all(isinstance(r, str) and r.strip() and "|" not in r for r in reasons)
    ):
        problems.append("[ratings] reasons: expected a non-empty list of texts without '|'")
        reasons = DEFAULT_REASONS

    notice = doc.get("notice", {})
    prefix = notice.get("number_prefix", "") if isinstance(notice, dict) else None
    if (
        not isinstance(prefix, str)
        or len(prefix.strip()) > MAX_NUMBER_PREFIX
        or any(ch in prefix for ch in "〔〕[]()（）\r\n\t")
    ):
        problems.append(
            f"[notice] number_prefix: expected a text of at most {MAX_NUMBER_PREFIX} characters"
            ' such as "潜政服通", without brackets (the year and serial are added)'
        )
        prefix = ""

    units: list[tuple[str, str]] = []
    seen_units: set[str] = set()
    for index, unit in enumerate(doc.get("unit", []), start=1):
        ucode, uname = unit.get("code"), unit.get("name")
        if not isinstance(ucode, str) or not ucode or not isinstance(uname, str) or not uname:
            problems.append(f"[[unit]] #{index}: code and name are required")
            continue
        if ucode in seen_units:
            problems.append(f'[[unit]] #{index}: code "{ucode}" appears twice')
        seen_units.add(ucode)
        units.append((ucode, uname))

    windows: list[tuple[str, str, str, bool]] = []
    seen_windows: set[str] = set()
    for index, window in enumerate(doc.get("window", []), start=1):
        wcode, wname, wunit = window.get("code"), window.get("name"), window.get("unit")
        handles = window.get("handles_cases", True)
        where = f"[[window]] #{index}"
        if not isinstance(wcode, str) or not wcode or not isinstance(wname, str) or not wname:
            problems.append(f"{where}: code and name are required")
            continue
        if wcode in seen_windows:
            problems.append(f'{where}: code "{wcode}" appears twice')
        seen_windows.add(wcode)
        if wunit not in seen_units:
            problems.append(f'{where} ({wcode}): unit "{wunit}" is not a [[unit]] of this file')
        if not isinstance(handles, bool):
            problems.append(f"{where} ({wcode}): handles_cases must be true or false")
            handles = True
        windows.append((wcode, wname, str(wunit), handles))

    if problems:
        raise HallFileError(problems)
    settings = {
        "schedules": schedules,
        "grace_minutes": grace,
        "debounce_seconds": debounce,
        "closed_days": closed,
        "extra_workdays": extra,
        "rating_reasons": list(reasons),
    }
    if prefix.strip():
        # 发文字号 prefix of the 通报: X政服通 gives X政服通〔2026〕5号.
        settings["notice"] = {"number_prefix": prefix.strip()}
    return HallFile(str(code), str(name), str(timezone), settings, units, windows)
