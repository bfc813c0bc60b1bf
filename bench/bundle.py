"""Benchmark: publication bundles (SPEC 13) of a 2,000-staff period.

The hall of ``bench/score_period.py`` (2,000 staff, about 500,000 punches, 200,000
ratings and 150,000 cases in 2026-B5) is loaded into SQLite (a temporary file) and, with
``--backend postgresql|both``, PostgreSQL (its own database ``kiosk_bench_bundle``).
Each step runs in a fresh subprocess so the peak memory (VmHWM) is that step's own:

* ``score``    the reference: ``score_hall_period`` of the period (database read + rules);
* ``publish``  ``publish`` as the command does it: compute, publish, freeze the inputs;
* ``export``   ``export bundle``: the zip built from the frozen files, written to disk;
* ``verify``   ``score --verify``: the zip read as hostile input, imported into a fresh
  in-memory SQLite database with the normal importer, scored and compared.

    .venv/bin/python bench/bundle.py [--staff 2000] [--backend sqlite|postgresql|both]

Targets: export and verify under 30 s and under 500 MB each. ``× score`` is the step's
CPU seconds over the reference's (wall time on a shared machine says little).

Measured 2026-12-01 15:19–15:26, SQLite, 2,000 staff, on the 2-core machine shared with
other helpers; three runs at load 1.3–2.4 (the load average before each run), CPU seconds
the process's own:

    step      wall s   CPU s  × score  peak MB
    score   4.5–5.8  4.5–5.8     1.00      331   reference
    publish   50–56    49–55   ~10        732   compute twice + two inputs digests + freeze
    export      1.8      1.8     0.35      182   8.6 MB zip — OK
    verify  13.3–15.2 13.1–15.0  2.3–3.4  345–348 — OK

The code before (pieces of 50,000 rows, each imported on its own) measured right after on
the same machine at load 2.3: verify 35.50 s wall, 35.26 CPU s, 580 MB. An earlier run of
this code with ``--backend both`` while the load rose from 1.8 to 6.0 took 40.8 s wall
for 19.3 CPU s and 347 MB (the wall time is the machine's); its PostgreSQL bundle
verified in 21.8 s wall, 17.4 CPU s, 357 MB (verify always imports into SQLite).

``verify``'s memory: the process (103 MB resident, 138 MB peak while the app is made), the
bundle's files (48 MB, each let go once imported), the in-memory database (101 MB of pages
for this period: every key and check, no non-unique index) and then either one file's
import (its text, the first line of each key, one batch of ``store.WRITE_ROWS`` rows; the
peak, 348 MB, is the cases file) or the scoring's own ~30 MB (it reads the rows from the
database as it goes through them, ``load_period_data(lazy=True)``). Its CPU: punches
2.5 s, ratings 4 s, cases 3 s, scoring 3.6 s. ``publish`` was not changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score_period import AS_OF, PERIOD, PG_SERVER, _count, _peak_rss_mb, generate, load

PG_DATABASE = "kiosk_bench_bundle"
STEPS = ("score", "publish", "export", "verify")
TARGET_SECONDS, TARGET_MB = 30, 500


def _app(uri: str) -> Any:
    from kiosk import create_app

    return create_app(
        {"SQLALCHEMY_DATABASE_URI": uri, "TESTING": True, "SECRET_KEY": os.urandom(32).hex()}
    )


def _step(step: str, uri: str, zip_path: Path) -> dict[str, Any]:
    """Run one step in this process; return its wall seconds, peak RSS and a note."""
    from kiosk.extensions import db
    from kiosk.rules.ruleset import default_rules
    from kiosk.services import bundle, publishing
    from kiosk.services.accounts import create_user
    from kiosk.services.halls import resolve_hall
    from kiosk.services.scoring import score_hall_period

    app = _app(uri)
    as_of = dt.datetime.fromisoformat(AS_OF)
    with app.app_context():
        hall = resolve_hall(db.session, None)
        if step == "publish":
            user = create_user(
                db.session, username="bench", password="bench-password-1", role="leader", hall=hall
            )
            db.session.commit()
        before = _peak_rss_mb()
        started, cpu_started = time.perf_counter(), time.process_time()
        if step == "score":
            result = score_hall_period(db.session, PERIOD, as_of, rules=default_rules())
            note = f"{len(result.individuals):,} staff"
        elif step == "publish":
            review = publishing.compute(
                db.session, hall, publishing.parse_period(PERIOD), as_of, default_rules()
            )
            row = publishing.publish(
                db.session,
                hall,
                period_code=PERIOD,
                as_of=as_of,
                reviewed_inputs_sha256=review.inputs_sha256,
                reason=None,
                user_id=user.id,
                rules=default_rules(),
            )
            db.session.commit()
            note = f"revision {row.revision}"
        elif step == "export":
            row = publishing.latest(db.session, hall, PERIOD)
            assert row is not None
            zip_path.write_bytes(bundle.bundle_zip(db.session, hall, row))
            note = f"{zip_path.stat().st_size / 1e6:.1f} MB zip"
        else:
            _manifest, found = bundle.verify_file(zip_path)
            assert found.ok, found
            note = "verified"
        seconds = time.perf_counter() - started
        # CPU seconds of this process: steadier than wall time on a shared machine.
        cpu = time.process_time() - cpu_started
        peak = _peak_rss_mb()
        db.session.remove()
        db.engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak, 1),
        "before_mb": round(before, 1),
        "note": note,
    }


def _run_backend(backend: str, uri: str, rows: dict[str, list[dict[str, Any]]], tmp: Path) -> None:
    print(f"{backend}: loaded in {load(uri, rows):.1f} s")
    if backend == "postgresql":
        from sqlalchemy import create_engine, text

        engine = create_engine(uri)
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        engine.dispose()
    zip_path = tmp / f"bundle-{backend}.zip"
    figures: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        out = subprocess.run(
            [sys.executable, __file__, "--step", step, uri, str(zip_path)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures[step] = json.loads(out.stdout.strip().splitlines()[-1])
    reference = figures["score"]
    print(f"{backend}: {'step':8} {'wall s':>8} {'CPU s':>8} {'× score':>8} {'peak MB':>8}  note")
    for step in STEPS:
        f = figures[step]
        verdict = ""
        if step in ("export", "verify"):
            ok = f["seconds"] < TARGET_SECONDS and f["peak_rss_mb"] < TARGET_MB
            verdict = " — OK" if ok else " — OVER TARGET"
        ratio = f["cpu_seconds"] / reference["cpu_seconds"] if reference["cpu_seconds"] else 0
        print(
            f"{backend}: {step:8} {f['seconds']:8.2f} {f['cpu_seconds']:8.2f} {ratio:8.2f} "
            f"{f['peak_rss_mb']:8.0f}  "
            f"{f['note']} (process before {f['before_mb']:.0f} MB){verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--step", nargs=3, metavar=("STEP", "URI", "ZIP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step, uri, zip_path = args.step
        print(json.dumps(_step(step, uri, Path(zip_path))))
        return
    started = time.perf_counter()
    rows = generate(args.staff)
    print(f"generated {_count(rows)} in {time.perf_counter() - started:.1f} s")
    print(f"load average before measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for backend in backends:
            if backend == "sqlite":
                _run_backend(backend, f"sqlite:///{tmp / 'bench.sqlite'}", rows, tmp)
                continue
            from sqlalchemy import create_engine, text

            admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
            try:
                _run_backend(backend, f"{PG_SERVER}/{PG_DATABASE}", rows, tmp)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
