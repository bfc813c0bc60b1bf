"""How each kind of file is read and stored: the hall, the roster, punches, and the keyed kinds."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from kiosk.interchange import store
from kiosk.interchange.hallfile import HallFileError, parse_hall_file
from kiosk.interchange.report import ImportFailed, ImportReport
from kiosk.interchange.rows import CsvRows, _Row
from kiosk.interchange.store import _check_unique_keys, _existing, _staff_ids, _upsert, _write_batch
from kiosk.models import (
    ABSENCE_KINDS,
    EVENT_KINDS,
    PUNCH_SOURCES,
    RATING_CHANNELS,
    REVIEW_VERDICTS,
    Assignment,
    Case,
    Event,
    Hall,
    Rating,
    Staff,
    Unit,
    Window,
)
from kiosk.textlimits import (
    DAY_RANGE,
    FIRST_YEAR,
    LAST_YEAR,
    NOTE_MAX_CHARS,
    max_length,
    shown,
)

STAFF_NO_LEN = max_length(Staff.__table__.c.staff_no)
# The lengths checked on every row of the big files, read from the schema once.
_RATING_ID_LEN = max_length(Rating.__table__.c.rating_id)
_RATING_CASE_NO_LEN = max_length(Rating.__table__.c.case_no)
_CASE_NO_LEN = max_length(Case.__table__.c.case_no)
_MATTER_LEN = max_length(Case.__table__.c.matter)


def _resolve_staff(row: _Row, staff: dict[str, int]) -> int | None:
    staff_no = row.text("staff_no", STAFF_NO_LEN)
    if staff_no is None:
        return None
    staff_id = staff.get(staff_no)
    if staff_id is None and len(staff_no) <= STAFF_NO_LEN:
        row.bad("staff_no", f'unknown staff number "{shown(staff_no)}" (import the roster first)')
    return staff_id


# ------------------------------------------------------------------ importers


def import_hall(session: Session, data: bytes) -> tuple[Hall, ImportReport]:
    """Create or update a hall, its units and windows from hall.toml."""
    try:
        parsed = parse_hall_file(data)
    except HallFileError as exc:
        raise ImportFailed(exc.problems) from exc
    report = ImportReport("hall", rows=1 + len(parsed.units) + len(parsed.windows))
    hall = session.scalar(select(Hall).where(Hall.code == parsed.code))
    if hall is None:
        hall = Hall(
            code=parsed.code,
            name=parsed.name,
            timezone=parsed.timezone,
            settings=parsed.settings,
            area_code=parsed.area_code,
        )
        session.add(hall)
        session.flush()
        report.inserted += 1
    elif (hall.name, hall.timezone, hall.settings, hall.area_code) != (
        parsed.name,
        parsed.timezone,
        parsed.settings,
        parsed.area_code,
    ):
        hall.name, hall.timezone, hall.settings = parsed.name, parsed.timezone, parsed.settings
        hall.area_code = parsed.area_code
        report.updated += 1
    else:
        report.unchanged += 1

    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    for code, name in parsed.units:
        unit = units.get(code)
        org_code = parsed.org_codes.get(code)
        if unit is None:
            units[code] = unit = Unit(hall_id=hall.id, code=code, name=name, org_code=org_code)
            session.add(unit)
            report.inserted += 1
        elif (unit.name, unit.org_code) != (name, org_code):
            unit.name, unit.org_code = name, org_code
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    windows = {w.code: w for w in session.scalars(select(Window).where(Window.hall_id == hall.id))}
    for code, name, unit_code, handles in parsed.windows:
        window = windows.get(code)
        unit_id = units[unit_code].id
        if window is None:
            session.add(
                Window(
                    hall_id=hall.id, unit_id=unit_id, code=code, name=name, handles_cases=handles
                )
            )
            report.inserted += 1
        elif (window.name, window.unit_id, window.handles_cases) != (name, unit_id, handles):
            window.name, window.unit_id, window.handles_cases = name, unit_id, handles
            report.updated += 1
        else:
            report.unchanged += 1
    session.flush()
    return hall, report


def _import_roster(
    session: Session,
    hall: Hall,
    index: dict[str, int],
    rows: CsvRows,
    zone: zoneinfo.ZoneInfo,
    report: ImportReport,
) -> None:
    problems: list[str] = []
    windows = dict(
        session.execute(select(Window.code, Window.id).where(Window.hall_id == hall.id))
        .tuples()
        .all()
    )
    names: dict[str, tuple[str, int]] = {}
    parsed: list[tuple[str, str, int, dt.date, dt.date | None]] = []
    keys: list[tuple[Any, int]] = []
    for line, record in rows.numbered():
        row = _Row(line, record, index, problems, zone)
        staff_no = row.text("staff_no", STAFF_NO_LEN)
        name = row.text("name", max_length(Staff.__table__.c.name))
        window_code = row.text("window_code", max_length(Window.__table__.c.code))
        start = row.date("start_date")
        end = row.date("end_date", required=False)
        window_id = windows.get(window_code or "")
        if window_code and window_id is None:
            row.bad("window_code", f'unknown window "{shown(window_code)}" (not in the hall file)')
        if start and end and end < start:
            row.bad("end_date", f"{end} is before start_date {start}")
        if staff_no and name:
            earlier = names.setdefault(staff_no, (name, line))
            if earlier[0] != name:
                row.bad(
                    "name",
                    f'"{shown(name)}" differs from "{shown(earlier[0])}" on line {earlier[1]}',
                )
        if staff_no and start:
            keys.append(((staff_no, start), line))
        if staff_no and name and window_id and start:
            parsed.append((staff_no, name, window_id, start, end))
    _check_unique_keys(keys, "staff_no + start_date", problems)
    if problems:
        raise ImportFailed(problems)

    staff_table = Staff.__table__
    existing_staff = _existing(
        session, staff_table, ("staff_no",), ("hall_id", "name"), staff_table.c.hall_id == hall.id
    )
    sub = ImportReport("staff")
    _upsert(
        session,
        staff_table,
        ("staff_no",),
        [{"hall_id": hall.id, "staff_no": s, "name": n} for s, (n, _) in names.items()],
        existing_staff,
        sub,
    )
    staff = _staff_ids(session, hall)
    table = Assignment.__table__
    existing = _existing(
        session,
        table,
        ("staff_id", "start_date"),
        ("window_id", "end_date"),
        table.c.staff_id.in_(select(Staff.id).where(Staff.hall_id == hall.id)),
    )
    _upsert(
        session,
        table,
        ("staff_id", "start_date"),
        [
            {"staff_id": staff[s], "start_date": start, "window_id": w, "end_date": end}
            for s, _, w, start, end in parsed
        ],
        existing,
        report,
    )
    if sub.inserted or sub.updated:
        report.notes.append(f"staff: {sub.inserted} new, {sub.updated} renamed")


def _no_staff(staff_no: str) -> str:
    """Why a punch's staff number names nobody of the hall."""
    if not staff_no:
        return "is empty"
    if len(staff_no) > STAFF_NO_LEN:
        return f"is longer than {STAFF_NO_LEN} characters"
    return f'unknown staff number "{shown(staff_no)}" (import the roster first)'


def _import_punches(
    session: Session,
    hall: Hall,
    index: dict[str, int],
    rows: CsvRows,
    zone: zoneinfo.ZoneInfo,
    report: ImportReport,
) -> None:
    problems: list[str] = []
    staff = _staff_ids(session, hall)
    i_staff, i_at = index["staff_no"], index["punched_at"]
    i_source = index.get("source")
    fromiso = dt.datetime.fromisoformat
    utc = dt.UTC
    first_year, last_year = FIRST_YEAR, LAST_YEAR
    # Each key's first line: a key twice in the file is refused, naming both lines.
    first_line: dict[tuple[int, dt.datetime], int] = {}
    batch: list[tuple[int, dt.datetime, str]] = []
    inserted, write_rows = 0, store.WRITE_ROWS
    created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    offsets: dict[str, dt.timedelta] = {}
    zero = dt.timedelta(0)
    # The hot loop of a bulk import: plain indexing, no per-row objects.
    for line, record in rows.numbered():
        staff_no = record[i_staff].strip()
        staff_id = staff.get(staff_no)
        if staff_id is None:
            problems.append(f"line {line}, column staff_no: {_no_staff(staff_no)}")
        raw_at = record[i_at].strip()
        try:
            at = fromiso(raw_at)
        except ValueError:
            problems.append(
                f'line {line}, column punched_at: "{shown(raw_at)}" is not an ISO 8601 '
                "date-time (e.g. 2026-09-01T08:30:00)"
            )
            continue
        if not first_year <= at.year <= last_year:
            # Year 1 or 9999 would overflow when moved to UTC (and means nothing here).
            problems.append(
                f'line {line}, column punched_at: "{shown(raw_at)}" is outside {DAY_RANGE}'
            )
            continue
        if at.tzinfo is None:
            # Local wall time: the offset is looked up once per minute of the file,
            # not once per row (zone arithmetic dominated the import before).
            minute = raw_at[:16]
            offset = offsets.get(minute)
            if offset is None:
                offset = offsets[minute] = at.replace(tzinfo=zone).utcoffset() or zero
            at = at - offset
        else:
            at = at.astimezone(utc).replace(tzinfo=None)
        source = record[i_source].strip() if i_source is not None else ""
        if not source:
            source = "import"
        elif source not in PUNCH_SOURCES:
            problems.append(
                f'line {line}, column source: "{shown(source)}" is not one of '
                + ", ".join(PUNCH_SOURCES)
            )
        if staff_id is None:
            continue
        key = (staff_id, at)
        first = first_line.setdefault(key, line)
        if first != line:
            problems.append(f"line {line}: duplicate staff_no + punched_at (first on line {first})")
            continue
        batch.append((staff_id, at, source))
        if len(batch) >= write_rows:
            if not problems:
                inserted += insert_punches(session, batch, created_at)
            batch = []
    if problems:
        raise ImportFailed(problems)
    inserted += insert_punches(session, batch, created_at)
    # Raw punches are never edited: a key already stored is left as it is.
    report.unchanged += len(first_line) - inserted
    report.inserted += inserted


def insert_punches(
    session: Session,
    punches: list[tuple[int, dt.datetime, str]],
    created_at: dt.datetime | None = None,
) -> int:
    """Insert ``(staff_id, punched_at naive UTC, source)`` rows whose key is not stored yet.

    A punch whose ``(staff_id, punched_at)`` is stored already is left as it is (raw
    punches are never edited); returns how many were inserted. This is the hot path of
    a bulk import, so it goes to the driver's ``executemany`` directly. On SQLite the
    instant is written in exactly the text form SQLAlchemy's ``DateTime`` uses, so the
    unique key, comparisons and reads elsewhere see the same values.
    """
    if not punches:
        return 0
    conn = session.connection()
    now = created_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if conn.dialect.name == "sqlite":
        stamp = now.isoformat(" ", "microseconds")
        params: list[tuple[Any, ...]] = [
            (s, at.isoformat(" ", "microseconds"), source, stamp) for s, at, source in punches
        ]
        marks = "?, ?, ?, ?"
    else:
        params = [(s, at, source, now) for s, at, source in punches]
        marks = "%s, %s, %s, %s"
    sql = (
        f"INSERT INTO punches (staff_id, punched_at, source, created_at) VALUES ({marks}) "
        "ON CONFLICT (staff_id, punched_at) DO NOTHING"
    )
    inserted = 0
    for start in range(0, len(params), 50_000):
        inserted += conn.exec_driver_sql(sql, params[start : start + 50_000]).rowcount
    return inserted


def _reasons(row: _Row, allowed: list[str]) -> str | None:
    value = row.raw("reasons")
    if not value:
        return None
    parts = [p.strip() for p in value.split("|")]
    for part in parts:
        if part not in allowed:
            row.bad("reasons", f'"{shown(part)}" is not on the hall\'s list ({"、".join(allowed)})')
    return "|".join(parts)


def _parse_rating(row: _Row, staff: dict[str, int], hall: Hall) -> tuple[dict[str, Any], Any]:
    """One ratings row: its values and its key (rating_id)."""
    allowed = hall.settings.get("rating_reasons") or []
    rating_id = row.text("rating_id", _RATING_ID_LEN)
    rated_at = row.instant("rated_at")
    staff_id = _resolve_staff(row, staff)
    level_text = row.raw("level")
    level = int(level_text) if level_text in ("1", "2", "3", "4", "5") else None
    if level is None:
        row.bad("level", f'"{shown(level_text)}" is not a level 1–5')
    channel = row.choice("channel", RATING_CHANNELS, "other")
    reasons = _reasons(row, allowed)
    if level is not None and level <= 2 and channel in ("counter", "qr") and not reasons:
        row.bad("reasons", "a bad review from a terminal or QR code needs a reason")
    if channel == "default" and (level not in (None, 3) or row.flag("misuse")):
        # SPEC 4.2: a default rating is level 3, never a bad review, never misuse.
        row.bad("channel", "a default rating is level 3 and never misuse")
    review = row.choice("review", REVIEW_VERDICTS, None)
    if review and level is not None and level > 2:
        row.bad("review", "only a bad review (level 1 or 2) is reviewed")
    rectified_at = row.instant("rectified_at", required=False)
    if rectified_at and review != "upheld":
        row.bad("rectified_at", "only an upheld bad review is rectified")
    values = {
        "hall_id": hall.id,
        "rating_id": rating_id,
        "rated_at": rated_at,
        "staff_id": staff_id,
        "level": level,
        "channel": channel,
        "case_no": row.text("case_no", _RATING_CASE_NO_LEN, required=False),
        "reasons": reasons,
        "misuse": row.flag("misuse"),
        "review": review,
        "rectified_at": rectified_at,
    }
    return values, rating_id


def _parse_case(row: _Row, staff: dict[str, int], hall: Hall) -> tuple[dict[str, Any], Any]:
    """One cases row: its values and its key (case_no)."""
    case_no = row.text("case_no", _CASE_NO_LEN)
    staff_id = _resolve_staff(row, staff)
    accepted = row.instant("accepted_at")
    due = row.instant("due_at")
    completed = row.instant("completed_at", required=False)
    weight = row.number("weight", required=False)
    if weight is not None and weight <= 0:
        row.bad("weight", f"{row.raw('weight')} is not a positive weight")
    if accepted and due and due < accepted:
        row.bad("due_at", "is before accepted_at")
    if accepted and completed and completed < accepted:
        row.bad("completed_at", "is before accepted_at")
    values = {
        "hall_id": hall.id,
        "case_no": case_no,
        "staff_id": staff_id,
        "matter": row.text("matter", _MATTER_LEN, required=False),
        "accepted_at": accepted,
        "due_at": due,
        "completed_at": completed,
        "weight": weight,
    }
    return values, case_no


def _parse_absence(row: _Row, staff: dict[str, int], hall: Hall) -> tuple[dict[str, Any], Any]:
    """One absences row: its values and its key (staff + kind + start)."""
    staff_id = _resolve_staff(row, staff)
    kind = row.choice("kind", ABSENCE_KINDS, None, required=True)
    start = row.instant("start")
    end = row.instant("end")
    if start and end and end < start:
        row.bad("end", "is before start")
    values = {
        "staff_id": staff_id,
        "kind": kind,
        "start": start,
        "end": end,
        "note": row.text("note", NOTE_MAX_CHARS, required=False),
    }
    return values, (staff_id, kind, start) if staff_id and kind and start else None


def _parse_event(row: _Row, staff: dict[str, int], hall: Hall) -> tuple[dict[str, Any], Any]:
    """One events row: its values and its key (event_id)."""
    event_id = row.text("event_id", max_length(Event.__table__.c.event_id))
    values = {
        "hall_id": hall.id,
        "event_id": event_id,
        "staff_id": _resolve_staff(row, staff),
        "at": row.instant("at"),
        "kind": row.choice("kind", EVENT_KINDS, None, required=True),
        "category": row.text("category", max_length(Event.__table__.c.category), required=False),
        "points": row.number("points"),
        "veto": row.flag("veto"),
        "note": row.text("note", NOTE_MAX_CHARS, required=False),
    }
    return values, event_id


@dataclass(frozen=True)
class _Keyed:
    """How one keyed kind is read and stored (SPEC 6's re-import key)."""

    parse: Callable[[_Row, dict[str, int], Hall], tuple[dict[str, Any], Any]]
    table: Table
    key_columns: tuple[str, ...]
    what: str
    hall_scoped: bool = True  # False: scoped through the staff member's hall

    def __call__(
        self,
        session: Session,
        hall: Hall,
        index: dict[str, int],
        rows: CsvRows,
        zone: zoneinfo.ZoneInfo,
        report: ImportReport,
    ) -> None:
        problems: list[str] = []
        # A key twice in the file is told after every row's own problems, naming both lines.
        duplicates: list[str] = []
        first_line: dict[Any, int] = {}
        staff = _staff_ids(session, hall)
        if self.hall_scoped:
            scope = self.table.c.hall_id == hall.id
        else:
            scope = self.table.c.staff_id.in_(select(Staff.id).where(Staff.hall_id == hall.id))
        batch: list[dict[str, Any]] = []
        write_rows = store.WRITE_ROWS
        for line, record in rows.numbered():
            values, key = self.parse(_Row(line, record, index, problems, zone), staff, hall)
            if key is not None:
                first = first_line.setdefault(key, line)
                if first != line:
                    duplicates.append(f"line {line}: duplicate {self.what} (first on line {first})")
            batch.append(values)
            if len(batch) >= write_rows:
                if not (problems or duplicates):
                    _write_batch(session, self.table, self.key_columns, batch, report, scope)
                batch = []
        problems += duplicates
        if problems:
            raise ImportFailed(problems)
        _write_batch(session, self.table, self.key_columns, batch, report, scope)
