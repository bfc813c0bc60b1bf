"""Reading and checking ``hall.toml`` (SPEC section 2) into plain data.

The result is what the database keeps: the hall's identity, its units and windows,
and ``settings`` (schedules, attendance options, rating reasons) as JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from kiosk.models import Hall, Unit, Window
from kiosk.rules.orgcodes import area_code_problem, org_code_problem
from kiosk.textlimits import DAY_RANGE, control_character, day_in_range, max_length, shown

DEFAULT_REASONS = ["态度不好", "效率低", "业务不熟", "推诿扯皮", "解释不清", "其他"]
DEFAULT_GRACE_MINUTES = 5
DEFAULT_DEBOUNCE_SECONDS = 60
# A rating reason is a short label on a button of the counter screen.
REASON_MAX_CHARS = 50
MAX_NUMBER_PREFIX = 20
# The [ratings] terms of the bad-review loop (SPEC 4.2, 11): key, lowest, highest.
# A term longer than a month of workdays, or default ratings after more than a year,
# is a typing error rather than a hall's practice.
LOOP_DAYS: tuple[tuple[str, int, int], ...] = (
    ("default_after_days", 0, 366),
    ("callback_workdays", 1, 30),
    ("appeal_workdays", 1, 30),
)

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
    # ``[hall] area_code`` (行政区划代码) and each unit's ``org_code`` (统一社会信用代码), for
    # the provincial push (SPEC 11); both optional.
    area_code: str | None = None
    org_codes: dict[str, str] = field(default_factory=dict)  # unit code -> org_code


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
            day = dt.date.fromisoformat(text)
        except ValueError:
            problems.append(f'{where}: "{shown(text)}" is not a date "YYYY-MM-DD"')
            continue
        if not day_in_range(day):
            problems.append(f'{where}: "{text}" is outside {DAY_RANGE}')
            continue
        days.append(day.isoformat())
    return sorted(set(days))


def _check_controls(value: Any, where: str, problems: list[str]) -> None:
    """Refuse a control character (NUL and the like) in any text of the file, keys included."""
    if isinstance(value, str):
        name = control_character(value)
        if name:
            problems.append(f"{where or 'the file'}: contains a control character ({name})")
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = _where(where, key)
            _check_controls(key, inner, problems)
            _check_controls(item, inner, problems)
    elif isinstance(value, list):
        # Arrays of tables are named as the messages below name them: [[unit]] #1.
        for index, item in enumerate(value, start=1):
            _check_controls(item, f"[[{where.strip('[]')}]] #{index}", problems)


def _where(where: str, key: str) -> str:
    """``[hall]`` for a top-level table, ``[hall] name`` for a key inside one."""
    shown_key = shown(key)
    if not where:
        return f"[{shown_key}]"
    header = where.endswith("]") or re.search(r"#\d+$", where)
    return f"{where} {shown_key}" if header else f"{where}.{shown_key}"


def _check_length(value: str, column: Any, where: str, problems: list[str]) -> bool:
    """Report (and return True for) a text longer than its column in the schema."""
    limit = max_length(column)
    if len(value) > limit:
        problems.append(f"{where}: is longer than {limit} characters")
        return True
    return False


def _table(doc: dict[str, Any], key: str, problems: list[str]) -> dict[str, Any]:
    """A top-level ``[key]`` table (empty if absent; a message if it is not a table)."""
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"[{key}]: expected a table")
        return {}
    return value


def _tables(doc: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    """A top-level ``[[key]]`` array of tables (empty if absent)."""
    value = doc.get(key, [])
    if not isinstance(value, list):
        problems.append(f"[[{key}]]: expected an array of tables")
        return []
    return value


def _load(data: bytes) -> dict[str, Any]:
    """The TOML document of the file, or :class:`HallFileError` saying why it cannot be read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HallFileError([f"the file is not UTF-8 (byte {exc.start})"]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HallFileError([f"not valid TOML: {exc}"]) from exc
    except RecursionError:
        raise HallFileError(["not valid TOML: arrays or tables nested too deeply"]) from None


def _check_hall(hall: dict[str, Any], problems: list[str]) -> tuple[Any, Any, Any]:
    """The ``[hall]`` table: its code, name and time zone (as found; checked into problems)."""
    code = hall.get("code")
    name = hall.get("name")
    timezone = hall.get("timezone", "Asia/Shanghai")
    code_len = max_length(Hall.__table__.c.code)
    if not isinstance(code, str) or not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{code_len}}}", code):
        problems.append(f"[hall] code: expected 1–{code_len} letters, digits, '-' or '_'")
    if not isinstance(name, str) or not name.strip():
        problems.append("[hall] name: missing")
    else:
        _check_length(name, Hall.__table__.c.name, "[hall] name", problems)
    if not isinstance(timezone, str):
        problems.append('[hall] timezone: expected a text such as "Asia/Shanghai"')
    elif not _check_length(timezone, Hall.__table__.c.timezone, "[hall] timezone", problems):
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(f'[hall] timezone: "{shown(timezone)}" is not a known time zone')
    return code, name, timezone


def _check_area_code(hall: dict[str, Any], problems: list[str]) -> str | None:
    """The optional ``[hall] area_code``: a 行政区划代码 of GB/T 2260 (six digits)."""
    value = hall.get("area_code")
    if value is None:
        return None
    problem = "expected a text" if not isinstance(value, str) else area_code_problem(value)
    if problem:
        problems.append(f"[hall] area_code: {problem}")
        return None
    return str(value)


def _check_org_code(unit: dict[str, Any], where: str, problems: list[str]) -> str | None:
    """A unit's optional ``org_code``: a 统一社会信用代码 of GB 32100, check character too."""
    value = unit.get("org_code")
    if value is None:
        return None
    problem = "expected a text" if not isinstance(value, str) else org_code_problem(value)
    if problem:
        problems.append(f"{where} org_code: {problem}")
        return None
    return str(value)


def _check_schedules(raw_schedules: Any, problems: list[str]) -> list[dict[str, Any]]:
    """The ``[[schedule]]`` tables: at least one, each with a season and two half-days."""
    schedules: list[dict[str, Any]] = []
    if not isinstance(raw_schedules, list) or not raw_schedules:
        problems.append("[[schedule]]: at least one schedule is needed")
        raw_schedules = []
    for index, sched in enumerate(raw_schedules, start=1):
        where = f"[[schedule]] #{index}"
        if not isinstance(sched, dict):
            problems.append(f"{where}: expected a table")
            continue
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
    return schedules


def _whole_number(value: Any, highest: int) -> bool:
    """A whole number 0..``highest`` (TOML's true and false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= highest


def _check_attendance(attendance: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The ``[attendance]`` table: grace, debounce, closed days and extra workdays."""
    grace = attendance.get("grace_minutes", DEFAULT_GRACE_MINUTES)
    debounce = attendance.get("debounce_seconds", DEFAULT_DEBOUNCE_SECONDS)
    if not _whole_number(grace, 120):
        problems.append("[attendance] grace_minutes: expected a whole number 0–120")
    if not _whole_number(debounce, 3600):
        problems.append("[attendance] debounce_seconds: expected a whole number 0–3600")
    closed = _check_dates(attendance.get("closed_days", []), "[attendance] closed_days", problems)
    extra = _check_dates(
        attendance.get("extra_workdays", []), "[attendance] extra_workdays", problems
    )
    for day in sorted(set(closed) & set(extra)):
        problems.append(f"[attendance]: {day} is both a closed day and an extra workday")
    return {
        "grace_minutes": grace,
        "debounce_seconds": debounce,
        "closed_days": closed,
        "extra_workdays": extra,
    }


def _check_reasons(ratings: dict[str, Any], problems: list[str]) -> list[str]:
    """The ``[ratings] reasons``: short labels without '|' (the defaults when absent)."""
    reasons = ratings.get("reasons", DEFAULT_REASONS)
    if (
        not isinstance(reasons, list)
        or not reasons
        or not all(
            isinstance(r, str) and r.strip() and "|" not in r and len(r) <= REASON_MAX_CHARS
            for r in reasons
        )
    ):
        problems.append(
            "[ratings] reasons: expected a non-empty list of texts without '|', "
            f"each at most {REASON_MAX_CHARS} characters"
        )
        reasons = DEFAULT_REASONS
    return list(reasons)


def _check_loop_days(ratings: dict[str, Any], problems: list[str]) -> dict[str, int]:
    """The ``[ratings]`` day counts of SPEC 4.2 and 11; only those the file gives are kept,
    so a hall file without them imports into the same settings as before."""
    days: dict[str, int] = {}
    for key, lowest, highest in LOOP_DAYS:
        if key not in ratings:
            continue
        value = ratings[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            problems.append(f"[ratings] {key}: expected a whole number {lowest}–{highest}")
            continue
        days[key] = value
    return days


# [alerts] of SPEC 12: key -> (lowest, highest, whole number only); defaults in
# kiosk.rules.alerts.AlertThresholds. Minutes of at least 1 for the reader, because the
# listener's heartbeats are up to a minute apart (kiosk.services.readers).
ALERT_KEYS: dict[str, tuple[float, float, bool]] = {
    "burst_minutes": (1, 240, False),
    "burst_min_ratings": (1, 1000, True),
    "burst_bad_share": (0.01, 1, False),
    "offline_minutes": (1, 1440, False),
    "no_am_in_minutes": (0, 240, False),
    "due_workdays": (0, 30, True),
}


def _check_alerts(alerts: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The ``[alerts]`` table (SPEC 12 thresholds); only the keys given are kept."""
    kept: dict[str, Any] = {}
    for key, value in alerts.items():
        if key not in ALERT_KEYS:
            problems.append(f"[alerts] {key}: unknown key; known: {', '.join(ALERT_KEYS)}")
            continue
        low, high, whole = ALERT_KEYS[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (whole and not isinstance(value, int)) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            problems.append(f"[alerts] {key}: expected {kind} {low:g}–{high:g}")
            continue
        kept[key] = value
    return kept


def _check_notice(notice: Any, problems: list[str]) -> str:
    """The ``[notice] number_prefix`` of the 通报's 发文字号, stripped ("" when absent)."""
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
    return prefix.strip()


def _check_units(
    raw_units: list[Any], problems: list[str], org_codes: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """The ``[[unit]]`` tables as (code, name); a code given twice is a problem.

    Each unit's ``org_code``, when given and valid, is put into ``org_codes``.
    """
    units: list[tuple[str, str]] = []
    seen_units: set[str] = set()
    for index, unit in enumerate(raw_units, start=1):
        if not isinstance(unit, dict):
            problems.append(f"[[unit]] #{index}: expected a table")
            continue
        ucode, uname = unit.get("code"), unit.get("name")
        if not isinstance(ucode, str) or not ucode or not isinstance(uname, str) or not uname:
            problems.append(f"[[unit]] #{index}: code and name are required")
            continue
        if _check_length(
            ucode, Unit.__table__.c.code, f"[[unit]] #{index} code", problems
        ) | _check_length(uname, Unit.__table__.c.name, f"[[unit]] #{index} name", problems):
            continue
        if ucode in seen_units:
            problems.append(f'[[unit]] #{index}: code "{ucode}" appears twice')
        seen_units.add(ucode)
        units.append((ucode, uname))
        org_code = _check_org_code(unit, f"[[unit]] #{index}", problems)
        if org_code is not None and org_codes is not None:
            org_codes[ucode] = org_code
    return units


def _check_windows(
    raw_windows: list[Any], unit_codes: set[str], problems: list[str]
) -> list[tuple[str, str, str, bool]]:
    """The ``[[window]]`` tables as (code, name, unit code, handles_cases)."""
    windows: list[tuple[str, str, str, bool]] = []
    seen_windows: set[str] = set()
    for index, window in enumerate(raw_windows, start=1):
        where = f"[[window]] #{index}"
        if not isinstance(window, dict):
            problems.append(f"{where}: expected a table")
            continue
        wcode, wname, wunit = window.get("code"), window.get("name"), window.get("unit")
        handles = window.get("handles_cases", True)
        if not isinstance(wcode, str) or not wcode or not isinstance(wname, str) or not wname:
            problems.append(f"{where}: code and name are required")
            continue
        if _check_length(wcode, Window.__table__.c.code, f"{where} code", problems) | _check_length(
            wname, Window.__table__.c.name, f"{where} name", problems
        ):
            continue
        if wcode in seen_windows:
            problems.append(f'{where}: code "{wcode}" appears twice')
        seen_windows.add(wcode)
        if wunit not in unit_codes:
            problems.append(
                f'{where} ({wcode}): unit "{shown(str(wunit))}" is not a [[unit]] of this file'
            )
        if not isinstance(handles, bool):
            problems.append(f"{where} ({wcode}): handles_cases must be true or false")
            handles = True
        windows.append((wcode, wname, str(wunit), handles))
    return windows


def parse_hall_file(data: bytes) -> HallFile:
    """Parse and check a hall file; raise :class:`HallFileError` listing every problem."""
    doc = _load(data)
    problems: list[str] = []
    _check_controls(doc, "", problems)
    if problems:
        raise HallFileError(problems)
    hall = doc.get("hall")
    if not isinstance(hall, dict):
        raise HallFileError(["[hall] table is missing"])
    # The sections are checked in the file's reading order, so the messages come in it too.
    code, name, timezone = _check_hall(hall, problems)
    area_code = _check_area_code(hall, problems)
    schedules = _check_schedules(doc.get("schedule", []), problems)
    attendance = _check_attendance(_table(doc, "attendance", problems), problems)
    ratings = _table(doc, "ratings", problems)
    reasons = _check_reasons(ratings, problems)
    loop_days = _check_loop_days(ratings, problems)
    prefix = _check_notice(doc.get("notice", {}), problems)
    alerts = _check_alerts(_table(doc, "alerts", problems), problems)
    org_codes: dict[str, str] = {}
    units = _check_units(_tables(doc, "unit", problems), problems, org_codes)
    windows = _check_windows(
        _tables(doc, "window", problems), {ucode for ucode, _ in units}, problems
    )
    if problems:
        raise HallFileError(problems)
    settings = {"schedules": schedules, **attendance, "rating_reasons": reasons, **loop_days}
    if prefix:
        # 发文字号 prefix of the 通报: X政服通 gives X政服通〔2026〕5号.
        settings["notice"] = {"number_prefix": prefix}
    if alerts:
        settings["alerts"] = alerts
    return HallFile(
        str(code), str(name), str(timezone), settings, units, windows, area_code, org_codes
    )


# ------------------------------------------------------------------ writing hall.toml

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: str) -> str:
    """A TOML key, bare when it may be, else quoted."""
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def toml_value(value: Any) -> str:
    """A TOML literal for a text, number, boolean, date, list or inline table of those
    (JSON's string escapes are TOML's basic-string escapes): the one writer of values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_table(header: str, items: dict[str, Any]) -> list[str]:
    lines = [header]
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in items.items() if v is not None]
    return [*lines, ""]


# Where each key of the stored settings goes in hall.toml (table, name there).
_SETTINGS_PLACES: dict[str, tuple[str, str]] = {
    "grace_minutes": ("attendance", "grace_minutes"),
    "debounce_seconds": ("attendance", "debounce_seconds"),
    "closed_days": ("attendance", "closed_days"),
    "extra_workdays": ("attendance", "extra_workdays"),
    "rating_reasons": ("ratings", "reasons"),
    # The bad-review loop's day counts (SPEC 4.2, 11), kept only when the hall file gave them.
    "default_after_days": ("ratings", "default_after_days"),
    "callback_workdays": ("ratings", "callback_workdays"),
    "appeal_workdays": ("ratings", "appeal_workdays"),
}


def write_hall_file(
    code: str,
    name: str,
    timezone: str,
    settings: dict[str, Any],
    units: list[tuple[str, str]],
    windows: list[tuple[str, str, str, bool]],
    area_code: str | None = None,
    org_codes: dict[str, str] | None = None,
) -> str:
    """The hall.toml (SPEC 2) that imports back as exactly this hall, settings included.

    The inverse of :func:`parse_hall_file`: ``parse_hall_file(write_hall_file(...))``
    gives the same code, name, time zone, settings, units, windows, ``area_code`` and
    units' ``org_code`` (SPEC 11).
    """
    org_codes = org_codes or {}
    identity = {"code": code, "name": name, "timezone": timezone, "area_code": area_code}
    lines = _toml_table("[hall]", identity)
    for schedule in settings.get("schedules") or []:
        lines += _toml_table("[[schedule]]", dict(schedule))
    tables: dict[str, dict[str, Any]] = {"attendance": {}, "ratings": {}}
    for key, (table, inner) in _SETTINGS_PLACES.items():
        if key in settings:
            tables[table][inner] = settings[key]
    for table, items in tables.items():
        if items:
            lines += _toml_table(f"[{table}]", items)
    notice = settings.get("notice")
    if isinstance(notice, dict) and notice:
        lines += _toml_table("[notice]", notice)
    alerts = settings.get("alerts")
    if isinstance(alerts, dict) and alerts:
        lines += _toml_table("[alerts]", {k: alerts[k] for k in ALERT_KEYS if k in alerts})
    for ucode, uname in units:
        lines += _toml_table(
            "[[unit]]", {"code": ucode, "name": uname, "org_code": org_codes.get(ucode)}
        )
    for wcode, wname, wunit, handles in windows:
        lines += _toml_table(
            "[[window]]", {"code": wcode, "name": wname, "unit": wunit, "handles_cases": handles}
        )
    return "\n".join(lines)


def hall_file_text(hall: Hall) -> str:
    """The hall as it is stored now as a ``hall.toml`` that :func:`parse_hall_file` reads
    back to the same hall, units and windows (``flask --app kiosk export hall``)."""
    units = {unit.id: unit.code for unit in hall.units}
    return write_hall_file(
        hall.code,
        hall.name,
        hall.timezone,
        dict(hall.settings or {}),
        [(unit.code, unit.name) for unit in hall.units],
        [(w.code, w.name, units[w.unit_id], w.handles_cases) for w in hall.windows],
        area_code=hall.area_code,
        org_codes={unit.code: unit.org_code for unit in hall.units if unit.org_code},
    )
