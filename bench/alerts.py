"""Benchmark: the open alerts of a hall (SPEC 12), as the count of every back-office page.

Builds the bench hall of ``bench/score_period.py`` (two months of punches, ratings and
cases; 300 and 2,000 staff by default) in a temporary SQLite file (and PostgreSQL with
``--backend postgresql|both``), adds six readers with seen spans, a few open cases and
a burst of bad ratings, then times :func:`kiosk.services.alerts.hall_alerts` at a
morning instant inside the data (best and median of ``--runs``), beside a reference: one
bare ``COUNT(*)`` over each table the alerts read, for the same day.

    .venv/bin/python bench/alerts.py [--staff 300 2000] [--backend sqlite] [--runs 7]

Targets: under 200 ms for 300 staff, under 2 s for 2,000 staff.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score_period import PG_DATABASE, PG_SERVER, _utc, generate, load  # noqa: E402

AS_OF_LOCAL = dt.datetime(2026, 10, 20, 9, 10)  # a Tuesday, after A0 + 30 min
TARGETS = {300: 0.2, 2000: 2.0}


def extra_rows(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Readers with seen spans, open cases and a burst at window 1, near the instant."""
    created = dt.datetime(2026, 9, 1)
    rows["devices"] = [
        {
            "id": d + 1,
            "hall_id": 1,
            "name": f"reader{d}",
            "port": f"/dev/ttyUSB{d}",
            "baud": 57600,
            "address": 0xFFFFFFFF,
            "password": 0,
            "state": "connected",
            "unrecognised_count": 0,
            "created_at": created,
        }
        for d in range(6)
    ]
    morning = _utc(AS_OF_LOCAL.replace(hour=7))
    rows["device_seen"] = [
        {
            "device_id": d + 1,
            "first_seen": morning,
            "last_seen": _utc(AS_OF_LOCAL) - dt.timedelta(minutes=10 if d == 0 else 0),
        }
        for d in range(6)
    ]
    staff = len(rows["staff"])
    for i in range(staff // 10):
        rows["cases"].append(
            {
                "hall_id": 1,
                "case_no": f"OPEN{i:06d}",
                "staff_id": i * 10 % staff + 1,
                "matter": "设立登记",
                "accepted_at": _utc(AS_OF_LOCAL - dt.timedelta(days=3)),
                "due_at": _utc(AS_OF_LOCAL + dt.timedelta(hours=i % 72)),
                "completed_at": None,
                "weight": None,
            }
        )
    for i in range(4):
        rows["ratings"].append(
            {
                "hall_id": 1,
                "rating_id": f"BURST{i}",
                "staff_id": 1,
                "rated_at": _utc(AS_OF_LOCAL - dt.timedelta(minutes=3 * i)),
                "level": 1,
                "channel": "counter",
                "reasons": "态度不好",
                "misuse": False,
                "review": None,
                "rectified_at": None,
            }
        )


def insert_extra(uri: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    from sqlalchemy import create_engine, insert

    from kiosk.extensions import db
    from kiosk.models import Device  # noqa: F401  (registers the tables)
    from kiosk.models_devices import DeviceSeen  # noqa: F401

    engine = create_engine(uri)
    with engine.begin() as conn:
        for name in ("devices", "device_seen"):
            conn.execute(insert(db.metadata.tables[name]), rows[name])
    engine.dispose()


REFERENCE = """
SELECT (SELECT COUNT(*) FROM ratings WHERE hall_id = 1 AND rated_at >= :day AND rated_at <= :now)
     + (SELECT COUNT(*) FROM punches WHERE punched_at >= :day AND punched_at <= :now)
     + (SELECT COUNT(*) FROM ratings WHERE hall_id = 1 AND level <= 2)
     + (SELECT COUNT(*) FROM cases WHERE hall_id = 1 AND completed_at IS NULL)
     + (SELECT COUNT(*) FROM device_seen)
"""


def measure(uri: str, runs: int) -> dict[str, Any]:
    from sqlalchemy import text

    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.models import Hall
    from kiosk.services.alerts import hall_alerts

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": True, "SECRET_KEY": os.urandom(32).hex()}
    )
    now = _utc(AS_OF_LOCAL)
    day = _utc(AS_OF_LOCAL.replace(hour=0, minute=0))
    timings: list[float] = []
    reference: list[float] = []
    with app.test_request_context():
        hall = db.session.get(Hall, 1)
        assert hall is not None
        for _ in range(runs):
            started = time.perf_counter()
            found = hall_alerts(db.session, hall, now)
            timings.append(time.perf_counter() - started)
            db.session.rollback()
            started = time.perf_counter()
            db.session.execute(text(REFERENCE), {"day": day, "now": now}).scalar()
            reference.append(time.perf_counter() - started)
            db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    codes: dict[str, int] = {}
    for alert in found:
        codes[alert.code] = codes.get(alert.code, 0) + 1
    return {
        "best": min(timings),
        "median": statistics.median(timings),
        "ref_best": min(reference),
        "ref_median": statistics.median(reference),
        "codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(
        f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
        f"instant {AS_OF_LOCAL.isoformat()} hall-local"
    )
    print(
        f"{'backend':10} {'staff':>6} {'alerts best':>12} {'median':>9} "
        f"{'ref best':>9} {'median':>9} {'target':>7}  open alerts"
    )
    for staff in args.staff:
        rows = generate(staff)
        extra_rows(rows)
        for backend in backends:
            with tempfile.TemporaryDirectory() as tmp:
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
                    load(uri, rows)
                    insert_extra(uri, rows)
                    if backend == "postgresql":
                        from sqlalchemy import create_engine, text

                        engine = create_engine(uri)
                        with engine.connect() as conn:
                            conn.execute(text("ANALYZE"))
                            conn.commit()
                        engine.dispose()
                    f = measure(uri, args.runs)
                    target = TARGETS.get(staff)
                    mark = "" if target is None else ("OK" if f["median"] < target else "OVER")
                    print(
                        f"{backend:10} {staff:6d} {f['best'] * 1000:10.1f}ms {f['median'] * 1000:7.1f}ms "
                        f"{f['ref_best'] * 1000:7.1f}ms {f['ref_median'] * 1000:7.1f}ms "
                        f"{'' if target is None else f'{target * 1000:.0f}ms':>7} {mark:4} {f['codes']}"
                    )
                finally:
                    if admin is not None:
                        from sqlalchemy import text

                        with admin.connect() as conn:
                            conn.execute(
                                text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
                            )
                        admin.dispose()


if __name__ == "__main__":
    main()
