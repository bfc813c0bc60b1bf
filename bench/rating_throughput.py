"""Throughput of ``POST /api/v1/ratings`` beside a minimal Flask + sqlite3 insert endpoint.

Usage: ``.venv/bin/python bench/rating_throughput.py [--clients 16] [--requests 250] [--rounds 5]``

Both servers run under waitress (16 threads) in their own process, on SQLite files in a
temporary directory, bound to 127.0.0.1; the clients are threads of this process with
one keep-alive connection each, sending a bounded number of requests. The service's
endpoint does its real work per request (the bearer key, the token's session, its
terminal and hall, whether it was rated or expired, the misuse flag: the checks of
SPEC 9, made in the WHERE of its one INSERT ... SELECT for a good rating); the
reference parses the JSON body and inserts one row. Each round runs both, in alternating order; the median of
the rounds' ratios is the figure, and the servers' CPU time per request is shown too, as
it holds up better than wall-clock rates on a machine busy with other work. Target: the
service reaches at least 0.7 of the reference (the exit status is 1 when it does not).
The service's pool holds one connection per waitress thread (``pool_size``), as a
deployment with 16 threads would configure it.

``--db postgresql`` runs both on a database of their own on the PostgreSQL server at
``BENCH_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``, created and dropped
here); the reference then inserts with psycopg, one connection per thread.
``--processes N`` starts N waitress processes of each, on ports of their own (a
province's hall runs them behind one reverse proxy); the clients take them in turn.

``--service-sql`` (SQLite) adds a third server to each round, to tell the database's
share from the framework's: the same minimal Flask + sqlite3 endpoint, but running the
service's own statement for a good counter rating (the INSERT ... SELECT that makes the
checks in its WHERE, as :mod:`kiosk.services.ratings` compiles it) on the service's
database, into a copy of the ratings table with the same columns and indexes. It makes
none of the checks done in Python; its rate is what any endpoint with this statement
could reach here.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THREADS = 16
TARGET = 0.7
PG_SERVER = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

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


def _database_uri(workdir: Path) -> str:
    """The service's database: ``BENCH_DB_URI`` when set (PostgreSQL), else a SQLite file."""
    return os.environ.get("BENCH_DB_URI") or f"sqlite:///{workdir / 'kiosk.sqlite'}"


def _kiosk_app(workdir: Path) -> Any:
    sys.path.insert(0, str(ROOT))
    from kiosk import create_app

    # One secret for every process of the service, as instance/secret_key gives a hall.
    secret = workdir / "secret"
    if not secret.exists():
        secret.write_text(os.urandom(32).hex())
    return create_app(
        {
            "SECRET_KEY": secret.read_text(),
            "SQLALCHEMY_DATABASE_URI": _database_uri(workdir),
            "RATING_RATE_LIMIT": "0",  # measure the endpoint, not the limiter's refusals
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS, "max_overflow": 4},
        }
    )


def serve_kiosk(workdir: Path, number: int) -> None:
    """Run the service on the prepared database."""
    _serve(_kiosk_app(workdir), workdir / f"kiosk-{number}.port")


def serve_reference(workdir: Path, number: int) -> None:
    """Run the minimal Flask endpoint: parse JSON, insert one row, answer 201."""
    if os.environ.get("BENCH_DB_URI"):
        _serve(
            _reference_postgresql(os.environ["BENCH_DB_URI"]), workdir / f"reference-{number}.port"
        )
    else:
        _serve(_reference_sqlite(workdir), workdir / f"reference-{number}.port")


def _reference_postgresql(uri: str) -> Any:
    """The reference on PostgreSQL: psycopg, one connection per thread, INSERT ... RETURNING."""
    import psycopg
    from flask import Flask, jsonify, request

    dsn = uri.replace("postgresql+psycopg://", "postgresql://")
    local = threading.local()

    def connection() -> Any:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn)
        return conn

    app = Flask("reference")

    @app.post("/ratings")
    def rate() -> Any:
        body = request.get_json()
        conn = connection()
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO reference_ratings (token, level) VALUES (%s, %s) RETURNING id",
                (body["token"], body["level"]),
            )
            (rating_id,) = cursor.fetchone()
        conn.commit()
        return jsonify(rating_id=rating_id), 201

    return app


def _per_thread(
    path: Path, *, isolation_level: str | None = "", foreign_keys: bool = False
) -> Callable[[], sqlite3.Connection]:
    """A function giving each thread its own sqlite3 connection to ``path``."""
    local = threading.local()

    def connection() -> sqlite3.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=isolation_level)
            # The same settings the service uses, so only the work per request differs.
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            if foreign_keys:
                conn.execute("PRAGMA foreign_keys=ON")
            local.conn = conn
        return conn

    return connection


def _reference_sqlite(workdir: Path) -> Any:
    """The reference on SQLite: sqlite3, one connection per thread."""
    from flask import Flask, jsonify, request

    path = workdir / "reference.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ratings (id INTEGER PRIMARY KEY, token TEXT, level INTEGER)"
        )
    connection = _per_thread(path)
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

    return app


def serve_service_sql(workdir: Path, number: int) -> None:
    """Run the minimal endpoint with the service's own select and insert (``--service-sql``)."""
    _serve(_service_sql_sqlite(workdir), workdir / f"service-sql-{number}.port")


def _service_sql_sqlite(workdir: Path) -> Any:
    import datetime as dt

    from flask import Flask, jsonify, request
    from sqlalchemy import create_engine

    sys.path.insert(0, str(ROOT))
    from kiosk.localtime import hall_zone, to_local
    from kiosk.services import ratings

    path = workdir / "kiosk.sqlite"
    key_id, secret = ratings.split_key((workdir / "terminal.key").read_text())  # type: ignore[misc]
    # The service's statement for a counter rating with a key, compiled for sqlite3 by the
    # service's own driversql.
    with create_engine(f"sqlite:///{path}").connect() as compiler:
        statement = ratings._RATING_AT_ONCE[(True, True)].on(compiler)
        hall_code, timezone = compiler.exec_driver_sql("SELECT code, timezone FROM halls").one()
    with sqlite3.connect(path) as conn:
        # A copy of the ratings table (columns, constraints, indexes), so that the sessions
        # stay unrated for the service.
        if (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ratings_copy'").fetchone()
            is None
        ):
            rows = conn.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'ratings' AND sql IS NOT NULL"
            ).fetchall()
            for (ddl,) in rows:
                conn.execute(
                    ddl.replace("TABLE ratings", "TABLE ratings_copy")
                    .replace(" ON ratings ", " ON ratings_copy ")
                    .replace("INDEX ix_", "INDEX copy_ix_")
                )
    # On the copy throughout (the insert, "rated?" and the misuse look-up), as the service
    # runs it on its own ratings: the rounds post the same tokens to every server.
    insert_sql = re.sub(r"\bratings\b", "ratings_copy", statement.sql)
    # Autocommit and foreign keys, as the service runs its statement.
    connection = _per_thread(path, isolation_level=None, foreign_keys=True)
    key_hash = ratings.hash_secret(secret)
    app = Flask("service-sql")

    @app.post("/ratings")
    def rate() -> Any:
        body = request.get_json()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rating_id = ratings.new_rating_id(hall_code, to_local(now, hall_zone(timezone)).date())
        values = {
            "rating_id": rating_id,
            "rated_at": now,
            "level": body["level"],
            "channel": "counter",
            "reasons": None,
            "comment": None,
            "client_tag": None,
            "token_hash": ratings.token_hash(body["token"]),
            "now": now,
            "since": now - dt.timedelta(seconds=10),
            "hall_code": hall_code,
            "timezone": timezone,
            "key_id": key_id,
            "key_hash": key_hash,
        }
        cursor = connection().execute(insert_sql, statement.parameters(values))
        if cursor.rowcount != 1:
            return jsonify(error="not stored"), 500
        return jsonify(rating_id=rating_id), 201

    return app


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


def start(kind: str, workdir: Path, number: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    """Start one server process; returns it and its port."""
    port_file = workdir / f"{kind}-{number}.port"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, __file__, f"serve-{kind}", str(workdir), str(number)],
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


def run_clients(
    ports: list[int], path: str, bodies: list[list[bytes]], headers: dict[str, str]
) -> float:
    """Send each client's bodies over its own connection (to the ports in turn); returns
    requests per second."""
    errors: list[str] = []
    barrier = threading.Barrier(len(bodies) + 1)

    def client(batch: list[bytes], port: int) -> None:
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

    threads = [
        threading.Thread(target=client, args=(batch, ports[i % len(ports)]))
        for i, batch in enumerate(bodies)
    ]
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


@contextlib.contextmanager
def benchmark_database(kind: str) -> Iterator[str | None]:
    """A PostgreSQL database of the benchmark's own (created, then dropped), or None."""
    if kind == "sqlite":
        yield None
        return
    from sqlalchemy import create_engine, text

    name = f"rating_bench_{os.getpid()}"
    server = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    uri = f"{PG_SERVER}/{name}"
    try:
        engine = create_engine(uri)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE TABLE reference_ratings "
                    "(id SERIAL PRIMARY KEY, token TEXT, level INTEGER)"
                )
            )
        engine.dispose()
        yield uri
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=250, help="per client and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1, help="waitress processes of each")
    parser.add_argument(
        "--service-sql",
        action="store_true",
        help="also measure the minimal endpoint running the service's own statement (SQLite)",
    )
    args = parser.parse_args()
    if args.service_sql and args.db != "sqlite":
        parser.error("--service-sql runs on SQLite only")
    kinds = ("kiosk", "reference", "service-sql") if args.service_sql else ("kiosk", "reference")
    per_round = args.clients * args.requests
    warmup = args.clients * 10

    with (
        tempfile.TemporaryDirectory(prefix="rating-bench-") as tmp,
        benchmark_database(args.db) as uri,
    ):
        if uri:
            os.environ["BENCH_DB_URI"] = uri
        workdir = Path(tmp)
        key, tokens = prepare_kiosk(workdir, warmup + per_round * args.rounds)
        (workdir / "terminal.key").write_text(key)
        servers = {
            kind: [start(kind, workdir, n) for n in range(1, args.processes + 1)] for kind in kinds
        }
        try:
            kiosk_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            plain = {"Content-Type": "application/json"}

            def bodies(batch: list[str]) -> list[list[bytes]]:
                encoded = [json.dumps({"token": t, "level": 5}).encode() for t in batch]
                return [encoded[i :: args.clients] for i in range(args.clients)]

            def measure(kind: str, batch: list[str]) -> tuple[float, float]:
                """Requests per second, and server CPU milliseconds per request."""
                started, path, headers = (
                    (servers["kiosk"], "/api/v1/ratings", kiosk_headers)
                    if kind == "service"
                    else (servers[kind], "/ratings", plain)
                )
                pids = [process.pid for process, _port in started]
                before = sum(cpu_seconds(pid) for pid in pids)
                rate = run_clients([port for _p, port in started], path, bodies(batch), headers)
                used = sum(cpu_seconds(pid) for pid in pids) - before
                return rate, used * 1000 / len(batch)

            measured = ["service", *kinds[1:]]
            # Warm them up (connections, caches, the first compiled statements).
            for kind in measured:
                measure(kind, tokens[:warmup])
            used = warmup
            results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in measured}
            for round_no in range(1, args.rounds + 1):
                batch = tokens[used : used + per_round]
                used += per_round
                # Alternate who goes first, so a burst of load elsewhere hits all alike.
                order = measured[::-1] if round_no % 2 else measured
                for kind in order:
                    results[kind].append(measure(kind, batch))
                (s_rate, s_cpu), (r_rate, r_cpu) = results["service"][-1], results["reference"][-1]
                line = (
                    f"round {round_no}: service {s_rate:7.1f} req/s ({s_cpu:.3f} CPU ms/req), "
                    f"reference {r_rate:7.1f} req/s ({r_cpu:.3f} CPU ms/req), "
                    f"ratio {s_rate / r_rate:.2f}"
                )
                if "service-sql" in results:
                    q_rate, q_cpu = results["service-sql"][-1]
                    line += (
                        f"; the service's statement alone {q_rate:7.1f} req/s "
                        f"({q_cpu:.3f} CPU ms/req, {q_rate / r_rate:.2f} of the reference)"
                    )
                print(line)
        finally:
            for process, _port in [pair for kind in kinds for pair in servers[kind]]:
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
    driver = "sqlite3" if args.db == "sqlite" else "psycopg"
    print(
        f"POST /api/v1/ratings on {args.db}, {args.processes} process(es): best "
        f"{best_service:.1f} req/s; reference Flask + {driver} insert: best "
        f"{best_reference:.1f} req/s; ratio of the rounds: median {median:.2f} "
        f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}), target >= {TARGET}; server CPU per "
        f"request, reference / service: {cpu_ratio:.2f}. {args.clients} clients, waitress "
        f"threads={THREADS}, {per_round} requests per round, {os.cpu_count()} CPUs"
    )
    if "service-sql" in results:
        alone = statistics.median(
            q[0] / r[0] for q, r in zip(results["service-sql"], results["reference"], strict=True)
        )
        of_alone = statistics.median(
            s[0] / q[0] for s, q in zip(results["service"], results["service-sql"], strict=True)
        )
        print(
            f"the service's statement in the minimal endpoint: median {alone:.2f} of the "
            f"reference; the service reaches median {of_alone:.2f} of that endpoint"
        )
    if median < TARGET:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve-kiosk":
        serve_kiosk(Path(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "serve-reference":
        serve_reference(Path(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "serve-service-sql":
        serve_service_sql(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
