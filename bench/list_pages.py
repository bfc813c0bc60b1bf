"""Benchmark: the back office's growing lists on a large hall (issue 13).

Reuses the hall of ``bench/score_period.py`` (2,000 staff, about 500,000 punches in one
period by default), loaded into SQLite (a temporary file) or PostgreSQL (its own
database, created and dropped here), then times one page of the punch list as the
service serves it (COUNT + 50 rows): the first page, the last page, a search by name, a
unit filter with a date range, and the Excel export of up to 50,000 rows.

    .venv/bin/python bench/list_pages.py [--staff 2000] [--backend sqlite|postgresql]

Reference: a page under 1 s, the capped export under 30 s, on the 2-core test machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score_period import PG_SERVER, generate, load  # noqa: E402

REFERENCE = {"page": 1.0, "export": 30.0}
PG_DATABASE = "kiosk_bench_lists"


def _cases() -> list[tuple[str, dict[str, str]]]:
    return [
        ("first page", {}),
        ("last page", {"page": "1000000"}),
        ("search by name", {"q": "员工17"}),
        ("unit + dates", {"unit": "U01", "start": "2026-09-01", "end": "2026-09-30"}),
    ]


def measure(uri: str) -> list[tuple[str, float, int, float]]:
    """(what, seconds, rows in the filtered set, reference seconds) per case."""
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.services import listing
    from kiosk.services.halls import resolve_hall

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": True, "SECRET_KEY": os.urandom(32).hex()}
    )
    figures = []
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        for name, args in _cases():
            flt = listing.parse_filter(args)
            started = time.perf_counter()
            page = listing.list_page(db.session, hall, listing.PUNCHES, flt)
            figures.append((name, time.perf_counter() - started, page.total, REFERENCE["page"]))
        started = time.perf_counter()
        rows = listing.export_rows(db.session, hall, listing.PUNCHES, listing.parse_filter({}))
        handle = listing.write_xlsx("punches", listing.PUNCHES.headers(), rows)
        size = handle.seek(0, 2)
        handle.close()
        seconds = time.perf_counter() - started
        figures.append((f"export ({size // 1024} KiB)", seconds, listing.EXPORT_MAX_ROWS, 30.0))
        db.session.remove()
        db.engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    options = parser.parse_args()
    rows: dict[str, Any] = generate(options.staff)
    print(f"hall: {options.staff} staff, {len(rows['punches'])} punches ({options.backend})")
    if options.backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            uri = f"sqlite:///{folder}/bench.sqlite"
            load(uri, rows)
            figures = measure(uri)
    else:
        from sqlalchemy import create_engine, text

        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}"'))
            conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
        try:
            uri = f"{PG_SERVER}/{PG_DATABASE}"
            load(uri, rows)
            figures = measure(uri)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
            admin.dispose()
    print(f"{'case':<24}{'seconds':>9}{'rows':>10}{'reference':>11}")
    for name, seconds, total, reference in figures:
        print(f"{name:<24}{seconds:>9.2f}{total:>10}{reference:>10.1f}s")


if __name__ == "__main__":
    main()
