"""Throughput of ``POST /api/v1/ratings`` beside a minimal Flask + sqlite3 insert endpoint.

Usage: ``.venv/bin/python bench/rating_throughput.py [--clients 16] [--requests 250] [--rounds 5]``

Both servers run under waitress (16 threads) in their own process, on SQLite files in a
temporary directory, bound to 127.0.0.1; the clients are threads of this process with
one keep-alive connection each, sending a bounded number of requests. The service's
endpoint does its real work per request (bearer key check, token lookup with the
session, hall and staff, the misuse look-up, one insert); the reference parses the
JSON body and inserts one row. Each round runs both, in alternating order; the median of
the rounds' ratios is the figure, and the servers' CPU time per request is shown too, as
it holds up better than wall-clock rates on a machine busy with other work. Target: the
service reaches at least 0.7 of the reference (the exit status is 1 when it does not).
The service's pool holds one connection per waitress thread (``pool_size``), as a
deployment with 16 threads would configure it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREADS = 16
TARGET = 0.7

HALL_TOML = """
[hall]
code = "BN"
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
name = "窗口一"
unit = "U1"
"""
ROSTER_CSV = "staff_no,name,window_code,start_date\nS001,张三,W01,2020-01-01\n"


# --- the servers (each runs in its own process) ------------------------------------------


def _serve(app: Any, port_file: Path) -> None:
    import logging

    from waitress.server import create_server

    # 16 clients on 16 threads keep a short queue: that is the point, not a warning.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)

    server = create_server(app, host="127.0.0.1", port=0, threads=THREADS, connection_limit=200)
    port_file.write_text(str(server.effective_port))  # type: ignore[union-attr]
    server.run()


def _kiosk_app(workdir: Path) -> Any:
    sys.path.insert(0, str(ROOT))
    from kiosk import create_app

    return create_app(
        {
            "SECRET_KEY": os.urandom(32).hex(),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'kiosk.sqlite'}",
            "RATING_RATE_LIMIT": "0",  # measure the endpoint, not the limiter's refusals
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS, "max_overflow": 4},
        }
    )


def serve_kiosk(workdir: Path) -> None:
    """Run the service on the prepared database."""
    _serve(_kiosk_app(workdir), workdir / "kiosk.port")


def serve_reference(workdir: Path) -> None:
    """Run the minimal Flask + sqlite3 endpoint: parse JSON, insert one row, answer 201."""
    from flask import Flask, jsonify, request

    path = workdir / "reference.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY, token TEXT, level INTEGER)"
        )
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, check_same_thread=False)
            # The same settings the service uses, so only the work per request differs.
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            local.conn = conn
        return conn

    app = Flask("reference")

    @app.post("/ratings")
    def rate() -> Any:
        body = request.get_json()
        conn = connection()
        cursor = conn.execute(
            "INSERT INTO ratings (token, level) VALUES (?, ?)", (body["token"], body["level"])
        )
        conn.commit()
        return jsonify(rating_id=cursor.lastrowid), 201

    _serve(app, workdir / "reference.port")


# --- preparing the service's database -----------------------------------------------------


def prepare_kiosk(workdir: Path, sessions: int) -> tuple[str, list[str]]:
    """Migrate, import a hall, add a terminal and open ``sessions`` sessions; key and tokens."""
    sys.path.insert(0, str(ROOT))
    import datetime as dt
    import secrets

    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from kiosk.extensions import db
    from kiosk.interchange import import_file
    from kiosk.models import Hall, ServiceSession, Staff, Terminal, Window, utcnow
    from kiosk.services.ratings import issue_key, token_for, token_hash

    app = _kiosk_app(workdir)
    with app.app_context():
        upgrade()
        import_file(db.session, "hall", HALL_TOML.encode(), None, source_name="hall.toml")
        import_file(db.session, "roster", ROSTER_CSV.encode(), "BN", source_name="roster.csv")
        hall = db.session.scalars(select(Hall)).one()
        window = db.session.scalars(select(Window)).one()
        staff = db.session.scalars(select(Staff)).one()
        issued = issue_key()
        terminal = Terminal(
            hall_id=hall.id,
            window_id=window.id,
            name="bench",
            key_id=issued.key_id,
            key_hash=issued.key_hash,
        )
        db.session.add(terminal)
        db.session.commit()
        now = utcnow()
        tokens: list[str] = []
        rows: list[dict[str, Any]] = []
        for _ in range(sessions):
            public_id = secrets.token_urlsafe(16)
            token = token_for(app.config["SECRET_KEY"], public_id)
            tokens.append(token)
            rows.append(
                {
                    "public_id": public_id,
                    "hall_id": hall.id,
                    "window_id": window.id,
                    "staff_id": staff.id,
                    "terminal_id": terminal.id,
                    "token_hash": token_hash(token),
                    "opened_at": now,
                    "expires_at": now + dt.timedelta(days=1),
                }
            )
        db.session.execute(insert(ServiceSession), rows)
        db.session.commit()
        db.engine.dispose()
    return issued.key, tokens


# --- the clients ---------------------------------------------------------------------------


def start(kind: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start one server process; returns it and its port."""
    port_file = workdir / f"{kind}.port"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, __file__, f"serve-{kind}", str(workdir)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the {kind} server did not start")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def run_clients(port: int, path: str, bodies: list[list[bytes]], headers: dict[str, str]) -> float:
    """Send each client's bodies over its own connection; returns requests per second."""
    errors: list[str] = []
    barrier = threading.Barrier(len(bodies) + 1)

    def client(batch: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        try:
            for body in batch:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 201:
                    errors.append(f"HTTP {response.status}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(batch,)) for batch in bodies]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return sum(len(batch) for batch in bodies) / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to see past a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=250, help="per client and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    per_round = args.clients * args.requests
    warmup = args.clients * 10

    with tempfile.TemporaryDirectory(prefix="rating-bench-") as tmp:
        workdir = Path(tmp)
        key, tokens = prepare_kiosk(workdir, warmup + per_round * args.rounds)
        kiosk, kiosk_port = start("kiosk", workdir)
        reference, reference_port = start("reference", workdir)
        try:
            kiosk_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            plain = {"Content-Type": "application/json"}

            def bodies(batch: list[str]) -> list[list[bytes]]:
                encoded = [json.dumps({"token": t, "level": 5}).encode() for t in batch]
                return [encoded[i :: args.clients] for i in range(args.clients)]

            def measure(kind: str, batch: list[str]) -> tuple[float, float]:
                """Requests per second, and server CPU milliseconds per request."""
                process, port, path, headers = (
                    (kiosk, kiosk_port, "/api/v1/ratings", kiosk_headers)
                    if kind == "service"
                    else (reference, reference_port, "/ratings", plain)
                )
                before = cpu_seconds(process.pid)
                rate = run_clients(port, path, bodies(batch), headers)
                return rate, (cpu_seconds(process.pid) - before) * 1000 / len(batch)

            # Warm both up (connections, caches, the first compiled statements).
            measure("service", tokens[:warmup])
            measure("reference", tokens[:warmup])
            used = warmup
            results: dict[str, list[tuple[float, float]]] = {"service": [], "reference": []}
            for round_no in range(1, args.rounds + 1):
                batch = tokens[used : used + per_round]
                used += per_round
                # Alternate who goes first, so a burst of load elsewhere hits both alike.
                order = ("reference", "service") if round_no % 2 else ("service", "reference")
                for kind in order:
                    results[kind].append(measure(kind, batch))
                (s_rate, s_cpu), (r_rate, r_cpu) = results["service"][-1], results["reference"][-1]
                print(
                    f"round {round_no}: service {s_rate:7.1f} req/s ({s_cpu:.3f} CPU ms/req), "
                    f"reference {r_rate:7.1f} req/s ({r_cpu:.3f} CPU ms/req), "
                    f"ratio {s_rate / r_rate:.2f}"
                )
        finally:
            for process in (kiosk, reference):
                process.terminate()
                process.wait(timeout=10)

    ratios = sorted(
        s[0] / r[0] for s, r in zip(results["service"], results["reference"], strict=True)
    )
    median = statistics.median(ratios)
    best_service = max(rate for rate, _cpu in results["service"])
    best_reference = max(rate for rate, _cpu in results["reference"])
    cpu_ratio = statistics.median(c for _r, c in results["reference"]) / statistics.median(
        c for _r, c in results["service"]
    )
    print(
        f"POST /api/v1/ratings: best {best_service:.1f} req/s; reference Flask + sqlite3 "
        f"insert: best {best_reference:.1f} req/s; ratio of the rounds: median {median:.2f} "
        f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}), target >= {TARGET}; server CPU per "
        f"request, reference / service: {cpu_ratio:.2f}. {args.clients} clients, waitress "
        f"threads={THREADS}, {per_round} requests per round, {os.cpu_count()} CPUs"
    )
    if median < TARGET:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve-kiosk":
        serve_kiosk(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "serve-reference":
        serve_reference(Path(sys.argv[2]))
    else:
        main()
