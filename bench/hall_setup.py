"""Benchmark: a set-up change made in the back office against the same change imported.

Every change of the set-up pages (SPEC 10) is made by the hall-file or roster importer
under the import lock (kiosk.services.hallsetup, kiosk.services.staffing), so its cost
is that of the import plus reading the hall back into a document. Measured on SQLite (a
temporary file) for a hall of ``--windows`` windows in ``--units`` units and ``--staff``
staff: the median milliseconds of adding a window, changing the settings and moving a
person by the service, side by side with importing the equivalent file, and of one page
of the staff list.

    .venv/bin/python bench/hall_setup.py [--windows 28] [--units 20] [--staff 70] [--runs 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _median_ms(action: Callable[[int], None], runs: int) -> float:
    times = []
    for n in range(runs):
        start = time.perf_counter()
        action(n)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=28)
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument("--staff", type=int, default=70)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import select

    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.interchange import import_file
    from kiosk.models import Hall
    from kiosk.services import hallsetup, staffing

    folder = Path(tempfile.mkdtemp(prefix="bench-hall-setup-"))
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite'}",
            "INSTANCE_FOR_TESTS": str(folder),
        }
    )
    units = "".join(f'\n[[unit]]\ncode = "U{u:02d}"\nname = "单位{u}"\n' for u in range(args.units))
    windows = "".join(
        f'\n[[window]]\ncode = "W{w:03d}"\nname = "窗口{w}"\nunit = "U{w % args.units:02d}"\n'
        for w in range(args.windows)
    )
    head = (
        '[hall]\ncode = "B"\nname = "基准中心"\n\n[[schedule]]\nfrom = "01-01"\nto = "12-31"\n'
        'am = ["08:30", "12:00"]\npm = ["14:00", "17:30"]\n\n[attendance]\ngrace_minutes = 5\n'
    )
    roster = "staff_no,name,window_code,start_date,end_date\n" + "".join(
        f"S{s:04d},员工{s},W{s % args.windows:03d},2026-01-05,\n" for s in range(args.staff)
    )
    with app.app_context():
        upgrade()
        import_file(db.session, "hall", (head + units + windows).encode())
        import_file(db.session, "roster", roster.encode())
        hall = db.session.scalars(select(Hall)).one()
        extra: list[str] = []

        def by_service_window(n: int) -> None:
            hallsetup.add_window(
                db.session,
                hall,
                code=f"X{n:03d}",
                name="新窗口",
                unit="U00",
                handles_cases=True,
                user_id=None,
                lock_wait=5,
            )
            db.session.commit()

        def by_import_window(n: int) -> None:
            extra.append(f'\n[[window]]\ncode = "Y{n:03d}"\nname = "新窗口"\nunit = "U00"\n')
            import_file(db.session, "hall", (head + units + windows + "".join(extra)).encode())

        def by_service_settings(n: int) -> None:
            view = hallsetup.settings_view(db.session, hall)
            hallsetup.update_settings(
                db.session,
                hall,
                hallsetup.SettingsInput(
                    schedules=view.schedules,
                    grace_minutes=str(n % 60 + 1),
                    debounce_seconds="60",
                    reasons="\n".join(view.reasons),
                    closed_days="\n".join(view.closed_days),
                    extra_workdays="\n".join(view.extra_workdays),
                ),
                user_id=None,
                lock_wait=5,
            )
            db.session.commit()

        def by_import_settings(n: int) -> None:
            text = head.replace("grace_minutes = 5", f"grace_minutes = {n % 60 + 1}")
            import_file(db.session, "hall", (text + units + windows + "".join(extra)).encode())

        first = dt.date(2026, 2, 2)

        def by_service_move(n: int) -> None:
            staffing.move_staff(
                db.session,
                hall,
                staff_no="S0001",
                window_code=f"W{n % 2:03d}",
                start_date=(first + dt.timedelta(days=n)).isoformat(),
                user_id=None,
                lock_wait=5,
            )
            db.session.commit()

        def by_import_move(n: int) -> None:
            day = first + dt.timedelta(days=n)
            rows = (
                "staff_no,name,window_code,start_date,end_date\n"
                f"S0002,员工2,W{(n + 1) % 2:03d},{(day - dt.timedelta(days=1)).isoformat()},"
                f"{(day - dt.timedelta(days=1)).isoformat()}\n"
                f"S0002,员工2,W{n % 2:03d},{day.isoformat()},\n"
            )
            import_file(db.session, "roster", rows.encode())

        def staff_list(n: int) -> None:
            staffing.staff_page(db.session, hall, today=dt.date(2026, 3, 1), page=1 + n % 3)

        rows = [
            ("add a window", by_service_window, by_import_window),
            ("change the settings", by_service_settings, by_import_settings),
            ("move a person", by_service_move, by_import_move),
        ]
        print(f"hall of {args.windows} windows, {args.units} units, {args.staff} staff (SQLite)")
        print(f"{'change':<22}{'browser (ms)':>14}{'import (ms)':>14}")
        for name, service, imported in rows:
            print(
                f"{name:<22}{_median_ms(service, args.runs):>14.1f}"
                f"{_median_ms(imported, args.runs):>14.1f}"
            )
        print(f"{'staff list, one page':<22}{_median_ms(staff_list, args.runs):>14.1f}{'—':>14}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
