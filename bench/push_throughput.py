"""Throughput of the provincial push (``push run``) beside the platform double's own limit.

Usage: ``.venv/bin/python bench/push_throughput.py [--ratings 100000] [--database URI]``

A hall with 100,000 pending ratings (SQLite in a temporary directory unless ``--database``
names an empty PostgreSQL database) is pushed by the real ``push run --once`` loop
(:class:`kiosk.cli.push.Pusher`, in this process) to a platform double that accepts at
once (``tests/push/platform_double.py``, its own process, on 127.0.0.1). Every batch is one
set-based select of the pending records, one POST, one upsert of the answer and a commit.

The reference is the double alone: a bare client (http.client, one keep-alive
connection) POSTs the same number of records, in batches of 100 prepared beforehand, so
the figure is what the double can take at most on this machine. Target: the push
delivers at least 2,000 records/s (the exit status is 1 when it does not).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET = 2000.0

HALL_TOML = """
[hall]
code = "BN"
name = "基准测试大厅"
timezone = "Asia/Shanghai"
area_code = "429005"

[[schedule]]
name = "all"
from = "01-01"
to = "12-31"
am = ["08:30", "12:00"]
pm = ["14:00", "17:30"]

[[unit]]
code = "U1"
name = "市场监督管理局"
org_code = "11429005MB1234567K"

[[window]]
code = "W01"
name = "企业登记"
unit = "U1"
"""


def _start_double() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.push.platform_double"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"the platform double did not start: {line!r}")
    return process, line.split()[-1]


def _app(uri: str, instance: Path) -> Any:
    from kiosk import create_app

    return create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": uri,
            "INSTANCE_FOR_TESTS": str(instance),
        }
    )


def _load(app: Any, workdir: Path, count: int) -> None:
    """The schema, the hall, 20 staff and ``count`` ratings (bulk Core inserts)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select, text

    from kiosk.extensions import db
    from kiosk.interchange import import_file
    from kiosk.models import Hall, Rating, Staff

    hall_file = workdir / "hall.toml"
    hall_file.write_text(HALL_TOML)
    roster = workdir / "roster.csv"
    roster.write_text(
        "staff_no,name,window_code,start_date\n"
        + "".join(f"S{i:03d},员工{i},W01,2020-01-01\n" for i in range(20))
    )
    with app.app_context():
        upgrade()
        import_file(db.session, "hall", hall_file.read_bytes())
        db.session.commit()
        hall = db.session.scalars(select(Hall)).one()
        import_file(db.session, "roster", roster.read_bytes(), hall.code)
        db.session.commit()
        staff = list(db.session.scalars(select(Staff.id).order_by(Staff.id)))
        start = dt.datetime(2026, 1, 5, 1, 0)
        channels = ("counter", "qr", "other")
        rows = [
            {
                "hall_id": hall.id,
                "rating_id": f"BN-{i:07d}",
                "staff_id": staff[i % len(staff)],
                "rated_at": start + dt.timedelta(seconds=97 * i),
                "level": 5 - (i % 5),
                "channel": channels[i % 3],
                "reasons": "态度不好" if i % 5 >= 3 else None,
                "misuse": False,
            }
            for i in range(count)
        ]
        for first in range(0, count, 10000):
            db.session.execute(insert(Rating), rows[first : first + 10000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # A hall's tables have statistics (autovacuum); a table loaded a second ago has none.
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE")).close()
                conn.commit()
        db.session.remove()


def _push(app: Any, url: str) -> tuple[int, float]:
    """Run the push loop once over everything; (records delivered, seconds)."""
    from sqlalchemy import func, select

    from kiosk.cli.push import Pusher
    from kiosk.extensions import db
    from kiosk.models import PushDelivery
    from kiosk.services import push

    with app.app_context():
        client = push.PlatformClient(url, None, 10.0)
        pusher = Pusher(
            client=client,
            profile=push.profile_named("national"),
            retry_min=0.1,
            retry_max=1.0,
            idle=1.0,
            stopping=threading.Event(),
            echo=lambda line: None,
        )
        began = time.perf_counter()
        status = pusher.run(once=True, attempts=3)
        seconds = time.perf_counter() - began
        client.close()
        assert status == 0, "push run --once failed"
        delivered = db.session.scalar(
            select(func.count()).select_from(PushDelivery).where(PushDelivery.state == "delivered")
        )
        db.session.remove()
    return int(delivered or 0), seconds


def _bare(url: str, count: int) -> float:
    """Records/s the double takes from a bare keep-alive client, batches of 100."""
    sample = {
        "areaCode": "429005",
        "deptCode": "11429005MB1234567K",
        "deptName": "市场监督管理局",
        "windowCode": "W01",
        "proManagerNo": "S001",
        "proManager": "员工1",
        "taskCode": None,
        "projectNo": None,
        "channel": "4",
        "apprate": 5,
        "reasons": None,
        "comment": None,
        "assessTime": "2026-01-05T09:00:00+08:00",
        "isDefault": False,
    }
    bodies = [
        json.dumps(
            {"records": [{"id": f"RAW-{b:05d}-{i:03d}", **sample} for i in range(100)]},
            ensure_ascii=False,
        ).encode()
        for b in range(count // 100)
    ]
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    began = time.perf_counter()
    for body in bodies:
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200 and len(answer["accepted"]) == 100, answer
    seconds = time.perf_counter() - began
    conn.close()
    return len(bodies) * 100 / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratings", type=int, default=100_000)
    parser.add_argument("--database", help="an empty database URI (default: SQLite, temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["KIOSK_INSTANCE_PATH"] = str(workdir / "instance")
        uri = args.database or f"sqlite:///{workdir / 'bench.sqlite'}"
        app = _app(uri, workdir / "instance")
        print(f"loading {args.ratings:,} ratings into {uri.split(':')[0]} ...", flush=True)
        _load(app, workdir, args.ratings)
        double, url = _start_double()
        try:
            bare = _bare(url, args.ratings)
            delivered, seconds = _push(app, url)
        finally:
            double.terminate()
            double.wait(timeout=10)
    rate = delivered / seconds
    print()
    print(f"{'':34}{'records':>10}{'seconds':>10}{'records/s':>12}")
    print(f"{'push run --once (the service)':34}{delivered:>10,}{seconds:>10.2f}{rate:>12,.0f}")
    print(f"{'platform double alone (bare)':34}{args.ratings:>10,}{'':>10}{bare:>12,.0f}")
    print(f"target: at least {TARGET:,.0f} records/s; push / double = {rate / bare:.2f}")
    if delivered != args.ratings:
        print(f"FAIL: {delivered} of {args.ratings} delivered")
        return 1
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
