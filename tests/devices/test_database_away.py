"""The database away (SPEC 7, issue 12): the listener keeps polling and journaling while
SQLite is locked by another writer, or PostgreSQL is cut off behind a TCP proxy; the presses
reach the database with their original instants when it is back."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.engine import make_url

from devices.emulator import EmulatorProcess
from devices.journal import Journal
from devices.listener import CONNECTED, Listener
from kiosk import create_app
from kiosk.extensions import db
from kiosk.models import Device, Punch
from kiosk.services.readers import DatabaseSink, spec_of
from tests.conftest import BACKEND
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import FAST, wait_for


class Outage(Protocol):
    """Takes the database away and brings it back."""

    app: Flask  # the app the listener uses (through the proxy on PostgreSQL)

    def cut(self) -> None: ...

    def restore(self) -> None: ...


class SqliteWriter:
    """Another writer holds the SQLite file (BEGIN IMMEDIATE): readers go on, writers wait."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.path = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        self.conn: sqlite3.Connection | None = None

    def cut(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("UPDATE devices SET unrecognised_count = unrecognised_count")

    def restore(self) -> None:
        assert self.conn is not None
        self.conn.execute("ROLLBACK")
        self.conn.close()
        self.conn = None


class TcpProxy:
    """127.0.0.1:<port> -> the PostgreSQL server; ``cut`` drops every connection and refuses
    new ones (accepted and closed at once) until ``restore``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.down = threading.Event()
        self.closing = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source)
            self._drop(sink)

    def _drop(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        self.down.set()
        with self.lock:
            victims = list(self.sockets)
        for sock in victims:
            self._drop(sock)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.closing.set()
        self.cut()
        self.server.close()


class PostgresCut:
    """The listener's app reaches PostgreSQL through a proxy the test cuts and restores."""

    def __init__(self, app: Flask) -> None:
        url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
        self.proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        proxied = url.set(host="127.0.0.1", port=self.proxy.port)
        config = {
            key: app.config[key]
            for key in ("TESTING", "SECRET_KEY", "RATING_RATE_LIMIT", "INSTANCE_FOR_TESTS")
        }
        config.update(FAST_CONFIG)
        config["SQLALCHEMY_DATABASE_URI"] = proxied.render_as_string(hide_password=False)
        # Without a connect timeout a cut during the handshake would wait for TCP's own.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"connect_timeout": 2}}
        self.app = create_app(config)
        self.app.instance_path = app.instance_path

    def cut(self) -> None:
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        self.proxy.close()


@pytest.fixture
def outage(hall: Flask) -> Iterator[Outage]:
    """The way the database goes away on this test run's backend."""
    if BACKEND == "postgresql":
        cut = PostgresCut(hall)
        try:
            yield cut
        finally:
            cut.close()
    else:
        writer = SqliteWriter(hall)
        yield writer
        if writer.conn is not None:
            writer.restore()


def punch_times(app: Flask) -> list[dt.datetime]:
    with app.app_context():
        rows = list(db.session.scalars(select(Punch.punched_at).order_by(Punch.punched_at)))
        db.session.remove()
        return rows


def press_and_release(emu: EmulatorProcess, listener: Listener, target: str) -> None:
    worker = listener.workers[0]
    hits = emu.status()["hits_sent"]
    emu.ok(f"press {target}")
    wait_for(lambda: emu.status()["hits_sent"] > hits and worker.finger_down, what="hit")
    emu.ok("release")
    wait_for(lambda: not worker.finger_down, what="release seen")


def test_presses_are_held_while_the_database_is_away_and_stored_when_back(
    hall: Flask, runner: FlaskCliRunner, emu: EmulatorProcess, outage: Outage
) -> None:
    for args in (
        ["devices", "add", "door", "--port", str(emu.link)],
        ["devices", "map", "door", "--page", "3", "--staff", "S005"],
        ["devices", "map", "door", "--page", "4", "--staff", "S001"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with hall.app_context():
        specs = [spec_of(d) for d in db.session.scalars(select(Device))]
        db.session.remove()
    folder = Path(hall.instance_path) / "devices"
    journal = Journal(folder / "journal.jsonl")
    status_path = folder / "status.json"
    listener = Listener(specs, DatabaseSink(outage.app), FAST, journal, status_path)
    with listener:
        wait_for(lambda: listener.workers[0].state == CONNECTED, what="connected")
        press_and_release(emu, listener, "3")
        wait_for(lambda: len(punch_times(hall)) == 1, what="first punch, database there")
        outage.cut()
        cut_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        press_and_release(emu, listener, "4")
        press_and_release(emu, listener, "3")
        # Still polling: the module keeps being asked while the presses wait.
        gen_img = emu.status()["gen_img"]
        wait_for(lambda: emu.status()["gen_img"] > gen_img + 20, what="polling goes on")
        wait_for(
            lambda: (state := json.loads(status_path.read_text())).get("backlog") == 2
            and state["database"]["ok"] is False,
            timeout=20,
            what="backlog of 2 and the database away in the status file",
        )
        state = json.loads(status_path.read_text())
        assert state["database"]["ok"] is False and state["database"]["since"]
        assert state["devices"]["door"]["backlog"] == 2
        assert len(journal.pending()) == 2
        if BACKEND != "postgresql":
            # SQLite: readers still get in, so `devices status` reads the database and adds
            # the backlog from the listener's status file.
            result = runner.invoke(args=["devices", "status", "--format", "json"])
            assert result.exit_code == 0, result.output
            row = json.loads(result.output)[0]
            assert row["backlog"] == 2 and row["backlog_since"]
            text = runner.invoke(args=["devices", "status"]).output
            assert "暂存 2 条打卡" in text
        else:
            # PostgreSQL cut off: `devices status` through the same cut tells from the file.
            result = outage.app.test_cli_runner().invoke(
                args=["devices", "status", "--format", "json"]
            )
            assert result.exit_code == 0, result.output
            payload = json.loads(result.output)
            assert payload["database_error"]
            assert payload["devices"][0]["name"] == "door"
            assert payload["devices"][0]["backlog"] == 2
            text = outage.app.test_cli_runner().invoke(args=["devices", "status"]).output
            assert "数据库无法连接" in text and "暂存 2 条打卡" in text
        # The clock screen says so (the web app reaches the database directly here).
        notice = hall.test_client().get("/clock/held?hall=QJ").get_json()["held"]
        assert notice["count"] == 2 and "暂存2条打卡" in notice["message"]
        held_until = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert len(punch_times(hall)) == 1
        outage.restore()
        wait_for(lambda: len(punch_times(hall)) == 3, timeout=20, what="backlog stored")
        wait_for(lambda: journal.pending() == [], what="journal marked done")
        wait_for(
            lambda: json.loads(status_path.read_text()).get("backlog") == 0,
            what="status file clear",
        )
    assert hall.test_client().get("/clock/held?hall=QJ").get_json() == {"held": None}
    times = punch_times(hall)
    # The original instants: taken while the database was away, not when it came back.
    assert all(cut_at <= t <= held_until for t in times[1:]), times
    assert json.loads(status_path.read_text())["database"]["ok"] is True
