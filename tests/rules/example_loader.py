"""A small pure loader for the worked examples (hall.toml + CSVs), for tests only.

It reads the interchange formats of SPEC 6 with ``csv`` and ``tomllib`` and builds the
rules' input dataclasses, converting times with an offset (or ``Z``) to hall-local time.
"""

from __future__ import annotations

import csv
import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from kiosk.rules.calendar import Period
from kiosk.rules.scoring import (
    Absence,
    Assignment,
    Case,
    Event,
    Hall,
    PeriodData,
    Punch,
    Rating,
    Staff,
    Window,
)
from kiosk.rules.settings import hall_settings


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _local(text: str, zone: ZoneInfo) -> datetime:
    """ISO 8601 to naive hall-local: no offset means hall-local already."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        return value
    return value.astimezone(zone).replace(tzinfo=None)


def _optional_local(text: str, zone: ZoneInfo) -> datetime | None:
    return _local(text, zone) if text.strip() else None


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


def load_hall(folder: Path) -> tuple[Hall, tuple[Window, ...]]:
    """The hall and its windows from ``hall.toml``."""
    data = tomllib.loads((folder / "hall.toml").read_text(encoding="utf-8"))
    settings = hall_settings(data)
    hall = Hall(
        code=data["hall"]["code"],
        name=data["hall"]["name"],
        timezone=data["hall"].get("timezone", "Asia/Shanghai"),
        calendar=settings.calendar,
        grace_minutes=settings.grace_minutes,
        debounce_seconds=settings.debounce_seconds,
    )
    windows = tuple(
        Window(w["code"], w["name"], w["unit"], bool(w.get("handles_cases", True)))
        for w in data.get("window", [])
    )
    return hall, windows


def load_example(folder: Path, period: str, as_of: datetime) -> PeriodData:
    """Every file of an example folder as :class:`PeriodData` for ``period``."""
    hall, windows = load_hall(folder)
    zone = ZoneInfo(hall.timezone)

    assignments: dict[str, list[Assignment]] = {}
    names: dict[str, str] = {}
    for row in _rows(folder, "roster.csv"):
        names[row["staff_no"]] = row["name"]
        end = row.get("end_date", "").strip()
        assignments.setdefault(row["staff_no"], []).append(
            Assignment(
                row["window_code"],
                date.fromisoformat(row["start_date"]),
                date.fromisoformat(end) if end else None,
            )
        )
    staff = tuple(Staff(no, names[no], tuple(a)) for no, a in assignments.items())

    punches = [
        Punch(r["staff_no"], _local(r["punched_at"], zone)) for r in _rows(folder, "punches.csv")
    ]
    absences = [
        Absence(r["staff_no"], r["kind"], _local(r["start"], zone), _local(r["end"], zone))
        for r in _rows(folder, "absences.csv")
    ]
    ratings = [
        Rating(
            rating_id=r["rating_id"],
            staff_no=r["staff_no"],
            rated_at=_local(r["rated_at"], zone),
            level=int(r["level"]),
            misuse=_flag(r.get("misuse", "")),
            review=r.get("review", "").strip() or None,
            rectified_at=_optional_local(r.get("rectified_at", ""), zone),
        )
        for r in _rows(folder, "ratings.csv")
    ]
    cases = [
        Case(
            case_no=r["case_no"],
            staff_no=r["staff_no"],
            due_at=_local(r["due_at"], zone),
            completed_at=_optional_local(r.get("completed_at", ""), zone),
            weight=Decimal(r["weight"]) if r.get("weight", "").strip() else None,
        )
        for r in _rows(folder, "cases.csv")
    ]
    events = [
        Event(
            event_id=r["event_id"],
            staff_no=r["staff_no"],
            at=_local(r["at"], zone),
            kind=r["kind"],
            points=Decimal(r["points"]),
            veto=_flag(r.get("veto", "")),
            category=r.get("category") or None,
            note=r.get("note") or None,
        )
        for r in _rows(folder, "events.csv")
    ]
    return PeriodData(
        hall=hall,
        period=Period.parse(period),
        as_of=as_of,
        staff=staff,
        windows=windows,
        punches=punches,
        absences=absences,
        ratings=ratings,
        cases=cases,
        events=events,
    )
