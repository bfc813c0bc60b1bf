"""Reading a CSV file into rows with line numbers, and typed access to one row."""

from __future__ import annotations

import csv
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator, Sequence

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

# One physical line as a file opened with newline="" gives it: ended by \r\n, \r or \n.
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")


def _physical_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` exactly as ``io.StringIO(text, newline="")`` yields them.

    Not through StringIO, which copies the text at four bytes a character as soon as it
    is read (70 MB for a 17 MB file): these are slices, one at a time.
    """
    for match in _PHYSICAL_LINE.finditer(text):
        yield match.group()


def _newline_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` split at "\n" only, each with its "\n" (as
    ``io.StringIO(text, newline="\n")`` yields them, without its copy of the text)."""
    find, start, size = text.find, 0, len(text)
    while start < size:
        end = find("\n", start) + 1
        if not end:
            yield text[start:]
            return
        yield text[start:end]
        start = end


class CsvRows:
    """The data rows of a CSV file, read one at a time as :meth:`numbered` hands them out.

    Nothing is held per row, so a file of half a million rows costs its text and no list
    of records. A file whose rows do not fit its header (a row of the wrong width, broken
    CSV quoting) is refused with those problems alone: once one is found no further row
    is handed out, the rest of the file is only scanned for more, and the iteration ends
    by raising :class:`ImportFailed` with them. An importer therefore writes nothing it
    keeps before the whole file has been read (it runs in one transaction).
    """

    def __init__(self, text: str, header: list[str]) -> None:
        self.text, self.header = text, header
        self.count = 0
        """Rows handed out by the last complete :meth:`numbered`."""

    def numbered(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, record)`` of every data row, each the header's width; raises at the
        end when the file's rows do not fit its header."""
        self.count = 0
        if '"' not in self.text:
            return self._unquoted()
        return self._quoted()

    def _unquoted(self) -> Iterator[tuple[int, list[str]]]:
        # Fast path for unquoted files (every machine export): one record per physical
        # line ("\n" only, as str.split), so the line number is the position; csv.reader
        # still splits the fields.
        width, problems = len(self.header), []
        lines = _newline_lines(self.text)
        next(lines, None)  # the header
        # Blank rows are held back: at the end of the file they are its final newline(s),
        # not rows; before another row they are rows of the file, checked like any.
        blank: list[tuple[int, list[str]]] = []
        number = count = 0
        try:
            for number, record in enumerate(csv.reader(lines), start=2):
                if not (record and record[0].strip()) and not any(f.strip() for f in record):
                    blank.append((number, record))
                    continue
                if blank:
                    for held in blank:
                        if len(held[1]) != width:
                            problems.append(_width_problem(*held, width))
                        elif not problems:
                            count += 1
                            yield held
                    blank.clear()
                if len(record) != width:
                    problems.append(_width_problem(number, record, width))
                elif not problems:
                    count += 1
                    yield number, record
        except csv.Error as exc:
            raise ImportFailed([_csv_error(exc, 0, self.text, self.header)]) from None
        if problems:
            raise ImportFailed(problems)
        self.count = count

    def _quoted(self) -> Iterator[tuple[int, list[str]]]:
        """The data rows after the header, each with the line the csv module ends it on."""
        width, problems, count = len(self.header), [], 0
        reader = csv.reader(_physical_lines(self.text))
        try:
            next(reader, None)  # the header
            for record in reader:
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # blank lines are not rows
                if len(record) != width:
                    problems.append(_width_problem(line, record, width))
                    continue
                if not problems:
                    count += 1
                    yield line, record
        except csv.Error as exc:
            problems.append(_csv_error(exc, reader.line_num, self.text, self.header))
        if problems:
            raise ImportFailed(problems)
        self.count = count


def _width_problem(line: int, record: list[str], width: int) -> str:
    return f"line {line}: {len(record)} fields, but the header has {width} columns"


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


def _read_rows(data: bytes, kind: str) -> tuple[dict[str, int], CsvRows]:
    """Decode a CSV file and check its header; its rows are read as they are consumed.

    The file's text is searched once (in C) for control characters: a file holding one
    is refused here, after the checks of its rows' widths, which come first.
    """
    text = _decode(data)
    reader = csv.reader(_physical_lines(text))
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
    rows = CsvRows(text, header)
    if CONTROL_CHARACTERS.search(text):
        for _row in rows.numbered():
            pass  # rows that do not fit the header are told first
        # The per-field search only runs when the one scan of the text hits.
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
