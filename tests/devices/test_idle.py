"""What an idle listener does ten times a second and every few seconds, and does cheaply.

Polls and "still alive" reports on the ticks of one clock shared by the readers, those
reports written together in one transaction (a change at once), and the quick reads of
the reload tick. The CPU itself is measured by ``bench/punch_latency.py``, not here.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import event, select, update

import devices.listener as listener_module
from devices.emulator import EmulatorProcess
from devices.journal import Journal
from devices.listener import (
    CONNECTED,
    DISCONNECTED,
    DeviceSpec,
    DeviceWorker,
    Listener,
    ListenerSettings,
    MemorySink,
    Status,
    Storer,
)
from devices.protocol import Confirmation as C
from devices.transport import LinkDown
from kiosk.extensions import db
from kiosk.models import Assignment, Device, Staff
from kiosk.models_devices import DeviceSeen
from kiosk.services.readers import DatabaseSink, ListenerRows, queue_deletions, spec_of
from tests.devices.helpers import FAST, wait_for

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


class Clock:
    """A monotonic clock the test moves by hand, and the sleeps asked of it."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1000.0)
    monkeypatch.setattr(listener_module.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(listener_module.time, "sleep", fake.sleep)
    return fake


def worker(settings: ListenerSettings, sink: MemorySink) -> DeviceWorker:
    # Never connected: the tests below drive its steps by hand.
    return DeviceWorker(
        DeviceSpec("door", "/nonexistent"), sink, settings, threading.Event(), lambda: T0
    )


def test_an_idle_poll_waits_for_the_next_tick_of_the_shared_clock(clock: Clock) -> None:
    # Every reader polls on the multiples of poll_interval: they wake together (less CPU
    # than four wakeups spread over the interval) and no poll is later than one interval.
    door = worker(replace(FAST, poll_interval=0.1), MemorySink())
    door.client.capture = lambda: C.NO_FINGER  # type: ignore[method-assign]
    for now, pause in ((1000.034, 0.066), (1000.15, 0.05), (1000.19, 0.01)):
        clock.now = now
        door.step()
        assert clock.slept[-1] == pytest.approx(pause)
    assert len(clock.slept) == 3


def test_still_alive_comes_on_the_ticks_of_the_shared_clock(clock: Clock) -> None:
    sink = MemorySink()
    door = worker(replace(FAST, status_interval=5.0), sink)
    for now in (1002.3, 1004.9, 1005.0, 1009.99, 1010.01, 1012.0):
        clock.now = now
        door._alive()
    # The first report at once (a change), then on 1005 and 1010, not 5 s after each.
    assert len(sink.statuses) == 3


class BatchSink(MemorySink):
    """A memory sink that notes each write it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[str]] = []

    def report_statuses(self, statuses: Mapping[str, Status]) -> None:
        self.writes.append(sorted(statuses))
        super().report_statuses(statuses)


def test_still_alive_reports_of_several_readers_make_one_write() -> None:
    sink = BatchSink()
    settings = replace(FAST, status_batch=2.0)
    storer = Storer(sink, Journal(None), settings)
    names = ["door", "gate", "side"]
    storer.start()
    try:
        for name in names:  # a change each: written at once, maybe one by one
            storer.report_status(name, Status(CONNECTED, T0, None))
        wait_for(lambda: sum(len(w) for w in sink.writes) == 3, what="the first states")
        first = len(sink.writes)
        later = T0 + dt.timedelta(seconds=5)
        for name in names:
            storer.report_status(name, Status(CONNECTED, later, None))
        wait_for(lambda: len(sink.writes) > first, what="the still-alive batch")
        assert sink.writes[first:] == [names]
        assert sink.last_status("side") == Status(CONNECTED, later, None)
    finally:
        storer.stop()


def test_a_change_of_state_is_written_at_once() -> None:
    # Not kept for the batch: the clock screen says a reader is down (or back) without delay.
    sink = BatchSink()
    storer = Storer(sink, Journal(None), replace(FAST, status_batch=600.0))
    storer.start()
    try:
        storer.report_status("door", Status(CONNECTED, T0, None))
        wait_for(lambda: sink.writes == [["door"]], what="connected")
        storer.report_status("door", Status(CONNECTED, T0 + dt.timedelta(seconds=5), None))
        storer.report_status("door", Status(DISCONNECTED, T0, "unplugged"))
        wait_for(lambda: len(sink.writes) == 2, what="disconnected")
        assert sink.last_status("door") == Status(DISCONNECTED, T0, "unplugged")
    finally:
        storer.stop()


def _add_devices(app: Flask, *names: str) -> dict[str, int]:
    with app.app_context():
        hall_id = db.session.scalar(select(Staff.hall_id))
        devices = [Device(hall_id=hall_id, name=name, port=f"/dev/{name}") for name in names]
        db.session.add_all(devices)
        db.session.commit()
        ids = {d.name: d.id for d in devices}
        db.session.remove()
        return ids


def test_the_database_sink_writes_several_states_in_one_transaction(hall: Flask) -> None:
    ids = _add_devices(hall, "door", "gate", "side")
    sink = DatabaseSink(hall)
    commits: list[object] = []

    def committed(connection: object) -> None:
        commits.append(connection)

    event.listen(sink.engine, "commit", committed)
    sink.report_statuses(
        {
            "door": Status(CONNECTED, T0, None),
            "gate": Status(CONNECTED, T0, None),
            "side": Status(CONNECTED, T0, None),
        }
    )
    later = T0 + dt.timedelta(seconds=5)
    sink.report_statuses(
        {
            "door": Status(CONNECTED, later, None),
            "gate": Status(DISCONNECTED, None, "unplugged"),  # no instant: keeps the last
            "side": Status(CONNECTED, T0 + dt.timedelta(seconds=90), None),  # a gap
            "gone": Status(CONNECTED, later, None),  # removed meanwhile: skipped
        }
    )
    event.remove(sink.engine, "commit", committed)
    assert len(commits) == 2
    naive = T0.replace(tzinfo=None)
    with hall.app_context():
        rows = {
            d.name: (d.state, d.last_seen, d.last_error)
            for d in db.session.scalars(select(Device).where(Device.id.in_(ids.values())))
        }
        spans = db.session.execute(
            select(DeviceSeen.device_id, DeviceSeen.first_seen, DeviceSeen.last_seen).order_by(
                DeviceSeen.id
            )
        ).all()
    assert rows == {
        "door": (CONNECTED, naive + dt.timedelta(seconds=5), None),
        "gate": (DISCONNECTED, naive, "unplugged"),
        "side": (CONNECTED, naive + dt.timedelta(seconds=90), None),
    }
    assert [tuple(s) for s in spans] == [
        (ids["door"], naive, naive + dt.timedelta(seconds=5)),
        (ids["gate"], naive, naive),
        (ids["side"], naive, naive),
        (ids["side"], naive + dt.timedelta(seconds=90), naive + dt.timedelta(seconds=90)),
    ]


def test_the_reload_ticks_quick_reads(hall: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    _add_devices(hall, "gate", "door", "old")
    with hall.app_context():
        db.session.execute(
            update(Device).where(Device.name == "old").values(retired_at=T0.replace(tzinfo=None))
        )
        db.session.commit()
        expected = [
            spec_of(d)
            for d in db.session.scalars(
                select(Device).where(Device.retired_at.is_(None)).order_by(Device.name)
            )
        ]
        db.session.remove()
    reads = ListenerRows(hall)
    assert reads.specs() == expected and [s.name for s in expected] == ["door", "gate"]
    # A leaver is someone whose last assignment has ended, with a template on a reader.
    assert not reads.maybe_leavers()
    result = runner.invoke(args=["devices", "map", "door", "--page", "3", "--staff", "S005"])
    assert result.exit_code == 0, result.output
    assert not reads.maybe_leavers()
    today = dt.datetime.now(dt.UTC).date()
    for ended, left in ((today + dt.timedelta(days=5), False), (today - dt.timedelta(2), True)):
        with hall.app_context():
            staff_id = db.session.scalar(select(Staff.id).where(Staff.staff_no == "S005"))
            db.session.execute(
                update(Assignment).where(Assignment.staff_id == staff_id).values(end_date=ended)
            )
            db.session.commit()
            assert reads.maybe_leavers() is left
            # Never "no" where the deletions would find one.
            assert bool(queue_deletions()) is left
            db.session.rollback()
            db.session.remove()


def test_the_port_path_is_looked_at_every_link_check_seconds(clock: Clock) -> None:
    door = worker(replace(FAST, link_check=1.0), MemorySink())
    looked: list[float] = []

    def changed() -> bool:
        looked.append(clock.now)
        return clock.now >= 1002.0  # re-pointed meanwhile

    door.transport.link_changed = changed  # type: ignore[method-assign]
    for now in (1000.0, 1000.1, 1000.9, 1001.0, 1001.5):
        clock.now = now
        door._check_link()
    assert looked == [1000.0, 1001.0]
    clock.now = 1002.0
    with pytest.raises(LinkDown):
        door._check_link()


def test_a_link_repointed_to_a_silent_device_is_followed_at_the_first_timeout(
    emu: EmulatorProcess,
) -> None:
    # Not a second per poll: the old pty stays open but nobody answers, so the first
    # timeout makes the worker look at the path (here long before link_check says so).
    settings = replace(FAST, link_check=600.0, failures_before_reconnect=100)
    sink = MemorySink()
    with Listener([DeviceSpec("door", str(emu.link))], sink, settings) as running:
        door = running.workers[0]
        wait_for(lambda: door.state == CONNECTED)
        reconnects = door.reconnects
        emu.ok("repoint")
        wait_for(lambda: door.reconnects > reconnects, what="followed the link")
        emu.ok("press 1")
        wait_for(lambda: [m.page for m in sink.matches] == [1], what="the press")
        emu.ok("release")
