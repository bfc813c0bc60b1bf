"""Idle and polling clients of the live pages vs ``/healthz`` and a rating POST.

Usage: ``.venv/bin/python bench/live_pages.py [--threads 8] [--seconds 4] [--factor 4]``

The service runs under waitress (``--threads``, default 8, as ``demo serve``) in its own
process on a SQLite file in a temporary directory, bound to 127.0.0.1, with the example
hall, one reader, a counter terminal and a back-office user. For each kind of client,
``factor x threads`` of them (default 32) run as threads of this process, each on its own
keep-alive connection, behaving as the page does:

* ``clock``: the clock screen's poll, ``GET /clock/events?after=CURSOR`` every 1.5 s;
* ``counter``: a signed-in counter pad, ``GET /counter/state`` every 3 s (its fastest
  poll: the session poll while a citizen rates; idle it asks every 30 s);
* ``display``: the public display, loaded once and then idle (it reloads after >= 300 s);
* ``today``: the back office's 今日大厅, signed in, loaded once, then idle (reload 120 s);
* ``old-stream``: a screen still on the old page's EventSource, ``GET /clock/stream``
  with ``Last-Event-ID``, read to its end, again after the ``retry`` it was given;
* ``tcp-idle``: a connection that sends nothing; ``slow-headers``: half a request line
  and headers, never finished (a slowloris client).

Meanwhile a probe asks ``GET /healthz`` on a fresh connection every 0.1 s and a terminal
posts a rating every 0.5 s (``POST /api/v1/sessions`` then ``POST /api/v1/ratings``); the
table gives their latency p50 / p99 / max in milliseconds. A last row runs every kind at
once. The target is that /healthz and the rating answer within 1 s in every row (the exit
status is 1 when one does not). A probe that got no answer counts as its timeout (10 s).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = ROOT / "tests" / "data" / "small"
PROBE_TIMEOUT = 10.0
TARGET_SECONDS = 1.0
KINDS = ("clock", "counter", "display", "today", "old-stream", "tcp-idle", "slow-headers")
ADMIN_USER = ("bench-admin", "bench-password-123")


# --- one HTTP connection with cookies ------------------------------------------------------


class Browser:
    """A keep-alive connection to ``host:port`` that keeps the cookies it was given."""

    def __init__(self, port: int, cookies: dict[str, str] | None = None) -> None:
        self.port = port
        self.cookies: dict[str, str] = dict(cookies or {})
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT * 2)
        self.closed = False  # once closed, never reopened (http.client would, by itself)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request on the connection (reopened if the server closed it)."""
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.closed:
                raise ConnectionAbortedError("closed by the crowd")
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _sep, val = pair.partition("=")
                self.cookies[key.strip()] = val.strip()
        return response.status, data

    def close(self) -> None:
        """Close the connection, also from another thread (shutdown wakes a blocked read)."""
        self.closed = True
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def _csrf(page: bytes) -> str:
    match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        rb'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if match is None:
        raise RuntimeError("no csrf_token on the sign-in page")
    return match.group(1).decode()


def _post_form(browser: Browser, path: str, fields: dict[str, str]) -> int:
    status, page = browser.request("GET", path)
    body = urllib.parse.urlencode({**fields, "csrf_token": _csrf(page)}).encode()
    status, _page = browser.request(
        "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    return status


def sign_in_counter(port: int, key: str) -> dict[str, str]:
    """The cookies of a counter pad signed in with terminal ``key``."""
    browser = Browser(port)
    status = _post_form(browser, "/counter/login", {"key": key})
    browser.close()
    if status != 302:
        raise RuntimeError(f"counter sign-in answered {status}")
    return browser.cookies


def sign_in_admin(port: int, username: str, password: str) -> dict[str, str]:
    """The cookies of a signed-in back-office user."""
    browser = Browser(port)
    status = _post_form(browser, "/admin/login", {"username": username, "password": password})
    browser.close()
    if status != 302:
        raise RuntimeError(f"back-office sign-in answered {status}")
    return browser.cookies


# --- the clients ----------------------------------------------------------------------------


@dataclass
class Crowd:
    """Client threads of one kind; ``stop()`` ends them and closes their connections."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)
    served: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self.lock:
            self.served += 1

    def stop(self) -> None:
        self.stop_event.set()
        for close in list(self.closers):
            close()
        for thread in self.threads:
            thread.join(timeout=5)


def _poller(
    crowd: Crowd, port: int, cookies: dict[str, str], path: Callable[[bytes], str], every: float
) -> None:
    browser = Browser(port, cookies)
    crowd.closers.append(browser.close)
    last = b""
    try:
        while not crowd.stop_event.is_set():
            status, last = browser.request("GET", path(last))
            if status != 200:
                crowd.errors.append(f"{path(last)}: HTTP {status}")
            crowd.count()
            crowd.stop_event.wait(every)
    except (OSError, http.client.HTTPException) as exc:
        if not crowd.stop_event.is_set():
            crowd.errors.append(repr(exc))
    finally:
        browser.close()


def _clock_path(hall: str) -> Callable[[bytes], str]:
    def path(last: bytes) -> str:
        cursor = json.loads(last)["cursor"] if last else 0
        return f"/clock/events?after={cursor}&hall={hall}"

    return path


def _old_stream(crowd: Crowd, port: int) -> None:
    browser = Browser(port)
    crowd.closers.append(browser.close)
    last_id = "0"
    try:
        while not crowd.stop_event.is_set():
            status, body = browser.request(
                "GET", "/clock/stream", headers={"Last-Event-ID": last_id}
            )
            crowd.count()
            retry = 2.0
            for line in body.decode().splitlines():
                if line.startswith("id: "):
                    last_id = line[4:]
                elif line.startswith("retry: "):
                    retry = int(line[7:]) / 1000
            crowd.stop_event.wait(retry)
    except (OSError, http.client.HTTPException) as exc:
        if not crowd.stop_event.is_set():
            crowd.errors.append(repr(exc))
    finally:
        browser.close()


def _raw(crowd: Crowd, port: int, send: bytes) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)

    def close() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    crowd.closers.append(close)
    if send:
        sock.sendall(send)
    crowd.count()
    crowd.stop_event.wait()


def start_crowd(kind: str, count: int, port: int, ctx: dict[str, Any]) -> Crowd:
    """Start ``count`` clients of ``kind`` (staggered over a second, as real pages are)."""
    crowd = Crowd()
    hall = ctx["hall"]
    targets: dict[str, Callable[[], None]] = {
        "clock": lambda: _poller(crowd, port, {}, _clock_path(hall), 1.5),
        "counter": lambda: _poller(
            crowd, port, ctx["counter_cookies"], lambda _last: "/counter/state", 3.0
        ),
        "display": lambda: _poller(crowd, port, {}, lambda _last: f"/display?hall={hall}", 300),
        "today": lambda: _poller(
            crowd, port, ctx["admin_cookies"], lambda _last: "/admin/today", 120
        ),
        "old-stream": lambda: _old_stream(crowd, port),
        "tcp-idle": lambda: _raw(crowd, port, b""),
        "slow-headers": lambda: _raw(crowd, port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
    }
    for index in range(count):
        thread = threading.Thread(target=targets[kind], name=f"{kind}-{index}", daemon=True)
        crowd.threads.append(thread)
        thread.start()
        time.sleep(1.0 / count)
    return crowd


# --- the probes -----------------------------------------------------------------------------


def _timed(call: Callable[[], int], expect: int) -> tuple[float, str | None]:
    began = time.perf_counter()
    try:
        status = call()
    except (OSError, http.client.HTTPException) as exc:
        return PROBE_TIMEOUT, repr(exc)
    elapsed = time.perf_counter() - began
    return elapsed, None if status == expect else f"HTTP {status}"


def healthz_once(port: int) -> tuple[float, str | None]:
    """One ``GET /healthz`` on a fresh connection: seconds and an error (or None)."""

    def call() -> int:
        browser = Browser(port)
        browser.conn.timeout = PROBE_TIMEOUT
        try:
            return browser.request("GET", "/healthz")[0]
        finally:
            browser.close()

    return _timed(call, 200)


def rating_once(port: int, key: str) -> tuple[float, str | None]:
    """Open a session and rate it as the terminal would; seconds of the rating POST."""
    browser = Browser(port)
    browser.conn.timeout = PROBE_TIMEOUT
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    try:
        try:
            status, body = browser.request(
                "POST", "/api/v1/sessions", json.dumps({"staff_no": "S001"}).encode(), headers
            )
        except (OSError, http.client.HTTPException) as exc:
            return PROBE_TIMEOUT, repr(exc)
        if status != 201:
            return PROBE_TIMEOUT, f"session HTTP {status}"
        rating = json.dumps({"token": json.loads(body)["token"], "level": 5}).encode()
        return _timed(lambda: browser.request("POST", "/api/v1/ratings", rating, headers)[0], 201)
    finally:
        browser.close()


@dataclass(frozen=True)
class Figures:
    """Latency of the probes while one crowd was there."""

    kind: str
    clients: int
    healthz: list[float]
    ratings: list[float]
    probe_errors: list[str]
    served: int
    client_errors: list[str]

    @staticmethod
    def _pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def row(self) -> str:
        h, r = self.healthz, self.ratings
        return (
            f"{self.kind:<14}{self.clients:>6}  "
            f"{statistics.median(h) * 1000:8.1f}{self._pct(h, 0.99) * 1000:9.1f}{max(h) * 1000:9.1f}  "
            f"{statistics.median(r) * 1000:8.1f}{self._pct(r, 0.99) * 1000:9.1f}{max(r) * 1000:9.1f}  "
            f"{self.served:>7}  {len(self.probe_errors) + len(self.client_errors):>6}"
        )

    @property
    def worst(self) -> float:
        """The slowest probe answer, seconds."""
        return max(self.healthz + self.ratings)


HEADER = (
    f"{'clients of':<14}{'n':>6}  {'healthz ms p50':>17}{'p99':>9}{'max':>9}  "
    f"{'rating p50':>8}{'p99':>9}{'max':>9}  {'served':>7}  {'errors':>6}"
)


def measure(
    port: int, key: str, kinds: tuple[str, ...], count: int, seconds: float, ctx: dict[str, Any]
) -> Figures:
    """Start ``count`` clients of each of ``kinds``, then probe for ``seconds``."""
    crowds = [start_crowd(kind, count, port, ctx) for kind in kinds]
    try:
        time.sleep(1.0)  # let the pollers settle into their rhythm
        healthz: list[float] = []
        ratings: list[float] = []
        errors: list[str] = []
        ends = time.monotonic() + seconds

        def rate_loop() -> None:
            while time.monotonic() < ends:
                elapsed, error = rating_once(port, key)
                ratings.append(elapsed)
                if error:
                    errors.append(f"rating: {error}")
                time.sleep(0.5)

        rater = threading.Thread(target=rate_loop, daemon=True)
        rater.start()
        while time.monotonic() < ends:
            elapsed, error = healthz_once(port)
            healthz.append(elapsed)
            if error:
                errors.append(f"healthz: {error}")
            time.sleep(0.1)
        rater.join(PROBE_TIMEOUT * 2 + 1)
    finally:
        for crowd in crowds:
            crowd.stop()
    return Figures(
        kind="nobody" if not kinds else kinds[0] if len(kinds) == 1 else "all at once",
        clients=count * len(kinds),
        healthz=healthz,
        ratings=ratings,
        probe_errors=errors,
        served=sum(c.served for c in crowds),
        client_errors=[e for c in crowds for e in c.errors],
    )


# --- the server and its data ----------------------------------------------------------------


def _app(workdir: Path, threads: int) -> Any:
    sys.path.insert(0, str(ROOT))
    from kiosk import create_app

    return create_app(
        {
            "SECRET_KEY": "bench-live-pages-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'kiosk.sqlite'}",
            "RATING_RATE_LIMIT": "0",  # measure the answers, not the limiter's refusals
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": threads, "max_overflow": 4},
        }
    )


def prepare(app: Any) -> dict[str, Any]:
    """Example hall and roster, a connected reader with punches, a terminal, an admin."""
    import datetime as dt

    from sqlalchemy import select

    from kiosk.extensions import db
    from kiosk.interchange import import_file
    from kiosk.models import Device, Hall, Staff, Terminal, Window, utcnow
    from kiosk.models_devices import DeviceEvent
    from kiosk.services.accounts import create_user
    from kiosk.services.ratings import issue_key

    with app.app_context():
        hall_text = (EXAMPLE_DIR / "hall.toml").read_bytes()
        import_file(db.session, "hall", hall_text, None, source_name="hall.toml")
        hall = db.session.scalars(select(Hall)).one()
        roster = (EXAMPLE_DIR / "roster.csv").read_bytes()
        import_file(db.session, "roster", roster, hall.code, source_name="roster.csv")
        now = utcnow()
        device = Device(
            hall_id=hall.id, name="door", port="/dev/null", state="connected", last_seen=now
        )
        db.session.add(device)
        db.session.flush()
        staff = db.session.scalars(select(Staff).order_by(Staff.staff_no)).all()
        for minute, person in enumerate(staff[:5]):
            db.session.add(
                DeviceEvent(
                    device_id=device.id,
                    at=now - dt.timedelta(minutes=minute),
                    kind="punch",
                    staff_id=person.id,
                )
            )
        window = db.session.scalar(select(Window).where(Window.code == "W01"))
        issued = issue_key()
        db.session.add(
            Terminal(
                hall_id=hall.id,
                window_id=window.id,
                name="bench",
                key_id=issued.key_id,
                key_hash=issued.key_hash,
            )
        )
        create_user(
            db.session, username=ADMIN_USER[0], password=ADMIN_USER[1], role="admin", hall=None
        )
        db.session.commit()
        code = hall.code
        db.engine.dispose()
    return {"key": issued.key, "hall": code}


def serve(workdir: Path, threads: int, connection_limit: int) -> None:
    """Run the service (in its own process) and write its port to ``workdir/port``."""
    import logging

    from waitress.server import create_server

    # Queue warnings are the point of the exercise, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        _app(workdir, threads),
        host="127.0.0.1",
        port=0,
        threads=threads,
        connection_limit=connection_limit,
    )
    (workdir / "port").write_text(str(server.effective_port))  # type: ignore[union-attr]
    server.run()


def start_server(workdir: Path, threads: int, connection_limit: int) -> tuple[Any, int]:
    """Start the server process; returns it and its port."""
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", str(workdir), str(threads), str(connection_limit)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return process, int(port_file.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--factor", type=int, default=4, help="clients per kind = factor x threads")
    parser.add_argument("--seconds", type=float, default=4.0, help="probing per row")
    parser.add_argument("--connection-limit", type=int, default=1000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    count = args.factor * args.threads
    kinds = tuple(k for k in args.kinds.split(",") if k)

    with tempfile.TemporaryDirectory(prefix="live-bench-") as tmp:
        workdir = Path(tmp)
        app = _app(workdir, args.threads)
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        ctx = prepare(app)
        process, port = start_server(workdir, args.threads, args.connection_limit)
        try:
            ctx["counter_cookies"] = sign_in_counter(port, ctx["key"])
            ctx["admin_cookies"] = sign_in_admin(port, *ADMIN_USER)
            print(
                f"waitress threads={args.threads} connection_limit={args.connection_limit}, "
                f"{os.cpu_count()} CPUs; {args.seconds:g} s of probes per row\n{HEADER}"
            )
            rows = [measure(port, ctx["key"], (), 0, args.seconds, ctx)]
            print(rows[0].row(), flush=True)
            for kind in kinds:
                rows.append(measure(port, ctx["key"], (kind,), count, args.seconds, ctx))
                print(rows[-1].row(), flush=True)
            if len(kinds) > 1:
                rows.append(measure(port, ctx["key"], kinds, count, args.seconds, ctx))
                print(rows[-1].row(), flush=True)
        finally:
            process.terminate()
            process.wait(timeout=10)
    failed = [row for row in rows if row.worst > TARGET_SECONDS or row.probe_errors]
    for row in failed:
        print(f"{row.kind}: slowest {row.worst * 1000:.0f} ms; errors {row.probe_errors[:3]}")
    print("target: /healthz and rating POST within 1 s in every row:", "no" if failed else "met")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
