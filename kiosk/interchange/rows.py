"""Reading a CSV file into rows with line numbers, and typed access to one row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kiosk.interchange.columns import COLUMNS, EXPORT_HEADER
from kiosk.interchange.report import ImportFailed
from kiosk.localtime import to_storage
from kiosk.textlimits import (
    CONTROL_CHARACTERS,
    DAY_RANGE,
    control_character,
    day_in_range,
    shown,
)

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


def _decode(data: bytes) -> str:
    """The text of a UTF-8 file (a BOM is accepted), or the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFailed(
            [f'line {line}: the file is not UTF-8 (save it as "CSV UTF-8"; byte {exc.start})']
        ) from exc


def _header_problems(header: list[str], kind: str) -> list[str]:
    """What is wrong with a header row: missing, unknown or repeated columns."""
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
    return problems


def _unquoted_rows(text: str, header: list[str], problems: list[str]) -> CsvRows:
    """The data rows of a file without quotes; a row of the wrong width is a problem."""
    # Fast path for unquoted files (every machine export): one record per physical
    # line, so the line number is the position; csv.reader still splits the fields.
    width = len(header)
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
    return CsvRows(records, None)


def _quoted_rows(reader: Any, text: str, header: list[str], problems: list[str]) -> CsvRows:
    """The data rows after the header of ``reader``, each with its first physical line."""
    width = len(header)
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
    return CsvRows(records, lines)


def _read_rows(data: bytes, kind: str) -> tuple[dict[str, int], CsvRows]:
    """Decode a CSV file and check its header; rows come with their line numbers."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ImportFailed(["line 1: the file is empty; expected a header row"]) from None
    except csv.Error as exc:
        raise ImportFailed([_csv_error(exc, 1, text, [])]) from None
    problems = _header_problems(header, kind)
    if problems:
        raise ImportFailed(problems)
    index = {name: i for i, name in enumerate(header)}
    if '"' not in text:
        rows = _unquoted_rows(text, header, problems)
    else:
        rows = _quoted_rows(reader, text, header, problems)
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
