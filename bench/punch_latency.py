"""Benchmark: fingerprint punch latency and the CPU of an idle listener.

1. Latency: from the emulated module's Search reply (with a hit) leaving the emulator to
   the punch being committed in the database by the listener's database sink; median and
   p99 over ``--presses`` presses (default 200). Both ends are read from CLOCK_MONOTONIC,
   which is one clock for every process on Linux. Measured twice: with the press journal
   on disk (what ``devices listen`` does: append + fsync before storing) and with the
   journal in memory only, so the difference is the journal's cost.
2. Idle CPU: the listener process polling ``--devices`` emulated readers (default 4) with
   the production settings (GenImg every 100 ms), nobody pressing, for ``--idle`` seconds
   once every periodic thread has had its first round; also the CPU of each of the
   listener's threads (from /proc schedstat) and of the emulators themselves.

    .venv/bin/python bench/punch_latency.py [--presses 200] [--devices 4] [--idle 10]

Figures (``--presses 100 --devices 4 --idle 10``, 2026-12-01, 2 cores shared with other
work, ``uptime`` load beside each). Idle: 0.77, 0.79 and 0.80 % of one core on a quiet
machine (load 0.4–0.5; in ms of CPU per second, the 4 readers' threads 6.6–6.8, jobs
0.4–0.5, storer 0.3, status file 0.15, reload 0.1, templates 0.1) and 0.60–0.69 % at load
1.4–2.5 (readers 4.9–5.7); the 4 emulators 0.4–0.8 %. Before issue 12's idle work, with this
bench as it was then (a 1-second settle) in the same hour: 1.46–1.94 % at load 0.5–0.8 and
1.54–1.59 % at load 1.5–2.1 (the issue's reference: 2.08 %); its threads, measured after a
6-second settle at load 0.2–1.6: readers 9.9–12.7, jobs 2.0–3.8, storer 1.7–2.0, reload
0.7–1.4, templates 0.5–1.2, status file 0.16–0.31. Latency, journal on disk: median 3.7–5.3
ms (before 3.7–4.9 ms, one run 9.3); the journal's cost −0.2 to 2.2 ms (before 0.4–1.0 ms,
one run 4.9): noise around a small cost. What is left of the idle poll is mostly two wakeups
of a reader's thread per poll (its pause, the reply), 30–60 µs of CPU each on this VM; only
a longer ``DEVICE_POLL_INTERVAL`` would cut that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from devices.emulator import EmulatorProcess  # noqa: E402
from devices.journal import Journal  # noqa: E402
from devices.listener import CONNECTED, DeviceSpec, Listener, ListenerSettings, Match  # noqa: E402
from devices.transport import Timeouts  # noqa: E402
from kiosk import create_app  # noqa: E402
from kiosk.cli.devices import reload_tick  # noqa: E402
from kiosk.extensions import db  # noqa: E402
from kiosk.models import Device, DeviceTemplate, Hall, Staff  # noqa: E402
from kiosk.services.readers import (  # noqa: E402
    DatabaseJobs,
    DatabaseSink,
    ListenerRows,
    spec_of,
)

PAGES = 5


class TimedSink(DatabaseSink):
    """The real database sink, noting when each punch's commit returned."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.committed: list[float] = []
        self.cond = threading.Condition()

    def record_match(self, match: Match) -> None:
        """Store as usual, then note the time."""
        super().record_match(match)
        with self.cond:
            self.committed.append(time.monotonic())
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> float:
        """Wait for the ``n``-th commit; its time."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.committed) >= n, timeout):
                raise RuntimeError(f"punch {n} not committed within {timeout} s")
            return self.committed[n - 1]


def make_app(root: Path) -> Flask:
    """An app on a fresh, migrated SQLite database."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'bench.sqlite'}",
            "SECRET_KEY": os.urandom(32).hex(),
        }
    )
    with app.app_context():
        upgrade()
        hall = Hall(code="BENCH", name="基准测试大厅", timezone="Asia/Shanghai", settings={})
        db.session.add(hall)
        db.session.flush()
        for i in range(PAGES):
            db.session.add(Staff(hall_id=hall.id, staff_no=f"S{i:03d}", name=f"员工{i}"))
        db.session.commit()
    return app


def add_device(app: Flask, name: str, port: Path) -> None:
    """A reader whose pages 0..PAGES-1 are mapped to staff S000..."""
    with app.app_context():
        hall = db.session.query(Hall).one()
        device = Device(hall_id=hall.id, name=name, port=str(port))
        db.session.add(device)
        db.session.flush()
        for staff in db.session.query(Staff).order_by(Staff.staff_no):
            page = int(staff.staff_no[1:])
            db.session.add(DeviceTemplate(device_id=device.id, page=page, staff_id=staff.id))
        db.session.commit()


def specs(app: Flask) -> list[DeviceSpec]:
    """Listener specs of every device."""
    with app.app_context():
        result = [spec_of(d) for d in db.session.query(Device).order_by(Device.name)]
        db.session.remove()
        return result


def wait(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition`` until true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.001)


def latency(root: Path, presses: int, on_disk: bool) -> list[float]:
    """Milliseconds from search reply sent to punch committed, one per press."""
    root.mkdir()
    app = make_app(root)
    journal = Journal(root / "journal.jsonl" if on_disk else None)
    emulator = EmulatorProcess(root / "fp", templates=PAGES)
    add_device(app, "door", emulator.link)
    sink = TimedSink(app)
    # Fast polling only to get 200 presses done quickly; it does not enter the measured span,
    # which starts when the Search reply leaves the emulator.
    settings = ListenerSettings(poll_interval=0.01, timeouts=Timeouts(reply=1.0))
    samples: list[float] = []
    try:
        with Listener(specs(app), sink, settings, journal) as listener:
            worker = listener.workers[0]
            wait(lambda: worker.state == CONNECTED)
            for n in range(1, presses + 1):
                emulator.ok(f"press {n % PAGES}")
                committed = sink.wait_for(n)
                sent = emulator.status()["last_hit_sent"]
                assert isinstance(sent, float)
                samples.append((committed - sent) * 1000)
                emulator.ok("release")
                wait(lambda: not worker.finger_down)
    finally:
        emulator.close()
    return samples


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process, by native thread id (/proc schedstat)."""
    seconds: dict[int, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            seconds[int(task.name)] = int((task / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended meanwhile
    return seconds


def per_thread(before: dict[int, float], after: dict[int, float], wall: float) -> str:
    """Milliseconds of CPU per second of each of the listener's threads (readers summed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    spent: dict[str, float] = {}
    readers = 0
    for tid, cpu in after.items():
        name = names.get(tid, "other")
        if name.startswith("reader-"):
            name, readers = "readers", readers + 1
        spent[name] = spent.get(name, 0.0) + (cpu - before.get(tid, 0.0)) / wall * 1000
    parts = [
        f"{name}{f' ({readers})' if name == 'readers' else ''} {ms:.2f}"
        for name, ms in sorted(spent.items(), key=lambda item: -item[1])
    ]
    return ", ".join(parts)


def idle_cpu(root: Path, devices: int, seconds: float) -> tuple[float, float]:
    """CPU % of the listener process and of all emulators together, while idle."""
    app = make_app(root / "idle")
    emulators = [EmulatorProcess(root / "idle" / f"fp{i}", templates=PAGES) for i in range(devices)]
    try:
        for i, emulator in enumerate(emulators):
            add_device(app, f"door{i}", emulator.link)
        journal = Journal(root / "idle" / "journal.jsonl")
        status = root / "idle" / "status.json"
        settings = ListenerSettings()
        # With the jobs and templates threads and the reload tick (which queues leavers'
        # template deletions), as `devices listen` runs them (an enrol job ask a second, a
        # template job ask every five, the device rows and the leavers every
        # DEVICE_RELOAD_SECONDS).
        jobs = DatabaseJobs(app)
        rows = ListenerRows(app)
        listener = Listener(
            specs(app),
            DatabaseSink(app),
            settings,
            journal,
            status,
            reload=lambda: reload_tick(app, rows),
            reload_interval=5.0,
            jobs=jobs,
            templates=jobs,
        )
        with listener:
            wait(lambda: all(w.state == CONNECTED for w in listener.workers))
            # Idle, not starting: past the first round of every periodic thread (the first
            # reload tick comes after reload_interval), whose first queries are one-off.
            time.sleep(listener.reload_interval + 1.0)
            wall0, cpu0, threads0 = time.monotonic(), time.process_time(), thread_cpu()
            emu0 = sum(cpu_seconds(e.proc.pid) for e in emulators)
            time.sleep(seconds)
            wall = time.monotonic() - wall0
            listener_cpu = (time.process_time() - cpu0) / wall * 100
            emulator_cpu = (sum(cpu_seconds(e.proc.pid) for e in emulators) - emu0) / wall * 100
            threads = per_thread(threads0, thread_cpu(), wall)
            polls = [e.status()["gen_img"] for e in emulators]
            print(f"  GenImg polls served per reader during the run: {polls}")
            print(f"  ms of CPU per second, by thread: {threads}")
    finally:
        for emulator in emulators:
            emulator.close()
    return listener_cpu, emulator_cpu


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "idle").mkdir()
        medians = {}
        for on_disk in (True, False):
            samples = latency(root / f"latency-{on_disk}", args.presses, on_disk)
            label = "journal on disk (fsync)" if on_disk else "journal in memory"
            medians[on_disk] = statistics.median(samples)
            print(
                f"punch latency over {len(samples)} presses, {label} "
                "(search reply sent -> punch committed):"
            )
            print(
                f"  median {medians[on_disk]:.2f} ms, p99 {percentile(samples, 99):.2f} ms, "
                f"min {min(samples):.2f} ms, max {max(samples):.2f} ms"
            )
        print(f"  the journal's cost (median difference): {medians[True] - medians[False]:.2f} ms")
        listener_cpu, emulator_cpu = idle_cpu(root, args.devices, args.idle)
        print(
            f"idle listener polling {args.devices} readers every 100 ms for {args.idle:.0f} s: "
            f"{listener_cpu:.2f} % of one CPU (the {args.devices} emulators: {emulator_cpu:.2f} %)"
        )


if __name__ == "__main__":
    main()
