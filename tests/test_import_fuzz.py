"""Random files for every CSV import (issue 9): exit 0 or 1, never a traceback; 1 changes nothing.

Hypothesis builds small files: raw bytes, and files with the kind's real header whose fields
mix plausible values (staff numbers, dates, levels, kinds) with random text, quotes, commas,
control characters and boundary dates. Bounded in count and size.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.interchange import EXPORT_HEADER
from tests.test_hostile_imports import SMALL, snapshot

PLAUSIBLE = [
    "S001",
    "S002",
    "S999",
    "W01",
    "2026-09-01",
    "2026-09-01T08:30:00",
    "2026-09-01T08:30:00+08:00",
    "0001-01-01T00:00:00+08:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "1",
    "5",
    "-3",
    "1e309",
    "nan",
    "true",
    "false",
    "leave",
    "out",
    "spot_check",
    "counter",
    "qr",
    "default",
    "upheld",
    "态度不好",
    "device",
    "",
]
FIELD = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(',"\n\r\t\x00\x1b 0123456789-:TSZ+'), max_size=12),
)


@st.composite
def csv_files(draw: st.DrawFn, kind: str) -> bytes:
    """A small file for ``kind``: raw bytes, or its header and rows of drawn fields."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=200))
    header = list(EXPORT_HEADER[kind])
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    rows = draw(
        st.lists(
            st.lists(FIELD, min_size=len(header) - 1, max_size=len(header) + 1),
            max_size=4,
        )
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if draw(st.booleans()):
            writer.writerow(row)
        else:
            out.write(",".join(row) + "\n")  # unquoted: the fast path of the reader
    return out.getvalue().encode("utf-8")


KINDS = [k for k in EXPORT_HEADER]


@pytest.fixture
def example_hall_only(runner: FlaskCliRunner) -> None:
    for kind, name in (("hall", "hall.toml"), ("roster", "roster.csv")):
        result = runner.invoke(args=["import", kind, str(SMALL / name)])
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", KINDS)
def test_random_files_never_give_a_traceback(
    app: Flask, runner: FlaskCliRunner, example_hall_only: None, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"{kind}.csv"

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=csv_files(kind))
    def check(data: bytes) -> None:
        before = snapshot(app)
        path.write_bytes(data)
        result = runner.invoke(args=["import", kind, str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"traceback for {data!r}: {result.exception!r}"
        )
        assert result.exit_code in (0, 1), result.output
        if result.exit_code == 1:
            assert "nothing was changed" in result.output
            assert snapshot(app) == before

    check()
