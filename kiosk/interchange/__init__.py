"""Import and export of the CSV and TOML interchange files (SPEC section 6).

An import checks every row first and writes nothing unless all are good; then it
writes in one transaction with set-based Core statements (a bulk import of
half a million punches is a hot path). Re-importing a file changes nothing:
rows are keyed as the SPEC says and only new or changed rows are written.
Raw punches are never updated: a punch whose key exists is left as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from kiosk.interchange.hallfile import HallFileError, parse_hall_file
from kiosk.localtime import hall_zone, local_day_bounds, to_local, to_storage
from kiosk.models import (
    ABSENCE_KINDS,
    EVENT_KINDS,
    PUNCH_SOURCES,
    RATING_CHANNELS,
    REVIEW_VERDICTS,
    Absence,
    Assignment,
    AuditEntry,
    Case,
    Event,
    Hall,
    Punch,
    PunchVoid,
    Rating,
    Staff,
    Unit,
    Window,
)
from kiosk.services.errors import Invalid, Refused
from kiosk.textlimits import (
    CONTROL_CHARACTERS,
    DAY_RANGE,
    FIRST_YEAR,
    LAST_YEAR,
    NOTE_MAX_CHARS,
    control_character,
    day_in_range,
    max_length,
    shown,
)

KINDS = ("hall", "roster", "punches", "ratings", "cases", "absences", "events")

# (required columns, optional columns), in the order export writes them.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "roster": (("staff_no", "name", "window_code", "start_date"), ("end_date",)),
    "punches": (("staff_no", "punched_at"), ("source",)),
    "ratings": (
        ("rating_id", "rated_at", "staff_no", "level"),
        ("channel", "case_no", "reasons", "misuse", "review", "rectified_at"),
    ),
    "cases": (
        ("case_no", "staff_no", "accepted_at", "due_at"),
        ("matter", "completed_at", "weight"),
    ),
    "absences": (("staff_no", "kind", "start", "end"), ("note",)),
    "events": (("event_id", "staff_no", "at", "kind", "points"), ("category", "veto", "note")),
}
# The SPEC's column order (export writes exactly this header).
EXPORT_HEADER: dict[str, tuple[str, ...]] = {
    "roster": ("staff_no", "name", "window_code", "start_date", "end_date"),
    "punches": ("staff_no", "punched_at", "source"),
    "ratings": (
        "rating_id",
        "rated_at",
        "staff_no",
        "level",
        "channel",
        "case_no",
        "reasons",
        "misuse",
        "review",
        "rectified_at",
    ),
    "cases": ("case_no", "staff_no", "matter", "accepted_at", "due_at", "completed_at", "weight"),
    "absences": ("staff_no", "kind", "start", "end", "note"),
    "events": ("event_id", "staff_no", "at", "kind", "category", "points", "veto", "note"),
}


# The message of an import that found another one running (and waited IMPORT_LOCK_WAIT).
IMPORT_BUSY = "另一个导入正在进行，请稍后再试 (another import is running; try again later)"
# Seconds an import waits for a running one to finish before it is refused.
DEFAULT_LOCK_WAIT = 10.0
# PostgreSQL advisory lock key that every import takes (the bytes of "kiosk-im").
IMPORT_LOCK_KEY = int.from_bytes(b"kiosk-im", "big") >> 1


class ImportFailed(Refused):
    """The file was refused; ``problems`` names every bad row by line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("import_failed", "\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    """What an import did."""

    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.kind}: {self.rows} rows, {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )


class HallNotFound(Invalid):
    """No hall, or an ambiguous choice of hall (code ``not_found``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found")


def resolve_hall(session: Session, code: str | None) -> Hall:
    """The hall named by ``code``, or the only hall in the database."""
    if code:
        hall = session.scalar(select(Hall).where(Hall.code == code))
        if hall is None:
            known = ", ".join(session.scalars(select(Hall.code).order_by(Hall.code))) or "none"
            raise HallNotFound(f'unknown hall "{code}" (known halls: {known})')
        return hall
    halls = session.scalars(select(Hall).order_by(Hall.code)).all()
    if not halls:
        raise HallNotFound(
            "no hall yet: import one first with `flask --app kiosk import hall FILE`"
        )
    if len(halls) > 1:
        codes = ", ".join(h.code for h in halls)
        raise HallNotFound(f"several halls in this database ({codes}): name one with --hall CODE")
    return halls[0]


# ---------------------------------------------------------------- reading CSV


@dataclass(frozen=True)
class CsvRows:
    """The data rows of a CSV file; ``lines[i]`` is the file line of ``records[i]``.

    ``lines`` is None when every record is one physical line (line = position + 2),
    so a bulk file costs no per-row bookkeeping.
    """

    records: list[list[str]]
    lines: list[int] | None

    def __len__(self) -> int:
        return len(self.records)

    def line(self, position: int) -> int:
        return position + 2 if self.lines is None else self.lines[position]

    def numbered(self) -> Iterator[tuple[int, list[str]]]:
        if self.lines is None:
            return enumerate(self.records, start=2)
        return zip(self.lines, self.records, strict=True)


# A field of a CSV file is at most this long: the csv module's own limit, which it raises
# on (a 20 MB field must be a message with its line and column, never a traceback).
FIELD_LIMIT = csv.field_size_limit()
# One quoted or unquoted field of a CSV line, to find the column of an over-long field.
_FIELD = re.compile(r'"(?:[^"]|"")*"?|[^,]*')


def _oversized_field(text: str, header: list[str]) -> str:
    """The line and column of the first field longer than :data:`FIELD_LIMIT`."""
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) <= FIELD_LIMIT:
            continue
        position, column = 0, 0
        while position <= len(line):
            match = _FIELD.match(line, position)
            end = match.end() if match else position
            if end - position > FIELD_LIMIT:
                name = header[column] if column < len(header) else f"#{column + 1}"
                return (
                    f"line {number}, column {name}: is larger than {FIELD_LIMIT} characters "
                    "(no field of an import file is that long)"
                )
            position, column = end + 1, column + 1
        return f"line {number}: a field is larger than {FIELD_LIMIT} characters"
    return f"a field is larger than {FIELD_LIMIT} characters"


def _csv_error(exc: csv.Error, line: int, text: str, header: list[str]) -> str:
    if "field larger than field limit" in str(exc):
        return _oversized_field(text, header)
    return f"line {line}: {exc}"


def _control_characters(rows: CsvRows, header: list[str]) -> list[str]:
    """A message for every field that holds a control character (NUL and the like)."""
    problems = []
    for line, record in rows.numbered():
        for column, value in enumerate(record):
            name = control_character(value)
            if name:
                problems.append(
                    f"line {line}, column {header[column]}: contains a control character "
                    f"({name}); remove it"
                )
    return problems


def _read_rows(data: bytes, kind: str) -> tuple[dict[str, int], CsvRows]:
    """Decode a CSV file and check its header; rows come with their line numbers."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFailed(
            [f'line {line}: the file is not UTF-8 (save it as "CSV UTF-8"; byte {exc.start})']
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFailed(["line 1: the file is empty; expected a header row"]) from None
    except csv.Error as exc:
        raise ImportFailed([_csv_error(exc, 1, text, [])]) from None
    required, optional = COLUMNS[kind]
    problems = []
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    unknown = [shown(c) for c in header if c not in required + optional]
    if unknown:
        allowed = ", ".join(EXPORT_HEADER[kind])
        problems.append(f"line 1: unknown column(s) {', '.join(unknown)} (columns: {allowed})")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        problems.append(f"line 1: column(s) {', '.join(duplicated)} appear more than once")
    if problems and len(header) == 1 and any(sep in header[0] for sep in ";\t"):
        problems.append("line 1: the file is not comma-separated; save it as CSV with commas")
    if problems:
        raise ImportFailed(problems)
    index = {name: i for i, name in enumerate(header)}
    width = len(header)
    if '"' not in text:
        # Fast path for unquoted files (every machine export): one record per physical
        # line, so the line number is the position; csv.reader still splits the fields.
        try:
            records = list(csv.reader(text.split("\n")[1:]))
        except csv.Error as exc:
            raise ImportFailed([_csv_error(exc, 0, text, header)]) from None
        while records and not any(field.strip() for field in records[-1]):
            records.pop()  # the newline at the end of the file
        for number, record in enumerate(records, start=2):
            if len(record) != width:
                problems.append(
                    f"line {number}: {len(record)} fields, but the header has {width} columns"
                )
        rows = CsvRows(records, None)
    else:
        records, lines = [], []
        try:
            for record in reader:
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # blank lines are not rows
                if len(record) != width:
                    problems.append(
                        f"line {line}: {len(record)} fields, but the header has {width} columns"
                    )
                    continue
                records.append(record)
                lines.append(line)
        except csv.Error as exc:
            problems.append(_csv_error(exc, reader.line_num, text, header))
        rows = CsvRows(records, lines)
    if problems:
        raise ImportFailed(problems)
    if CONTROL_CHARACTERS.search(text):
        # One scan of the whole text in C; the per-field search only runs when it hits.
        problems = _control_characters(rows, header)
        if not problems:
            problems = [f"line 1: a column name contains a control character ({shown(text[:80])})"]
        raise ImportFailed(problems)
    return index, rows


class _Row:
    """Typed access to one CSV row that records problems instead of raising."""

    __slots__ = ("line", "record", "index", "problems", "zone")

    def __init__(
        self,
        line: int,
        record: list[str],
        index: dict[str, int],
        problems: list[str],
        zone: zoneinfo.ZoneInfo,
    ) -> None:
        self.line, self.record, self.index = line, record, index
        self.problems, self.zone = problems, zone

    def raw(self, column: str) -> str:
        i = self.index.get(column)
        return self.record[i].strip() if i is not None else ""

    def bad(self, column: str, message: str) -> None:
        self.problems.append(f"line {self.line}, column {column}: {message}")

    def text(self, column: str, max_len: int, required: bool = True) -> str | None:
        """A text of at most ``max_len`` characters (the schema's length of its column)."""
        value = self.raw(column)
        if not value:
            if required:
                self.bad(column, "is empty")
            return None
        if len(value) > max_len:
            self.bad(column, f"is longer than {max_len} characters")
        return value

    def out_of_range(self, column: str, value: dt.date) -> bool:
        """Report a date outside the accepted range (it could overflow in conversion)."""
        if day_in_range(value):
            return False
        self.bad(column, f'"{shown(self.raw(column))}" is outside {DAY_RANGE}')
        return True

    def instant(self, column: str, required: bool = True) -> dt.datetime | None:
        value = self.raw(column)
        if not value:
            if required:
                self.bad(column, "is empty; expected a date-time such as 2026-09-01T08:30:00")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.bad(
                column,
                f'"{shown(value)}" is not an ISO 8601 date-time (e.g. 2026-09-01T08:30:00)',
            )
            return None
        if self.out_of_range(column, parsed):
            return None
        return to_storage(parsed, self.zone)

    def date(self, column: str, required: bool = True) -> dt.date | None:
        value = self.raw(column)
        if not value:
            if required:
                self.bad(column, "is empty; expected a date such as 2026-09-01")
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            self.bad(column, f'"{shown(value)}" is not a date YYYY-MM-DD')
            return None
        return None if self.out_of_range(column, day) else day

    def choice(
        self, column: str, allowed: Sequence[str], default: str | None, required: bool = False
    ) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.bad(column, f"is empty; expected one of {', '.join(allowed)}")
            return default
        if value not in allowed:
            self.bad(column, f'"{shown(value)}" is not one of {", ".join(allowed)}')
            return default
        return value

    def flag(self, column: str) -> bool:
        value = self.raw(column).lower()
        if value in ("", "false"):
            return False
        if value == "true":
            return True
        self.bad(column, f'"{shown(self.raw(column))}" is not true or false')
        return False

    def number(self, column: str, required: bool = True) -> float | None:
        value = self.raw(column)
        if not value:
            if required:
                self.bad(column, "is empty; expected a number")
            return None
        try:
            number = float(value)
        except ValueError:
            self.bad(column, f'"{shown(value)}" is not a number')
            return None
        if number != number or number in (float("inf"), float("-inf")):
            self.bad(column, f'"{shown(value)}" is not a finite number')
            return None
        return number


def _check_unique_keys(keyed: Iterable[tuple[Any, int]], what: str, problems: list[str]) -> None:
    """Report keys that appear on more than one line of the file."""
    first_line: dict[Any, int] = {}
    for key, line in keyed:
        if key in first_line:
            problems.append(f"line {line}: duplicate {what} (first on line {first_line[key]})")
        else:
            first_line[key] = line


def _staff_ids(session: Session, hall: Hall) -> dict[str, int]:
    return dict(
        session.execute(select(Staff.staff_no, Staff.id).where(Staff.hall_id == hall.id))
        .tuples()
        .all()
    )


STAFF_NO_LEN = max_length(Staff.__table__.c.staff_no)


def _resolve_staff(row: _Row, staff: dict[str, int]) -> int | None:
    staff_no = row.text("staff_no", STAFF_NO_LEN)
    if staff_no is None:
        return None
    staff_id = staff.get(staff_no)
    if staff_id is None and len(staff_no) <= STAFF_NO_LEN:
        row.bad("staff_no", f'unknown staff number "{shown(staff_no)}" (import the roster first)')
    return staff_id


# ------------------------------------------------------------ writing changes


def _upsert(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    existing: dict[tuple[Any, ...], tuple[int, dict[str, Any]]],
    report: ImportReport,
    immutable: bool = False,
) -> None:
    """Insert new rows and update changed ones, both as executemany statements."""
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for values in rows:
        key = tuple(values[c] for c in key_columns)
        found = existing.get(key)
        if found is None:
            new.append(values)
            continue
        row_id, stored = found
        if immutable or all(stored.get(c) == v for c, v in values.items()):
            report.unchanged += 1
            continue
        changed.append({"_id": row_id, **values})
    if new:
        session.execute(insert(table), new)
    if changed:
        columns = [c for c in changed[0] if c != "_id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in columns})
        )
        session.execute(stmt, changed)
    report.inserted += len(new)
    report.updated += len(changed)


def _existing(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    value_columns: Iterable[str],
    where: Any,
) -> dict[tuple[Any, ...], tuple[int, dict[str, Any]]]:
    cols = list(dict.fromkeys([*key_columns, *value_columns]))
    stmt = select(table.c.id, *(table.c[c] for c in cols)).where(where)
    found: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    for record in session.execute(stmt):
        values = dict(zip(cols, record[1:], strict=True))
        found[tuple(values[c] for c in key_columns)] = (record[0], values)
    return found


def _store(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    value_columns: Iterable[str],
    parsed: list[dict[str, Any]],
    keys: list[tuple[Any, int]],
    what: str,
    problems: list[str],
    report: ImportReport,
    scope: Any,
) -> None:
    """Refuse the file on any problem (a key twice in it included), else upsert by key."""
    _check_unique_keys(keys, what, problems)
    if problems:
        raise ImportFailed(problems)
    existing = _existing(session, table, key_columns, value_columns, scope)
    _upsert(session, table, key_columns, parsed, existing, report)


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
            code=parsed.code, name=parsed.name, timezone=parsed.timezone, settings=parsed.settings
        )
        session.add(hall)
        session.flush()
        report.inserted += 1
    elif (hall.name, hall.timezone, hall.settings) != (
        parsed.name,
        parsed.timezone,
        parsed.settings,
    ):
        hall.name, hall.timezone, hall.settings = parsed.name, parsed.timezone, parsed.settings
        report.updated += 1
    else:
        report.unchanged += 1

    units = {u.code: u for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    for code, name in parsed.units:
        unit = units.get(code)
        if unit is None:
            units[code] = unit = Unit(hall_id=hall.id, code=code, name=name)
            session.add(unit)
            report.inserted += 1
        elif unit.name != name:
            unit.name = name
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
    parsed: dict[tuple[int, dt.datetime], str] = {}
    first_position: dict[tuple[int, dt.datetime], int] = {}
    line = rows.line
    offsets: dict[str, dt.timedelta] = {}
    zero = dt.timedelta(0)
    # The hot loop of a bulk import: plain indexing, no per-row objects.
    for position, record in enumerate(rows.records):
        staff_no = record[i_staff].strip()
        staff_id = staff.get(staff_no)
        if staff_id is None:
            if not staff_no:
                why = "is empty"
            elif len(staff_no) > STAFF_NO_LEN:
                why = f"is longer than {STAFF_NO_LEN} characters"
            else:
                why = f'unknown staff number "{shown(staff_no)}" (import the roster first)'
            problems.append(f"line {line(position)}, column staff_no: {why}")
        raw_at = record[i_at].strip()
        try:
            at = fromiso(raw_at)
        except ValueError:
            problems.append(
                f'line {line(position)}, column punched_at: "{shown(raw_at)}" is not an ISO 8601 '
                "date-time (e.g. 2026-09-01T08:30:00)"
            )
            continue
        if not first_year <= at.year <= last_year:
            # Year 1 or 9999 would overflow when moved to UTC (and means nothing here).
            problems.append(
                f'line {line(position)}, column punched_at: "{shown(raw_at)}" is outside {DAY_RANGE}'
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
                f'line {line(position)}, column source: "{shown(source)}" is not one of '
                + ", ".join(PUNCH_SOURCES)
            )
        if staff_id is None:
            continue
        key = (staff_id, at)
        if key in parsed:
            problems.append(
                f"line {line(position)}: duplicate staff_no + punched_at "
                f"(first on line {line(first_position[key])})"
            )
            continue
        parsed[key] = source
        first_position[key] = position
    if problems:
        raise ImportFailed(problems)
    if not parsed:
        return
    table = Punch.__table__
    earliest = min(at for _, at in parsed)
    latest = max(at for _, at in parsed)
    existing = set(
        session.execute(
            select(table.c.staff_id, table.c.punched_at)
            .join(Staff.__table__, Staff.__table__.c.id == table.c.staff_id)
            .where(
                Staff.__table__.c.hall_id == hall.id, table.c.punched_at.between(earliest, latest)
            )
        ).tuples()
    )
    new = [(s, at, source) for (s, at), source in parsed.items() if (s, at) not in existing]
    # Raw punches are never edited: an existing key is left as it is.
    report.unchanged += len(parsed) - len(new)
    insert_punches(session, new)
    report.inserted += len(new)


def insert_punches(session: Session, punches: list[tuple[int, dt.datetime, str]]) -> None:
    """Bulk-insert ``(staff_id, punched_at naive UTC, source)`` rows on the session's connection.

    This is the hot path of a bulk import, so it goes to the driver's ``executemany``
    directly. On SQLite the instant is written in exactly the text form SQLAlchemy's
    ``DateTime`` uses, so comparisons and reads elsewhere see the same values.
    """
    if not punches:
        return
    conn = session.connection()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if conn.dialect.name == "sqlite":
        stamp = now.isoformat(" ", "microseconds")
        params: list[tuple[Any, ...]] = [
            (s, at.isoformat(" ", "microseconds"), source, stamp) for s, at, source in punches
        ]
        sql = "INSERT INTO punches (staff_id, punched_at, source, created_at) VALUES (?, ?, ?, ?)"
    else:
        params = [(s, at, source, now) for s, at, source in punches]
        sql = (
            "INSERT INTO punches (staff_id, punched_at, source, created_at) VALUES (%s, %s, %s, %s)"
        )
    for start in range(0, len(params), 50_000):
        conn.exec_driver_sql(sql, params[start : start + 50_000])


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
    rating_id = row.text("rating_id", max_length(Rating.__table__.c.rating_id))
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
        "case_no": row.text("case_no", max_length(Rating.__table__.c.case_no), required=False),
        "reasons": reasons,
        "misuse": row.flag("misuse"),
        "review": review,
        "rectified_at": rectified_at,
    }
    return values, rating_id


def _parse_case(row: _Row, staff: dict[str, int], hall: Hall) -> tuple[dict[str, Any], Any]:
    """One cases row: its values and its key (case_no)."""
    case_no = row.text("case_no", max_length(Case.__table__.c.case_no))
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
        "matter": row.text("matter", max_length(Case.__table__.c.matter), required=False),
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
        staff = _staff_ids(session, hall)
        parsed: list[dict[str, Any]] = []
        keys: list[tuple[Any, int]] = []
        for line, record in rows.numbered():
            values, key = self.parse(_Row(line, record, index, problems, zone), staff, hall)
            if key is not None:
                keys.append((key, line))
            parsed.append(values)
        if self.hall_scoped:
            scope = self.table.c.hall_id == hall.id
        else:
            scope = self.table.c.staff_id.in_(select(Staff.id).where(Staff.hall_id == hall.id))
        _store(
            session,
            self.table,
            self.key_columns,
            parsed[0].keys() if parsed else (),
            parsed,
            keys,
            self.what,
            problems,
            report,
            scope,
        )


_IMPORTERS: dict[str, Callable[..., None]] = {
    "roster": _import_roster,
    "punches": _import_punches,
    "ratings": _Keyed(_parse_rating, Rating.__table__, ("rating_id",), "rating_id"),
    "cases": _Keyed(_parse_case, Case.__table__, ("case_no",), "case_no"),
    "absences": _Keyed(
        _parse_absence,
        Absence.__table__,
        ("staff_id", "kind", "start"),
        "staff_no + kind + start",
        hall_scoped=False,
    ),
    "events": _Keyed(_parse_event, Event.__table__, ("event_id",), "event_id"),
}


def take_import_lock(session: Session, wait: float) -> None:
    """Begin the import's transaction holding the one import lock, or raise ImportFailed.

    Imports run one at a time: two at once would both read "not there yet" and write the
    same rows (PostgreSQL) or fail to upgrade a stale read to a write (SQLite). The lock
    is held until the transaction ends, so a crashed import never leaves it behind: on
    PostgreSQL a transaction-level advisory lock, on SQLite the database's write lock
    (``BEGIN IMMEDIATE``). The second import waits up to ``wait`` seconds, then is refused.
    """
    conn = session.connection()
    deadline = time.monotonic() + wait
    if conn.dialect.name == "postgresql":
        try_lock = text("SELECT pg_try_advisory_xact_lock(:key)")
        while not conn.execute(try_lock, {"key": IMPORT_LOCK_KEY}).scalar():
            if time.monotonic() >= deadline:
                raise ImportFailed([IMPORT_BUSY])
            time.sleep(0.05)
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is None or raw.in_transaction:
            return  # this transaction already writes, so it holds the write lock
        previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout = {max(0, int(wait * 1000))}")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ImportFailed([IMPORT_BUSY]) from None
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(previous)}")


def import_file(
    session: Session,
    kind: str,
    data: bytes,
    hall_code: str | None = None,
    source_name: str | None = None,
    user_id: int | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
) -> ImportReport:
    """Import one file, all or nothing; commit on success, roll back and raise on failure.

    Only one import runs at a time; another one waits up to ``lock_wait`` seconds for it
    (see :func:`take_import_lock`) and is then refused with :data:`IMPORT_BUSY`.
    """
    if kind not in KINDS:
        raise ImportFailed([f'unknown kind "{kind}" (one of {", ".join(KINDS)})'])
    try:
        take_import_lock(session, lock_wait)
        if kind == "hall":
            hall, report = import_hall(session, data)
        else:
            hall = resolve_hall(session, hall_code)
            index, rows = _read_rows(data, kind)
            report = ImportReport(kind, rows=len(rows))
            _IMPORTERS[kind](session, hall, index, rows, hall_zone(hall.timezone), report)
        if report.inserted or report.updated:
            session.add(
                AuditEntry(
                    user_id=user_id,
                    hall_id=hall.id,
                    action="import",
                    object_type=kind,
                    object_id=None,
                    before=None,
                    after={
                        "rows": report.rows,
                        "inserted": report.inserted,
                        "updated": report.updated,
                    },
                    reason=source_name,
                )
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report


# ------------------------------------------------------------------- exporting


def _fmt_instant(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return to_local(value, zone).isoformat() if value is not None else ""


def _fmt_number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _fmt_flag(value: bool) -> str:
    return "true" if value else "false"


def export_rows(
    session: Session, kind: str, hall: Hall, first: dt.date | None, last: dt.date | None
) -> Iterator[list[str]]:
    """Rows of an export, header first, for local dates ``first``..``last`` inclusive."""
    zone = hall_zone(hall.timezone)
    lo, hi = local_day_bounds(first or dt.date(1900, 1, 1), last or dt.date(9998, 12, 30), zone)
    s = Staff.__table__
    yield list(EXPORT_HEADER[kind])
    if kind == "roster":
        a, w = Assignment.__table__, Window.__table__
        stmt = (
            select(s.c.staff_no, s.c.name, w.c.code, a.c.start_date, a.c.end_date)
            .join(a, a.c.staff_id == s.c.id)
            .join(w, w.c.id == a.c.window_id)
            .where(s.c.hall_id == hall.id)
            .order_by(s.c.staff_no, a.c.start_date)
        )
        if last:
            stmt = stmt.where(a.c.start_date <= last)
        if first:
            stmt = stmt.where((a.c.end_date.is_(None)) | (a.c.end_date >= first))
        for staff_no, name, code, start, end in session.execute(stmt):
            yield [staff_no, name, code, start.isoformat(), end.isoformat() if end else ""]
    elif kind == "punches":
        p, v = Punch.__table__, PunchVoid.__table__
        stmt = (
            select(s.c.staff_no, p.c.punched_at, p.c.source)
            .join(p, p.c.staff_id == s.c.id)
            .outerjoin(v, v.c.punch_id == p.c.id)
            .where(
                s.c.hall_id == hall.id, v.c.id.is_(None), p.c.punched_at >= lo, p.c.punched_at < hi
            )
            .order_by(s.c.staff_no, p.c.punched_at)
        )
        for staff_no, at, source in session.execute(stmt):
            yield [staff_no, _fmt_instant(at, zone), source]
    elif kind == "ratings":
        r = Rating.__table__
        stmt = (
            select(
                r.c.rating_id,
                r.c.rated_at,
                s.c.staff_no,
                r.c.level,
                r.c.channel,
                r.c.case_no,
                r.c.reasons,
                r.c.misuse,
                r.c.review,
                r.c.rectified_at,
            )
            .join(s, s.c.id == r.c.staff_id)
            .where(r.c.hall_id == hall.id, r.c.rated_at >= lo, r.c.rated_at < hi)
            .order_by(r.c.rated_at, r.c.rating_id)
        )
        for (
            rid,
            at,
            staff_no,
            level,
            channel,
            case_no,
            reasons,
            misuse,
            review,
            rect,
        ) in session.execute(stmt):
            yield [
                rid,
                _fmt_instant(at, zone),
                staff_no,
                str(level),
                channel,
                case_no or "",
                reasons or "",
                _fmt_flag(misuse),
                review or "",
                _fmt_instant(rect, zone),
            ]
    elif kind == "cases":
        c = Case.__table__
        stmt = (
            select(
                c.c.case_no,
                s.c.staff_no,
                c.c.matter,
                c.c.accepted_at,
                c.c.due_at,
                c.c.completed_at,
                c.c.weight,
            )
            .join(s, s.c.id == c.c.staff_id)
            .where(c.c.hall_id == hall.id, c.c.accepted_at >= lo, c.c.accepted_at < hi)
            .order_by(c.c.case_no)
        )
        for case_no, staff_no, matter, accepted, due, completed, weight in session.execute(stmt):
            yield [
                case_no,
                staff_no,
                matter or "",
                _fmt_instant(accepted, zone),
                _fmt_instant(due, zone),
                _fmt_instant(completed, zone),
                _fmt_number(weight),
            ]
    elif kind == "absences":
        ab = Absence.__table__
        stmt = (
            select(s.c.staff_no, ab.c.kind, ab.c.start, ab.c.end, ab.c.note)
            .join(s, s.c.id == ab.c.staff_id)
            .where(s.c.hall_id == hall.id, ab.c.start >= lo, ab.c.start < hi)
            .order_by(s.c.staff_no, ab.c.start, ab.c.kind)
        )
        for staff_no, kind_, start, end, note in session.execute(stmt):
            yield [staff_no, kind_, _fmt_instant(start, zone), _fmt_instant(end, zone), note or ""]
    elif kind == "events":
        e = Event.__table__
        stmt = (
            select(
                e.c.event_id,
                s.c.staff_no,
                e.c.at,
                e.c.kind,
                e.c.category,
                e.c.points,
                e.c.veto,
                e.c.note,
            )
            .join(s, s.c.id == e.c.staff_id)
            .where(e.c.hall_id == hall.id, e.c.at >= lo, e.c.at < hi)
            .order_by(e.c.at, e.c.event_id)
        )
        for event_id, staff_no, at, kind_, category, points, veto, note in session.execute(stmt):
            yield [
                event_id,
                staff_no,
                _fmt_instant(at, zone),
                kind_,
                category or "",
                _fmt_number(points),
                _fmt_flag(veto),
                note or "",
            ]
    else:
        raise ValueError(f'unknown export kind "{kind}"')


def write_csv(rows: Iterable[list[str]], out: io.TextIOBase | Any) -> int:
    """Write rows as CSV; return the number of data rows."""
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for row in rows:
        writer.writerow(row)
        count += 1
    return max(count, 0)
