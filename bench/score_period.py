"""Benchmark: score one period of a large hall, read from the database and computed.

Generates a hall of 2,000 staff at 100 windows with about 500,000 punches, 200,000
ratings and 150,000 cases in period 2026-B5, inserted with Core bulk inserts into
SQLite (a temporary file) and PostgreSQL (its own database ``kiosk_bench``, created and
dropped here). Each backend is then scored in a fresh subprocess, so the peak memory
reported is the scoring's own: wall seconds of ``score_hall_period`` (database read +
pure computation) and the process's peak resident set size (VmHWM).

    .venv/bin/python bench/score_period.py [--staff 2000] [--backend sqlite|postgresql|both]

Target: under 10 s and under 500 MB per backend.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_DATABASE = "kiosk_bench"
PERIOD = "2026-B5"
AS_OF = "2026-11-15T00:00:00+08:00"
UTC_OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai: local − 8 h is the stored naive UTC
SETTINGS: dict[str, Any] = {
    "schedules": [
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
    ],
    "grace_minutes": 5,
    "debounce_seconds": 60,
    "closed_days": ["2026-10-16"],
    "extra_workdays": ["2026-09-12"],
    "rating_reasons": ["态度不好", "效率低", "业务不熟", "推诿扯皮", "解释不清", "其他"],
}
CHUNK = 50_000


def _utc(local: dt.datetime) -> dt.datetime:
    return local - UTC_OFFSET


def generate(staff_count: int, seed: int = 20261115) -> dict[str, list[dict[str, Any]]]:
    """Rows for every table, as Core insert parameters (ids assigned here)."""
    from kiosk.rules.calendar import Period, schedule_for, workdays
    from kiosk.rules.settings import calendar_from_settings

    rng = random.Random(seed)
    calendar = calendar_from_settings(SETTINGS)
    period = Period.parse(PERIOD)
    days = workdays(period.first_day, period.last_day, calendar)
    created = dt.datetime(2026, 11, 1)
    windows_count = max(1, staff_count // 20)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in ("halls", "units", "windows", "staff")}
    rows["halls"].append(
        {
            "id": 1,
            "code": "BENCH",
            "name": "基准测试大厅",
            "timezone": "Asia/Shanghai",
            "settings": SETTINGS,
            "updated_at": created,
        }
    )
    for u in range(10):
        rows["units"].append({"id": u + 1, "hall_id": 1, "code": f"U{u:02d}", "name": f"单位{u}"})
    for w in range(windows_count):
        rows["windows"].append(
            {
                "id": w + 1,
                "hall_id": 1,
                "unit_id": w % 10 + 1,
                "code": f"W{w:03d}",
                "name": f"窗口{w}",
                "handles_cases": w % 20 != 19,  # a few consultation desks
            }
        )
    assignments: list[dict[str, Any]] = []
    punches: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    absences: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    plans = {}
    for day in days:
        schedule = schedule_for(day, calendar.schedules)
        assert schedule is not None
        plans[day] = [dt.datetime.combine(day, t) for t in (*schedule.am, *schedule.pm)]
    span = (
        dt.datetime.combine(period.last_day, dt.time(23, 59))
        - dt.datetime.combine(period.first_day, dt.time())
    ).total_seconds()
    period_start = dt.datetime.combine(period.first_day, dt.time())
    rating_no = case_no = 0
    for s in range(staff_count):
        sid = s + 1
        rows["staff"].append(
            {"id": sid, "hall_id": 1, "staff_no": f"S{s:05d}", "name": f"员工{s}", "photo": None}
        )
        window = s % windows_count + 1
        assignments.append(
            {
                "id": len(assignments) + 1,
                "staff_id": sid,
                "window_id": window,
                "start_date": dt.date(2025, 1, 1),
                "end_date": None,
            }
        )
        if s % 10 == 0:  # a move mid-period
            assignments.append(
                {
                    "id": len(assignments) + 1,
                    "staff_id": sid,
                    "window_id": (window % windows_count) + 1,
                    "start_date": dt.date(2026, 10, 12),
                    "end_date": None,
                }
            )
        for day in days:
            if rng.random() < 0.01:
                continue  # a day without punches
            for slot, reference in enumerate(plans[day]):
                if rng.random() < 0.01:
                    continue  # a missing punch
                arriving = slot in (0, 2)
                jitter = rng.gauss(-12, 8) if arriving else rng.gauss(6, 5)
                at = (reference + dt.timedelta(minutes=jitter)).replace(microsecond=0)
                punches.append(
                    {
                        "staff_id": sid,
                        "punched_at": _utc(at),
                        "source": "device",
                        "created_at": created,
                    }
                )
                if rng.random() < 0.55:  # pressed again within the debounce
                    again = at + dt.timedelta(seconds=rng.randint(3, 40))
                    punches.append(
                        {
                            "staff_id": sid,
                            "punched_at": _utc(again),
                            "source": "device",
                            "created_at": created,
                        }
                    )
        for _ in range(100):
            rating_no += 1
            at = period_start + dt.timedelta(seconds=rng.random() * span)
            level = rng.choices((5, 4, 3, 2, 1), (70, 20, 6, 3, 1))[0]
            bad = level <= 2
            review = rng.choice(("upheld", "upheld", "unfounded")) if bad else None
            rectified = (
                at + dt.timedelta(days=rng.choice((1, 3, 6, 9)))
                if review == "upheld" and rng.random() < 0.9
                else None
            )
            ratings.append(
                {
                    "hall_id": 1,
                    "rating_id": f"R{rating_no:07d}",
                    "staff_id": sid,
                    "rated_at": _utc(at),
                    "level": level,
                    "channel": "counter",
                    "reasons": "态度不好" if bad else None,
                    "misuse": rng.random() < 0.01,
                    "review": review,
                    "rectified_at": None if rectified is None else _utc(rectified),
                }
            )
        for _ in range(75):
            case_no += 1
            done = period_start + dt.timedelta(seconds=rng.random() * span)
            due = done + dt.timedelta(hours=rng.choice((-5, 24, 48, 72)))
            cases.append(
                {
                    "hall_id": 1,
                    "case_no": f"C{case_no:08d}",
                    "staff_id": sid,
                    "matter": "设立登记",
                    "accepted_at": _utc(done - dt.timedelta(days=2)),
                    "due_at": _utc(due),
                    "completed_at": _utc(done),
                    "weight": rng.choice((None, None, None, 2.0, 0.5)),
                }
            )
        if s % 7 == 0:
            day = rng.choice(days)
            absences.append(
                {
                    "staff_id": sid,
                    "kind": rng.choice(("leave", "out")),
                    "start": _utc(dt.datetime.combine(day, dt.time(8))),
                    "end": _utc(dt.datetime.combine(day, dt.time(18))),
                    "note": None,
                    "created_at": created,
                }
            )
        if s % 10 == 0:
            events.append(
                {
                    "hall_id": 1,
                    "event_id": f"E{s:06d}",
                    "staff_id": sid,
                    "at": _utc(dt.datetime.combine(rng.choice(days), dt.time(10))),
                    "kind": "commendation" if s % 20 else "spot_check",
                    "category": None,
                    "points": 2.0 if s % 20 else -2.0,
                    "veto": s % 200 == 0,
                    "note": None,
                }
            )
    rows.update(
        assignments=assignments,
        punches=punches,
        ratings=ratings,
        cases=cases,
        absences=absences,
        events=events,
    )
    return rows


def load(uri: str, rows: dict[str, list[dict[str, Any]]]) -> float:
    """Migrate an empty database at ``uri`` and bulk insert the rows; returns seconds."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from kiosk import create_app
    from kiosk.extensions import db

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": True, "SECRET_KEY": os.urandom(32).hex()}
    )
    started = time.perf_counter()
    with app.app_context():
        upgrade()
        tables = db.metadata.tables
        with db.engine.begin() as conn:
            for name in (
                "halls",
                "units",
                "windows",
                "staff",
                "assignments",
                "punches",
                "ratings",
                "cases",
                "absences",
                "events",
            ):
                data = rows[name]
                for i in range(0, len(data), CHUNK):
                    conn.execute(insert(tables[name]), data[i : i + CHUNK])
        db.engine.dispose()
    return time.perf_counter() - started


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB.

    Linux's VmHWM belongs to this program image; ``ru_maxrss`` would carry over the
    parent's peak across fork and exec, and the parent holds all the generated rows.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(uri: str) -> dict[str, Any]:
    """Score the period once (in this process) and report time and peak memory."""
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.services.scoring import score_hall_period

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "TESTING": True})
    as_of = dt.datetime.fromisoformat(AS_OF)
    with app.app_context():
        before = _peak_rss_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        result = score_hall_period(db.session, PERIOD, as_of)
        seconds = time.perf_counter() - started
        # CPU seconds of this process alone: steadier than wall time on a busy machine
        # (for PostgreSQL the server's own work is not in it).
        cpu = time.process_time() - cpu_started
        peak = _peak_rss_mb()
        db.session.remove()
        db.engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(before, 1),
        "individuals": len(result.individuals),
        "windows": len(result.windows),
        "advanced": sum(1 for p in result.individuals if p.award),
    }


def _count(rows: dict[str, list[dict[str, Any]]]) -> str:
    return ", ".join(
        f"{len(rows[k]):,} {k}"
        for k in ("staff", "punches", "ratings", "cases", "absences", "events")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--measure", metavar="URI", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return

    started = time.perf_counter()
    rows = generate(args.staff)
    print(f"generated {_count(rows)} in {time.perf_counter() - started:.1f} s")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            admin = None
            if backend == "sqlite":
                uri = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            else:
                from sqlalchemy import create_engine, text

                admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
                uri = f"{PG_SERVER}/{PG_DATABASE}"
            try:
                print(f"{backend}: loaded in {load(uri, rows):.1f} s")
                if backend == "postgresql":
                    from sqlalchemy import create_engine, text

                    engine = create_engine(uri)
                    with engine.connect() as conn:
                        conn.execute(text("ANALYZE"))
                        conn.commit()
                    engine.dispose()
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", uri],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                verdict = (
                    "OK"
                    if figures["seconds"] < 10 and figures["peak_rss_mb"] < 500
                    else "OVER TARGET"
                )
                print(
                    f"{backend}: scored {figures['individuals']:,} staff and {figures['windows']} windows "
                    f"in {figures['seconds']:.2f} s wall ({figures['cpu_seconds']:.2f} s CPU), peak RSS {figures['peak_rss_mb']:.0f} MB "
                    f"(process before scoring {figures['rss_before_mb']:.0f} MB) — {verdict}"
                )
            finally:
                if admin is not None:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                    admin.dispose()


if __name__ == "__main__":
    main()
