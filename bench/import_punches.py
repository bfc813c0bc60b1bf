"""Benchmark: ``import punches`` of 500,000 punches for 2,000 staff.

Prints rows per second of the service's import (all checks, time zone conversion,
re-import keys, one transaction) beside a plain ``csv`` + ``sqlite3.executemany``
into a table of the same shape, measured in the same run, and their ratio
(target: at least 0.3).

    .venv/bin/python bench/import_punches.py [--punches 500000] [--staff 2000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HALL_TOML = """
[hall]
code = "BENCH"
name = "基准测试大厅"
timezone = "Asia/Shanghai"
[[schedule]]
name = "all"
from = "01-01"
to = "12-31"
am = ["08:30", "12:00"]
pm = ["14:00", "17:30"]
[[unit]]
code = "U1"
name = "单位"
[[window]]
code = "W01"
name = "窗口"
unit = "U1"
"""


def make_files(root: Path, punches: int, staff: int) -> tuple[Path, Path]:
    """Write a roster and a punches CSV (four punches a day per person, shuffled times)."""
    roster = root / "roster.csv"
    with roster.open("w", encoding="utf-8", newline="") as out:
        out.write("staff_no,name,window_code,start_date,end_date\n")
        for i in range(staff):
            out.write(f"S{i:05d},员工{i},W01,2026-01-01,\n")
    rng = random.Random(7)
    path = root / "punches.csv"
    start = dt.datetime(2026, 9, 1)
    per_staff = punches // staff
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("staff_no,punched_at,source\n")
        for i in range(staff):
            for n in range(per_staff):
                day, slot = divmod(n, 4)
                at = start + dt.timedelta(
                    days=day, hours=(8, 12, 14, 17)[slot], seconds=rng.randrange(0, 3600)
                )
                out.write(f"S{i:05d},{at.isoformat()},device\n")
    return roster, path


def reference(path: Path, db_path: Path) -> float:
    """Plain csv + sqlite3.executemany into a table of the same shape; seconds."""
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE punches (id INTEGER PRIMARY KEY, staff_id INTEGER, punched_at DATETIME,"
        " source VARCHAR(16), created_at DATETIME, UNIQUE (staff_id, punched_at))"
    )
    staff = {f"S{i:05d}": i for i in range(100_000)}
    with path.open(encoding="utf-8", newline="") as src:
        reader = csv.reader(src)
        next(reader)
        rows = [(staff[r[0]], r[1], r[2] or "import") for r in reader]
    conn.executemany(
        "INSERT INTO punches (staff_id, punched_at, source, created_at)"
        " VALUES (?, ?, ?, CURRENT_TIMESTAMP)",
        rows,
    )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def service(roster: Path, path: Path, db_path: Path) -> tuple[float, str]:
    """The service's own import (as ``flask import punches`` runs it); seconds and summary."""
    from flask_migrate import upgrade

    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.interchange import import_file

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": secrets.token_hex(32)}
    )
    with app.app_context():
        upgrade()
        import_file(db.session, "hall", HALL_TOML.encode())
        import_file(db.session, "roster", roster.read_bytes())
        data = path.read_bytes()
        started = time.perf_counter()
        report = import_file(db.session, "punches", data)
        elapsed = time.perf_counter() - started
        again = time.perf_counter()
        second = import_file(db.session, "punches", data)
        reimport = time.perf_counter() - again
    return elapsed, f"{report.summary()}; re-import {reimport:.2f} s ({second.summary()})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--punches", type=int, default=500_000)
    parser.add_argument("--staff", type=int, default=2_000)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        roster, path = make_files(root, args.punches, args.staff)
        rows = path.read_bytes().count(b"\n") - 1
        ref = reference(path, root / "reference.sqlite")
        ours, summary = service(roster, path, root / "service.sqlite")
    print(f"rows: {rows}")
    print(f"reference csv+sqlite3.executemany: {ref:.2f} s, {rows / ref:,.0f} rows/s")
    print(f"kiosk import punches:              {ours:.2f} s, {rows / ours:,.0f} rows/s")
    print(f"ratio (target >= 0.3): {ref / ours:.2f}")
    print(summary)


if __name__ == "__main__":
    main()
