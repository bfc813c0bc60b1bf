"""The hall's set-up from the back office (SPEC 10): units, windows and the settings of SPEC 2.

A browser change must export exactly as if it had been imported, so every change here is
made *by the hall-file importer itself*: :func:`hall_document` reads the hall as it is
into the shape of ``hall.toml`` (SPEC 2), the change is applied to that document,
:func:`hall_toml` writes it out, and :func:`kiosk.interchange.kinds.import_hall` checks and
stores it, the very code ``flask --app kiosk import hall`` runs, under the same import
lock. Before that, each field is checked here with a message for the form (in Chinese),
so that a refusal names the field it is about; the importer's checks stay the last word.

Every change is audited with before and after; nothing is committed here.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.interchange.hallfile import (
    DEFAULT_DEBOUNCE_SECONDS,
    DEFAULT_GRACE_MINUTES,
    DEFAULT_REASONS,
    LOOP_DAYS,
    REASON_MAX_CHARS,
    toml_key,
    toml_value,
)
from kiosk.interchange.importer import take_import_lock
from kiosk.interchange.kinds import import_hall
from kiosk.interchange.report import ImportFailed
from kiosk.models import Hall, Unit, Window
from kiosk.rules import settings as hall_rules
from kiosk.rules.badreview import (
    DEFAULT_APPEAL_WORKDAYS,
    DEFAULT_CALLBACK_WORKDAYS,
    DEFAULT_DEFAULT_AFTER_DAYS,
)
from kiosk.rules.orgcodes import CodeFault, area_code_fault, org_code_fault
from kiosk.services import audit
from kiosk.services.errors import Invalid
from kiosk.services.texts import _
from kiosk.textlimits import control_character, day_in_range, max_length

UNIT_CODE_LEN = max_length(Unit.__table__.c.code)
UNIT_NAME_LEN = max_length(Unit.__table__.c.name)
WINDOW_CODE_LEN = max_length(Window.__table__.c.code)
WINDOW_NAME_LEN = max_length(Window.__table__.c.name)
MAX_SCHEDULES = 12
MAX_DAYS = 400
MAX_REASONS = 30
SCHEDULE_NAME_LEN = 50
GRACE_RANGE = (0, 120)
DEBOUNCE_RANGE = (0, 3600)
# ``[ratings]`` day counts of the loop (SPEC 4.2, 11): the importer's ranges, and what a
# hall that does not give one has (kiosk.rules.badreview).
LOOP_RANGES: dict[str, tuple[int, int]] = {key: (low, high) for key, low, high in LOOP_DAYS}
LOOP_DEFAULTS: dict[str, int] = {
    "default_after_days": DEFAULT_DEFAULT_AFTER_DAYS,
    "callback_workdays": DEFAULT_CALLBACK_WORKDAYS,
    "appeal_workdays": DEFAULT_APPEAL_WORKDAYS,
}
AREA_CODE_LEN = max_length(Hall.__table__.c.area_code)
ORG_CODE_LEN = max_length(Unit.__table__.c.org_code)

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_HOUR_MINUTE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# Stored keys of Hall.settings that the hall file's tables of SPEC 2 hold.
_KNOWN = {"schedules", "grace_minutes", "debounce_seconds", "closed_days", "extra_workdays"}
_KNOWN |= {"rating_reasons", "notice"}


class SetupError(Invalid):
    """A refused set-up change; ``fields`` maps each form field to its message."""

    def __init__(self, fields: Mapping[str, str], code: str = "invalid") -> None:
        super().__init__("；".join(fields.values()), code)
        self.fields = dict(fields)


# ------------------------------------------------------------------ the hall as a document


def hall_document(session: Session, hall: Hall) -> dict[str, Any]:
    """The hall as the TOML document of SPEC 2 (what importing it would store again)."""
    stored = hall.settings or {}
    doc: dict[str, Any] = {
        "hall": {"code": hall.code, "name": hall.name, "timezone": hall.timezone}
        | ({"area_code": hall.area_code} if hall.area_code else {}),
        "schedule": [
            {k: s[k] for k in ("name", "from", "to", "am", "pm") if s.get(k) is not None}
            for s in hall_rules.setting(stored, "schedules", [])
        ],
        "attendance": {
            "grace_minutes": hall_rules.setting(stored, "grace_minutes", DEFAULT_GRACE_MINUTES),
            "debounce_seconds": hall_rules.setting(
                stored, "debounce_seconds", DEFAULT_DEBOUNCE_SECONDS
            ),
            "closed_days": list(hall_rules.setting(stored, "closed_days", [])),
            "extra_workdays": list(hall_rules.setting(stored, "extra_workdays", [])),
        },
        # An empty list means the default reasons (kiosk.rules.settings.rating_reasons).
        "ratings": {
            "reasons": list(hall_rules.setting(stored, "rating_reasons") or DEFAULT_REASONS)
        },
    }
    notice = stored.get("notice")
    if isinstance(notice, Mapping) and notice:
        doc["notice"] = dict(notice)
    # Keys a later hall file adds (``[ratings] default_after_days`` and the like) go back
    # to the table the settings reader says they live in, so a change here keeps them.
    places: Mapping[str, tuple[str, str]] = getattr(hall_rules, "_TOML_PLACES", {})
    for key, value in stored.items():
        if key in _KNOWN or value is None:
            continue
        if key in places:
            table, name = places[key]
            doc.setdefault(table, {})[name] = value
        elif isinstance(value, Mapping):
            doc.setdefault(key, {}).update(value)
    units = session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    doc["unit"] = [
        {"code": u.code, "name": u.name} | ({"org_code": u.org_code} if u.org_code else {})
        for u in units
    ]
    windows = session.execute(
        select(Window, Unit.code)
        .join(Unit, Unit.id == Window.unit_id)
        .where(Window.hall_id == hall.id)
        .order_by(Window.code)
    ).tuples()
    doc["window"] = [
        {"code": w.code, "name": w.name, "unit": unit_code, "handles_cases": w.handles_cases}
        for w, unit_code in windows
    ]
    return doc


def _toml_table(header: str, table: Mapping[str, Any]) -> list[str]:
    lines = [header]
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((key, value))
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    for key, value in nested:
        inner = header.strip("[]")
        lines += ["", *_toml_table(f"[{inner}.{toml_key(key)}]", value)]
    return lines


def hall_toml(doc: Mapping[str, Any]) -> str:
    """The hall file (SPEC 2) of a document in :func:`hall_document`'s shape."""
    parts: list[list[str]] = [_toml_table("[hall]", doc["hall"])]
    parts += [_toml_table("[[schedule]]", s) for s in doc.get("schedule", [])]
    for key, value in doc.items():
        if key in ("hall", "schedule", "unit", "window"):
            continue
        parts.append(_toml_table(f"[{toml_key(key)}]", value))
    parts += [_toml_table("[[unit]]", u) for u in doc.get("unit", [])]
    parts += [_toml_table("[[window]]", w) for w in doc.get("window", [])]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def export_hall_file(session: Session, hall: Hall) -> str:
    """The hall's ``hall.toml`` as it is now (imports back unchanged)."""
    return hall_toml(hall_document(session, hall))


def _store(session: Session, doc: Mapping[str, Any], lock_wait: float) -> None:
    """Store ``doc`` through the hall-file importer; its refusal becomes a :class:`SetupError`."""
    try:
        import_hall(session, hall_toml(doc).encode("utf-8"))
    except ImportFailed as exc:
        raise SetupError({"": "；".join(exc.problems)}) from exc


def _locked_document(session: Session, hall: Hall, lock_wait: float) -> dict[str, Any]:
    """Take the one import lock (a change here and an import never interleave), then read."""
    try:
        take_import_lock(session, lock_wait)
    except ImportFailed as exc:
        raise SetupError({"": _("另一个导入正在进行，请稍后再试。")}, "conflict") from exc
    session.refresh(hall)
    return hall_document(session, hall)


# ---------------------------------------------------------------------------- field checks


def _text(errors: dict[str, str], name: str, value: str | None, label: str, limit: int) -> str:
    """A required one-line text, stripped; its problem goes into ``errors[name]``."""
    text = (value or "").strip()
    if not text:
        errors[name] = _("请填写%(label)s。", label=label)
    elif control_character(text) or "\n" in text or "\r" in text:
        errors[name] = _("%(label)s不能包含控制字符或换行。", label=label)
    elif len(text) > limit:
        errors[name] = _("%(label)s不能超过 %(n)d 个字符。", label=label, n=limit)
    return text


def _code(errors: dict[str, str], name: str, value: str | None, label: str, limit: int) -> str:
    text = _text(errors, name, value, label, limit)
    if name not in errors and not re.fullmatch(r"[A-Za-z0-9_.-]+", text):
        errors[name] = _("%(label)s只能由字母、数字和 - _ . 组成。", label=label)
    return text


def _refuse_if(errors: Mapping[str, str]) -> None:
    if errors:
        raise SetupError(errors)


def _official_text(text: str | None) -> str:
    """A code as typed, the way an officer may type it: spaces around, full-width digits
    and letters (an input method's), lower case; what is left is checked as it stands."""
    value = (text or "").strip()
    if len(value) > 4 * ORG_CODE_LEN:
        return value  # refused for its length; not worth normalising
    return unicodedata.normalize("NFKC", value).strip().upper()


def area_code_message(fault: CodeFault) -> str:
    """The form's message for a refused ``[hall] area_code`` (the importer's check)."""
    if fault.kind == "province":
        return _("行政区划代码前两位“%(p)s”不是省级行政区划代码（GB/T 2260）。", p=fault.detail)
    return _("行政区划代码应为 6 位数字，如 429005。")


def org_code_message(fault: CodeFault, value: str) -> str:
    """The form's message for a refused ``org_code`` (the importer's check, GB 32100)."""
    if fault.kind == "length":
        return _("统一社会信用代码应为 18 位，现为 %(n)d 位。", n=len(value))
    if fault.kind == "alphabet":
        return _(
            "统一社会信用代码由数字和大写字母组成（不含 I、O、S、V、Z），"
            "第 3 至 8 位为行政区划代码。"
        )
    # The right character is not offered: a mistyped digit elsewhere gives a wrong check
    # character too, and "fixing" the last one would store a code of another body.
    return _("统一社会信用代码校验位（第 18 位）不符，请对照统一社会信用代码证书核对。")


def _area_code(errors: dict[str, str], text: str) -> str | None:
    """``[hall] area_code``: None when blank (the hall gives none), else checked."""
    value = _official_text(text)
    if not value:
        return None
    fault = area_code_fault(value)
    if fault is not None:
        errors["area_code"] = area_code_message(fault)
    return value


def _org_code(errors: dict[str, str], text: str) -> str | None:
    """A unit's ``org_code``: None when blank (the push then sends the unit's code)."""
    value = _official_text(text)
    if not value:
        return None
    fault = org_code_fault(value)
    if fault is not None:
        errors["org_code"] = org_code_message(fault, value)
    return value


# ----------------------------------------------------------------------------------- units


@dataclass(frozen=True, slots=True)
class UnitLine:
    """A unit with the number of its windows."""

    code: str
    name: str
    windows: int
    org_code: str = ""
    """统一社会信用代码 (``org_code``), "" when the hall file gives none."""


def unit_lines(session: Session, hall: Hall) -> list[UnitLine]:
    """The hall's units by code, with their window counts."""
    units = session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    return [UnitLine(u.code, u.name, len(u.windows), u.org_code or "") for u in units]


def unit_by_code(session: Session, hall: Hall, code: str | None) -> Unit:
    """The hall's unit with this code, or a ``not_found`` refusal."""
    unit = session.scalar(select(Unit).where(Unit.hall_id == hall.id, Unit.code == (code or "")))
    if unit is None:
        raise SetupError({"code": _("没有代码为“%(c)s”的单位。", c=code or "")}, "not_found")
    return unit


def add_unit(
    session: Session,
    hall: Hall,
    *,
    code: str,
    name: str,
    org_code: str | None = None,
    user_id: int | None,
    lock_wait: float,
) -> Unit:
    """Add a unit (``[[unit]]`` code, name and, optionally, ``org_code``); refused when the
    code is taken."""
    errors: dict[str, str] = {}
    code = _code(errors, "code", code, _("单位代码"), UNIT_CODE_LEN)
    name = _text(errors, "name", name, _("单位名称"), UNIT_NAME_LEN)
    org = _org_code(errors, org_code or "")
    _refuse_if(errors)
    doc = _locked_document(session, hall, lock_wait)
    if any(u["code"] == code for u in doc["unit"]):
        raise SetupError({"code": _("单位代码“%(c)s”已存在。", c=code)}, "conflict")
    after = {"code": code, "name": name} | ({"org_code": org} if org else {})
    doc["unit"].append(dict(after))
    _store(session, doc, lock_wait)
    unit = unit_by_code(session, hall, code)
    audit.record(
        session,
        action="unit.add",
        object_type="unit",
        object_id=code,
        user_id=user_id,
        hall_id=hall.id,
        after=after,
    )
    return unit


def rename_unit(
    session: Session, hall: Hall, *, code: str, name: str, user_id: int | None, lock_wait: float
) -> Unit:
    """Give a unit a new name (its code, the key of the hall file, stays)."""
    return edit_unit(
        session, hall, code=code, name=name, org_code=None, user_id=user_id, lock_wait=lock_wait
    )


def edit_unit(
    session: Session,
    hall: Hall,
    *,
    code: str,
    name: str,
    org_code: str | None,
    user_id: int | None,
    lock_wait: float,
) -> Unit:
    """Change a unit's name and ``org_code`` (its code, the key of the hall file, stays).

    ``org_code`` None keeps the one it has; "" removes it. Audited as ``unit.rename`` when
    only the name changed, else ``unit.edit``, with the fields that changed."""
    errors: dict[str, str] = {}
    name = _text(errors, "name", name, _("单位名称"), UNIT_NAME_LEN)
    org = _org_code(errors, org_code) if org_code is not None else None
    _refuse_if(errors)
    doc = _locked_document(session, hall, lock_wait)
    entry = next((u for u in doc["unit"] if u["code"] == code), None)
    if entry is None:
        raise SetupError({"code": _("没有代码为“%(c)s”的单位。", c=code)}, "not_found")
    before = {"name": entry["name"], "org_code": entry.get("org_code")}
    after = {"name": name, "org_code": org if org_code is not None else before["org_code"]}
    changed = [k for k in before if before[k] != after[k]]
    if not changed:
        message = _("名称没有变化。") if org_code is None else _("没有任何变化。")
        raise SetupError({"name": message})
    entry["name"] = name
    entry.pop("org_code", None)
    if after["org_code"]:
        entry["org_code"] = after["org_code"]
    _store(session, doc, lock_wait)
    audit.record(
        session,
        action="unit.rename" if changed == ["name"] else "unit.edit",
        object_type="unit",
        object_id=code,
        user_id=user_id,
        hall_id=hall.id,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    return unit_by_code(session, hall, code)


# --------------------------------------------------------------------------------- windows


@dataclass(frozen=True, slots=True)
class WindowLine:
    """A window with its unit."""

    code: str
    name: str
    unit_code: str
    unit_name: str
    handles_cases: bool


def window_lines(session: Session, hall: Hall) -> list[WindowLine]:
    """The hall's windows by code."""
    rows = session.execute(
        select(Window, Unit)
        .join(Unit, Unit.id == Window.unit_id)
        .where(Window.hall_id == hall.id)
        .order_by(Window.code)
    ).tuples()
    return [WindowLine(w.code, w.name, u.code, u.name, w.handles_cases) for w, u in rows]


def window_by_code(session: Session, hall: Hall, code: str | None) -> Window:
    """The hall's window with this code, or a ``not_found`` refusal."""
    window = session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == (code or ""))
    )
    if window is None:
        raise SetupError({"code": _("没有代码为“%(c)s”的窗口。", c=code or "")}, "not_found")
    return window


def _window_fields(
    errors: dict[str, str], doc: Mapping[str, Any], name: str, unit: str
) -> tuple[str, str]:
    name = _text(errors, "name", name, _("窗口名称"), WINDOW_NAME_LEN)
    unit = (unit or "").strip()
    if not unit:
        errors["unit"] = _("请选择所属单位。")
    elif all(u["code"] != unit for u in doc["unit"]):
        errors["unit"] = _("没有代码为“%(c)s”的单位。", c=unit[:UNIT_CODE_LEN])
    return name, unit


def add_window(
    session: Session,
    hall: Hall,
    *,
    code: str,
    name: str,
    unit: str,
    handles_cases: bool,
    user_id: int | None,
    lock_wait: float,
) -> Window:
    """Add a window (``[[window]]`` code, name, unit, handles_cases)."""
    errors: dict[str, str] = {}
    code = _code(errors, "code", code, _("窗口编号"), WINDOW_CODE_LEN)
    doc = _locked_document(session, hall, lock_wait)
    name, unit = _window_fields(errors, doc, name, unit)
    if "code" not in errors and any(w["code"] == code for w in doc["window"]):
        errors["code"] = _("窗口编号“%(c)s”已存在。", c=code)
    _refuse_if(errors)
    after = {"code": code, "name": name, "unit": unit, "handles_cases": bool(handles_cases)}
    doc["window"].append(after)
    _store(session, doc, lock_wait)
    audit.record(
        session,
        action="window.add",
        object_type="window",
        object_id=code,
        user_id=user_id,
        hall_id=hall.id,
        after=after,
    )
    return window_by_code(session, hall, code)


def edit_window(
    session: Session,
    hall: Hall,
    *,
    code: str,
    name: str,
    unit: str,
    handles_cases: bool,
    user_id: int | None,
    lock_wait: float,
) -> Window:
    """Change a window's name, unit or ``handles_cases`` (its code stays)."""
    errors: dict[str, str] = {}
    doc = _locked_document(session, hall, lock_wait)
    entry = next((w for w in doc["window"] if w["code"] == code), None)
    if entry is None:
        raise SetupError({"code": _("没有代码为“%(c)s”的窗口。", c=code)}, "not_found")
    name, unit = _window_fields(errors, doc, name, unit)
    _refuse_if(errors)
    before = dict(entry)
    entry.update(name=name, unit=unit, handles_cases=bool(handles_cases))
    if entry == before:
        raise SetupError({"name": _("没有任何变化。")})
    _store(session, doc, lock_wait)
    changed = [k for k in ("name", "unit", "handles_cases") if before[k] != entry[k]]
    audit.record(
        session,
        action="window.edit",
        object_type="window",
        object_id=code,
        user_id=user_id,
        hall_id=hall.id,
        before={k: before[k] for k in changed},
        after={k: entry[k] for k in changed},
    )
    return window_by_code(session, hall, code)


# --------------------------------------------------------------------------- hall settings


@dataclass(frozen=True, slots=True)
class ScheduleInput:
    """One seasonal schedule as the form sends it (``[[schedule]]`` of SPEC 2)."""

    name: str = ""
    start: str = ""  # "from", month-day
    end: str = ""  # "to", month-day
    am_start: str = ""
    am_end: str = ""
    pm_start: str = ""
    pm_end: str = ""

    def blank(self) -> bool:
        """Whether every field is empty (an unused row of the form)."""
        return not any(
            v.strip()
            for v in (
                self.name,
                self.start,
                self.end,
                self.am_start,
                self.am_end,
                self.pm_start,
                self.pm_end,
            )
        )


@dataclass(frozen=True, slots=True)
class SettingsInput:
    """The settings form of ``/admin/hall``: every field as text, checked here."""

    schedules: tuple[ScheduleInput, ...] = ()
    grace_minutes: str = ""
    debounce_seconds: str = ""
    closed_days: str = ""
    extra_workdays: str = ""
    reasons: str = ""
    default_after_days: str | None = None
    """``[ratings] default_after_days`` (SPEC 4.2); None (not sent) keeps what the hall has."""
    callback_workdays: str | None = None
    """``[ratings] callback_workdays`` (SPEC 11); None keeps what the hall has."""
    appeal_workdays: str | None = None
    """``[ratings] appeal_workdays`` (SPEC 11); None keeps what the hall has."""
    area_code: str | None = None
    """``[hall] area_code`` (SPEC 2, 11); "" removes it, None keeps what the hall has."""

    def loop_days(self) -> dict[str, str | None]:
        """The ``[ratings]`` day counts as sent, by their hall-file keys."""
        return {key: getattr(self, key) for key, _low, _high in LOOP_DAYS}


@dataclass(frozen=True, slots=True)
class SettingsView:
    """The hall's settings as the form shows them."""

    schedules: tuple[ScheduleInput, ...]
    grace_minutes: int
    debounce_seconds: int
    closed_days: tuple[str, ...]
    extra_workdays: tuple[str, ...]
    reasons: tuple[str, ...]
    default_after_days: int
    """``[ratings] default_after_days`` (0 = no default ratings, also when not given)."""
    callback_workdays: int
    """``[ratings] callback_workdays`` (the default of SPEC 11 when not given)."""
    appeal_workdays: int
    """``[ratings] appeal_workdays`` (the default of SPEC 11 when not given)."""
    area_code: str
    """``[hall] area_code``, "" when the hall gives none."""


def settings_view(session: Session, hall: Hall) -> SettingsView:
    """What ``/admin/hall`` shows: the hall's settings as its hall file says them."""
    doc = hall_document(session, hall)
    att, ratings = doc["attendance"], doc["ratings"]
    return SettingsView(
        schedules=tuple(
            ScheduleInput(
                s.get("name", ""),
                s.get("from", ""),
                s.get("to", ""),
                *(s.get("am") or ["", ""]),
                *(s.get("pm") or ["", ""]),
            )
            for s in doc["schedule"]
        ),
        grace_minutes=int(att["grace_minutes"]),
        debounce_seconds=int(att["debounce_seconds"]),
        closed_days=tuple(att["closed_days"]),
        extra_workdays=tuple(att["extra_workdays"]),
        reasons=tuple(ratings["reasons"]),
        default_after_days=int(ratings.get("default_after_days", DEFAULT_DEFAULT_AFTER_DAYS)),
        callback_workdays=int(ratings.get("callback_workdays", DEFAULT_CALLBACK_WORKDAYS)),
        appeal_workdays=int(ratings.get("appeal_workdays", DEFAULT_APPEAL_WORKDAYS)),
        area_code=str(doc["hall"].get("area_code") or ""),
    )


def _whole(
    errors: dict[str, str], name: str, text: str, label: str, bounds: tuple[int, int]
) -> int:
    value = (text or "").strip()
    low, high = bounds
    if (
        not value.isascii()
        or not value.isdigit()
        or len(value) > 6
        or not low <= int(value) <= high
    ):
        errors[name] = _("%(label)s应为 %(lo)d 至 %(hi)d 的整数。", label=label, lo=low, hi=high)
        return low
    return int(value)


def _day_list(errors: dict[str, str], name: str, text: str, label: str) -> list[str]:
    """Dates ``YYYY-MM-DD`` separated by commas, spaces or lines; sorted, each once."""
    items = [t for t in re.split(r"[\s,，、;；]+", text or "") if t]
    if len(items) > MAX_DAYS:
        errors[name] = _("%(label)s最多 %(n)d 天。", label=label, n=MAX_DAYS)
        return []
    days: set[str] = set()
    for item in items:
        try:
            day = dt.date.fromisoformat(item)
        except ValueError:
            errors[name] = _(
                "%(label)s中“%(d)s”不是日期（格式如 2026-10-01）。", label=label, d=item[:20]
            )
            return []
        if not day_in_range(day) or len(item) != 10:
            errors[name] = _(
                "%(label)s中 %(d)s 应在 2000 至 2099 年之间。", label=label, d=item[:20]
            )
            return []
        days.add(day.isoformat())
    return sorted(days)


def _month_day(errors: dict[str, str], name: str, text: str, label: str) -> str:
    value = (text or "").strip()
    match = _MONTH_DAY.match(value)
    ok = False
    if match:
        try:
            dt.date(2000, int(match.group(1)), int(match.group(2)))
            ok = True
        except ValueError:
            ok = False
    if not ok:
        errors[name] = _("%(label)s应为月-日，如 10-01。", label=label)
    return value


def _clock(errors: dict[str, str], name: str, text: str, label: str) -> str:
    value = (text or "").strip()
    if not _HOUR_MINUTE.match(value):
        errors[name] = _("%(label)s应为时:分，如 08:30。", label=label)
    return value


def _schedule(errors: dict[str, str], index: int, item: ScheduleInput) -> dict[str, Any]:
    prefix = f"schedule-{index}-"
    name = (item.name or "").strip() or f"schedule{index + 1}"
    if len(name) > SCHEDULE_NAME_LEN or control_character(name):
        errors[prefix + "name"] = _("名称不能超过 %(n)d 个字符。", n=SCHEDULE_NAME_LEN)
    start = _month_day(errors, prefix + "from", item.start, _("起始日"))
    end = _month_day(errors, prefix + "to", item.end, _("截止日"))
    am = [
        _clock(errors, prefix + "am-start", item.am_start, _("上午上班")),
        _clock(errors, prefix + "am-end", item.am_end, _("上午下班")),
    ]
    pm = [
        _clock(errors, prefix + "pm-start", item.pm_start, _("下午上班")),
        _clock(errors, prefix + "pm-end", item.pm_end, _("下午下班")),
    ]
    if prefix + "am-end" not in errors and prefix + "am-start" not in errors and am[0] >= am[1]:
        errors[prefix + "am-end"] = _("上午下班应晚于上午上班。")
    if prefix + "pm-end" not in errors and prefix + "pm-start" not in errors and pm[0] >= pm[1]:
        errors[prefix + "pm-end"] = _("下午下班应晚于下午上班。")
    if not any(k.startswith(prefix) for k in errors) and am[1] > pm[0]:
        errors[prefix + "pm-start"] = _("下午上班不能早于上午下班。")
    return {"name": name, "from": start, "to": end, "am": am, "pm": pm}


def _reasons(errors: dict[str, str], text: str) -> list[str]:
    reasons = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not reasons:
        errors["reasons"] = _("至少填写一个差评原因。")
    elif len(reasons) > MAX_REASONS:
        errors["reasons"] = _("差评原因最多 %(n)d 个。", n=MAX_REASONS)
    elif any(len(r) > REASON_MAX_CHARS or "|" in r or control_character(r) for r in reasons):
        errors["reasons"] = _("每个差评原因不超过 %(n)d 个字，且不能包含“|”。", n=REASON_MAX_CHARS)
    elif len(set(reasons)) != len(reasons):
        errors["reasons"] = _("差评原因有重复。")
    return reasons


def loop_day_labels() -> dict[str, str]:
    """The ``[ratings]`` day counts as the form and its messages name them."""
    return {
        "default_after_days": _("默认评价天数"),
        "callback_workdays": _("回访时限"),
        "appeal_workdays": _("申诉时限"),
    }


def _loop_days(errors: dict[str, str], form: SettingsInput) -> dict[str, int]:
    """The ``[ratings]`` day counts sent, each within the hall-file importer's range."""
    labels = loop_day_labels()
    days: dict[str, int] = {}
    for key, text in form.loop_days().items():
        if text is not None:
            days[key] = _whole(errors, key, text, labels[key], LOOP_RANGES[key])
    return days


def update_settings(
    session: Session,
    hall: Hall,
    form: SettingsInput,
    *,
    user_id: int | None,
    lock_wait: float,
) -> dict[str, Any]:
    """Change the settings of SPEC 2 (schedules, grace, debounce, closed days, extra
    workdays, reasons, the ``[ratings]`` day counts, ``[hall] area_code``); returns the
    stored settings. Audited with the keys that changed (``area_code`` among them)."""
    errors: dict[str, str] = {}
    rows = [s for s in form.schedules if not s.blank()]
    if not rows:
        errors["schedule-0-from"] = _("至少需要一个作息时间。")
    elif len(rows) > MAX_SCHEDULES:
        errors["schedule-0-from"] = _("作息时间最多 %(n)d 个。", n=MAX_SCHEDULES)
    schedules = [_schedule(errors, i, s) for i, s in enumerate(form.schedules) if not s.blank()]
    grace = _whole(errors, "grace_minutes", form.grace_minutes, _("宽限分钟"), GRACE_RANGE)
    debounce = _whole(
        errors, "debounce_seconds", form.debounce_seconds, _("重复打卡间隔"), DEBOUNCE_RANGE
    )
    closed = _day_list(errors, "closed_days", form.closed_days, _("闭厅日"))
    extra = _day_list(errors, "extra_workdays", form.extra_workdays, _("加班工作日"))
    both = sorted(set(closed) & set(extra))
    if both and "extra_workdays" not in errors:
        errors["extra_workdays"] = _("%(d)s 不能既是闭厅日又是加班工作日。", d=both[0])
    reasons = _reasons(errors, form.reasons)
    loop_days = _loop_days(errors, form)
    area_code = _area_code(errors, form.area_code) if form.area_code is not None else None
    _refuse_if(errors)

    doc = _locked_document(session, hall, lock_wait)
    before = {**(hall.settings or {}), "area_code": hall.area_code}
    doc["schedule"] = schedules
    doc["attendance"].update(
        grace_minutes=grace, debounce_seconds=debounce, closed_days=closed, extra_workdays=extra
    )
    doc["ratings"]["reasons"] = reasons
    for key, value in loop_days.items():
        # A day count the hall file leaves out is the default (kiosk.rules.badreview): kept
        # out while it is the default, so that saving an unchanged page changes nothing and
        # exports as the same hall.toml imported; written once it is set to another value.
        if key in doc["ratings"] or value != LOOP_DEFAULTS[key]:
            doc["ratings"][key] = value
    if form.area_code is not None:
        doc["hall"].pop("area_code", None)
        if area_code:
            doc["hall"]["area_code"] = area_code
    _store(session, doc, lock_wait)
    after = {**(hall.settings or {}), "area_code": hall.area_code}
    changed = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    if not changed:
        raise SetupError({"": _("设置没有变化。")})
    audit.record(
        session,
        action="hall.settings",
        object_type="hall",
        object_id=hall.code,
        user_id=user_id,
        hall_id=hall.id,
        before={k: before.get(k) for k in changed},
        after={k: after.get(k) for k in changed},
    )
    return dict(hall.settings or {})


# ---------------------------------------------------------------------- a hall of its own


# The seasons a new hall starts with (SPEC 2's example); the admin changes them on /admin/hall.
NEW_HALL_SCHEDULES: tuple[dict[str, Any], ...] = (
    {
        "name": "winter",
        "from": "10-01",
        "to": "04-30",
        "am": ["08:30", "12:00"],
        "pm": ["14:00", "17:30"],
    },
    {
        "name": "summer",
        "from": "05-01",
        "to": "09-30",
        "am": ["08:00", "12:00"],
        "pm": ["14:30", "17:30"],
    },
)
HALL_CODE_LEN = max_length(Hall.__table__.c.code)
HALL_NAME_LEN = max_length(Hall.__table__.c.name)


def create_hall(
    session: Session,
    *,
    code: str,
    name: str,
    timezone: str,
    user_id: int | None,
    lock_wait: float,
) -> Hall:
    """A new hall (``[hall]`` code, name, timezone) with SPEC 2's example schedules and the
    default attendance and rating settings, made by importing its hall file."""
    import zoneinfo

    errors: dict[str, str] = {}
    code = _text(errors, "code", code, _("中心代码"), HALL_CODE_LEN)
    if "code" not in errors and not re.fullmatch(r"[A-Za-z0-9_-]+", code):
        errors["code"] = _("中心代码只能由字母、数字和 - _ 组成。")
    name = _text(errors, "name", name, _("中心名称"), HALL_NAME_LEN)
    timezone = (timezone or "").strip() or "Asia/Shanghai"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _("“%(z)s”不是已知的时区（如 Asia/Shanghai）。", z=timezone[:40])
    _refuse_if(errors)
    try:
        take_import_lock(session, lock_wait)
    except ImportFailed as exc:
        raise SetupError({"": _("另一个导入正在进行，请稍后再试。")}, "conflict") from exc
    if session.scalar(select(Hall.id).where(Hall.code == code)) is not None:
        raise SetupError({"code": _("中心代码“%(c)s”已存在。", c=code)}, "conflict")
    doc: dict[str, Any] = {
        "hall": {"code": code, "name": name, "timezone": timezone},
        "schedule": [dict(s) for s in NEW_HALL_SCHEDULES],
        "attendance": {
            "grace_minutes": DEFAULT_GRACE_MINUTES,
            "debounce_seconds": DEFAULT_DEBOUNCE_SECONDS,
            "closed_days": [],
            "extra_workdays": [],
        },
        "ratings": {"reasons": list(DEFAULT_REASONS)},
    }
    _store(session, doc, lock_wait)
    hall = session.scalars(select(Hall).where(Hall.code == code)).one()
    audit.record(
        session,
        action="hall.create",
        object_type="hall",
        object_id=code,
        user_id=user_id,
        hall_id=hall.id,
        after={"code": code, "name": name, "timezone": timezone},
    )
    return hall


def any_hall(session: Session) -> bool:
    """Whether the database has a hall yet."""
    return session.scalar(select(Hall.id).limit(1)) is not None


def unused_schedules(settings: Mapping[str, Any] | None) -> list[str]:
    """Names of schedules that apply on no day of the year: an earlier one holds each of
    their days (SPEC 2: the first whose range holds the day applies). Said, not refused,
    since the hall file allows it."""
    from kiosk.rules.calendar import schedule_for

    schedules = hall_rules.calendar_from_settings(settings).schedules
    used: set[int] = set()
    day = dt.date(2000, 1, 1)  # a leap year: 02-29 is a day too
    while day.year == 2000:
        found = schedule_for(day, schedules)
        if found is not None:
            used.add(id(found))
        day += dt.timedelta(days=1)
    return [s.name for s in schedules if id(s) not in used]
