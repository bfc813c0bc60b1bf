"""The columns of the interchange files are written once (kiosk/interchange/columns.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from kiosk.demo import generate
from kiosk.interchange import COLUMNS, EXPORT_HEADER
from kiosk.interchange.columns import SPEC_COLUMNS

# SPEC 6's table, column for column (optional columns in brackets).
SPEC_TABLE = {
    "roster": "staff_no, name, window_code, start_date, [end_date]",
    "punches": "staff_no, punched_at, [source]",
    "ratings": "rating_id, rated_at, staff_no, level, [channel], [case_no], [reasons], "
    "[misuse], [review], [rectified_at]",
    "cases": "case_no, staff_no, [matter], accepted_at, due_at, [completed_at], [weight]",
    "absences": "staff_no, kind, start, end, [note]",
    "events": "event_id, staff_no, at, kind, [category], points, [veto], [note]",
}


@pytest.mark.parametrize("kind", sorted(SPEC_TABLE))
def test_columns_are_the_spec_table(kind: str) -> None:
    assert ", ".join(SPEC_COLUMNS[kind]) == SPEC_TABLE[kind]


@pytest.mark.parametrize(
    ("kind", "required", "optional"),
    [
        ("roster", ("staff_no", "name", "window_code", "start_date"), ("end_date",)),
        ("punches", ("staff_no", "punched_at"), ("source",)),
        (
            "ratings",
            ("rating_id", "rated_at", "staff_no", "level"),
            ("channel", "case_no", "reasons", "misuse", "review", "rectified_at"),
        ),
        (
            "cases",
            ("case_no", "staff_no", "accepted_at", "due_at"),
            ("matter", "completed_at", "weight"),
        ),
        ("absences", ("staff_no", "kind", "start", "end"), ("note",)),
        (
            "events",
            ("event_id", "staff_no", "at", "kind", "points"),
            ("category", "veto", "note"),
        ),
    ],
)
def test_import_reads_required_and_optional_columns_from_the_one_list(
    kind: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    assert COLUMNS[kind] == (required, optional)
    # The export writes every column, required and optional, in the SPEC's order.
    assert sorted(EXPORT_HEADER[kind]) == sorted(required + optional)
    assert EXPORT_HEADER[kind] == tuple(c.strip("[]") for c in SPEC_COLUMNS[kind])


def test_demo_files_carry_the_shared_header() -> None:
    files = generate(dt.datetime(2026, 11, 5, 12, 0), seed=3)
    assert set(files) == {"hall", *EXPORT_HEADER}
    for kind, header in EXPORT_HEADER.items():
        first = next(csv.reader(io.StringIO(files[kind])))
        assert tuple(first) == header, kind
