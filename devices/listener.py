"""The polling loop: one thread per fingerprint reader, capture -> convert -> search.

The module keeps no log and has no clock, so the listener is the only record of a press:
as soon as a Search reply with a hit has been received, the host's time is taken and the
match is handed to the sink, which must store it before the loop goes on (it is retried
until it is). The listener then waits until the module reports no finger, so one press is
one match, also across reconnects. What the sink does with a match (punch, or "not
recognised" for a page no staff member is mapped to) is its business; see
``kiosk.services.readers`` for the database sink.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devices import protocol as p
from devices.client import ModuleClient
from devices.enrol import ActiveJob, Jobs, Outcome, Stage, enrol
from devices.journal import Journal, Press, new_press_id
from devices.protocol import Confirmation as C
from devices.sharing import (
    Kind,
    Result,
    TemplateJob,
    TemplateJobs,
    TemplateOutcome,
    TemplateRefused,
    delete_template,
    install_template,
    read_template,
)
from devices.transport import LinkDown, ReplyTimeout, SerialTransport, Timeouts, TransportError

log = logging.getLogger(__name__)

CONNECTED = "connected"
DISCONNECTED = "disconnected"
ERROR = "error"


@dataclass(frozen=True)
class DeviceSpec:
    """How to reach one reader."""

    name: str
    port: str
    baud: int = p.DEFAULT_BAUD
    address: int = p.DEFAULT_ADDRESS
    password: int = p.DEFAULT_PASSWORD


PAUSE_ENV = "DEVICES_PAUSE_AT"  # test hook: the listener stops for good at this stage


def pause_point(stage: str) -> None:
    """If ``DEVICES_PAUSE_AT`` names ``stage``, say so on stderr and sleep forever.

    Only the crash tests set it: they SIGKILL the listener while it sleeps here, to prove
    what survives a death at that instant. Stages, in order: ``after_search`` (the hit was
    received, not journaled), ``after_journal`` (journaled, not stored), ``before_commit``
    (the punch is flushed in an open transaction), ``after_commit`` (committed, not marked
    done in the journal), ``after_done``.
    """
    if os.environ.get(PAUSE_ENV) == stage:
        os.write(2, f"PAUSED AT {stage}\n".encode())
        while True:
            time.sleep(3600)


@dataclass(frozen=True)
class Match:
    """A Search hit: ``at`` is the host's time (aware, UTC) when the reply was received;
    ``press_id`` is the journal's unique id of the press (stored with the punch)."""

    device: str
    page: int
    score: int
    at: dt.datetime
    press_id: str = ""


@dataclass(frozen=True)
class Status:
    """What the dashboard shows about a reader."""

    state: str
    last_seen: dt.datetime | None
    last_error: str | None


class Sink(Protocol):
    """Where matches and device states go."""

    def record_match(self, match: Match) -> None:
        """Store a hit durably before returning; raise if it could not be stored."""

    def record_no_match(self, device: str, at: dt.datetime) -> None:
        """A finger the module did not find (shown as not recognised)."""

    def report_status(self, device: str, status: Status) -> None:
        """The reader's state changed, or it is still alive (``last_seen``)."""

    def report_statuses(self, statuses: Mapping[str, Status]) -> None:
        """Several readers' states at once (the storer's batch: one transaction)."""


@dataclass(frozen=True)
class ListenerSettings:
    """Timing of the loop; tests shorten everything."""

    poll_interval: float = 0.1  # between GenImg polls while no finger is on the sensor
    timeouts: Timeouts = field(default_factory=Timeouts)
    backoff_min: float = 0.2
    backoff_max: float = 2.0  # a queue of staff is waiting: retry a lost port often
    failures_before_reconnect: int = 3  # consecutive timeouts before the port is reopened
    link_check: float = 1.0  # how often the port path is checked for a re-pointed link
    status_interval: float = 5.0  # how often an unchanged "still alive" is reported
    # How long the storer keeps an unchanged "still alive" for the other readers' (they
    # report on the same status_interval ticks): one write for all, not one each.
    status_batch: float = 0.25
    store_retry: float = 0.2  # first pause between attempts to store a match (doubles)
    store_retry_max: float = 2.0  # longest pause while the database is away
    resume_window: float = 600.0  # seconds: a press open in the journal older than this ended
    drain_on_stop: float = 3.0  # seconds spent storing the backlog on stop (the journal keeps it)
    job_interval: float = 1.0  # how often the jobs thread asks for enrol jobs and cancels


def utcnow() -> dt.datetime:
    """The host's time, aware UTC."""
    return dt.datetime.now(dt.UTC)


# Module answers to a template transfer that a garbled packet explains (not a refusal of
# the template itself): the job is tried again, up to TEMPLATE_TRIES times per listener run.
TRANSIENT_CODES = frozenset(
    {C.PACKET_ERROR, C.CANNOT_RECEIVE_DATA, C.UPLOAD_CHAR_FAILED, C.PASSWORD_REQUIRED}
)
TEMPLATE_TRIES = 5
TEMPLATE_IDLE_ROUNDS = 5  # an idle templates thread asks every 5 job intervals


# Pauses between polls up to this long are plain sleeps, not interrupted by a stop.
SLEEP_MAX = 0.25


def until_tick(interval: float) -> float:
    """Seconds to the next multiple of ``interval`` on the monotonic clock.

    The readers' polls end on such ticks of the one clock they share, so they wake
    together: measured on this project's 2-core VM, four readers woken at the same instant
    cost a quarter to a third less CPU than woken at random instants, and woken 3 ms apart
    most of that gain is gone. The reload and status file threads wake on those ticks too
    (the jobs and templates threads keep a full interval after each round: a job's stage
    stays in the database that long for the command that prints it).
    """
    return interval - time.monotonic() % interval if interval > 0 else 0.0


class TaskTimeout(TransportError):
    """The reader's worker did not run a handed-over task in time (stopped, reconnecting)."""


@dataclass
class Task:
    """Module work another thread hands a reader's worker, which runs it between two polls
    (the port has one owner): ``run`` gets the worker's open, handshaken client."""

    run: Callable[[ModuleClient], object]
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None

    def wait(self, timeout: float) -> object:
        """The result; the task's exception raised here; ``TaskTimeout`` after ``timeout``."""
        if not self.done.wait(timeout):
            raise TaskTimeout(f"the reader did not run the task within {timeout:g} s")
        if self.error is not None:
            raise self.error
        return self.result


class DeviceWorker:
    """The loop for one reader; ``run`` until ``stop`` is set."""

    def __init__(
        self,
        spec: DeviceSpec,
        sink: Sink,
        settings: ListenerSettings,
        stop: threading.Event,
        clock: Callable[[], dt.datetime] = utcnow,
        journal: Journal | None = None,
        job_report: Callable[[int, Stage | Outcome], None] | None = None,
    ) -> None:
        self.spec = spec
        self.sink = sink
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.journal = journal if journal is not None else Journal(None)
        self.transport = SerialTransport(spec.port, spec.baud, spec.address, settings.timeouts)
        self.client = ModuleClient(self.transport, spec.password)
        # True from a hit (or a miss) until the module reports no finger: the rest of the
        # same press. Deliberately kept across reconnects.
        self.finger_down = False
        self.press_id: str | None = None  # the journaled press the finger on it belongs to
        # A press the journal holds as not ended (the listener died with a finger on the
        # sensor): if the first finger seen matches the same page, it is that press still.
        self.resume: Press | None = self.journal.open_press(spec.name)
        if self.resume is not None:
            age = (self.clock() - self.resume.at).total_seconds()
            if not 0 <= age <= settings.resume_window:
                self.journal.end(self.resume.id)
                self.resume = None
        self.failures = 0
        self.backoff = settings.backoff_min
        self._link_due = 0.0  # when the port path is next checked for a re-pointed link
        self.state: str | None = None
        self.last_error: str | None = None
        self.last_seen: dt.datetime | None = None
        self._reported_at = 0.0
        self.matches = 0
        self.reconnects = 0
        # An enrol job the jobs thread handed over (it sets it, this thread clears it), and
        # where its stages go (the jobs thread writes them: never a database call here).
        self.job: ActiveJob | None = None
        self.job_report = job_report or (lambda job_id, news: None)
        # Template work (copy, delete) another thread handed over, and whether that thread
        # holds this reader for a job (set and cleared by it, under the listener's lock).
        self.task: Task | None = None
        self.reserved = False

    # --- status ---------------------------------------------------------------------------

    def _report(self, state: str, error: str | None = None, force: bool = False) -> None:
        if error is not None:
            self.last_error = error
        now = time.monotonic()
        changed = state != self.state
        # "Still alive" on the ticks of one clock shared by every reader (multiples of
        # status_interval), so that the storer writes the readers' reports together.
        interval = self.settings.status_interval
        due = (self._reported_at // interval + 1) * interval if interval > 0 else now
        if not (changed or force or now >= due):
            return
        if changed:
            log.info("%s: %s%s", self.spec.name, state, f" ({error})" if error else "")
        self.state = state
        self._reported_at = now
        try:
            self.sink.report_status(self.spec.name, Status(state, self.last_seen, self.last_error))
        except Exception:
            # The dashboard is not worth stopping the readers for; next report will retry.
            log.exception("%s: could not report status", self.spec.name)
            self._reported_at = 0.0

    def _alive(self) -> None:
        self.last_seen = self.clock()
        self.failures = 0
        self._report(CONNECTED)

    # --- loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """Poll the reader until stopped; never raises for line trouble."""
        try:
            while not self.stop.is_set():
                if not self.transport.is_open and not self._connect():
                    self._wait_backoff()
                    continue
                try:
                    self._check_link()
                    self.step()
                except LinkDown as exc:
                    self._drop(DISCONNECTED, str(exc))
                except ReplyTimeout as exc:
                    self._link_due = 0.0  # a silent line may be a re-pointed link: look now
                    self.failures += 1
                    self._report(ERROR, str(exc), force=self.failures == 1)
                    if self.failures >= self.settings.failures_before_reconnect:
                        self._drop(ERROR, f"{exc} ({self.failures} times); reconnecting")
                except p.ModuleError as exc:
                    # Password demanded again (module power-cycled) or another refusal:
                    # reconnect, which starts with the handshake.
                    self._drop(ERROR, str(exc))
        finally:
            # A job handed over but not run (the reader was stopped first) ends too.
            self._end_job(Outcome(Stage.CANCELLED, None, "listener stopped"))
            self._fail_task(LinkDown("reader stopped"))
            self.transport.close()
            self._report(DISCONNECTED, "listener stopped", force=True)

    def _check_link(self) -> None:
        """``LinkDown`` when the port path now leads elsewhere (a re-pointed symlink), looked
        at every ``link_check`` seconds and after a timeout, not on every poll (the stat of
        the path was about 15 % of an idle poll's CPU, measured). A link re-pointed while
        the old device stays open but silent is followed at the first timeout, or sooner."""
        now = time.monotonic()
        if now < self._link_due:
            return
        self._link_due = now + self.settings.link_check
        if self.transport.link_changed():
            raise LinkDown(f"{self.spec.port} now leads to another device or nowhere")

    def _connect(self) -> bool:
        try:
            self.transport.open()
            self.client.handshake()
        except LinkDown as exc:
            self.transport.close()
            self._report(DISCONNECTED, str(exc))
            self._end_job(Outcome(Stage.ERROR, None, f"reader not connected: {exc}"))
            self._fail_task(exc)
            return False
        except (TransportError, p.ModuleError, p.ProtocolError) as exc:
            self.transport.close()
            hint = ""
            if isinstance(exc, ReplyTimeout):
                hint = f" (module silent: wrong address {self.spec.address:08X}, baud or wiring?)"
            self._report(ERROR, f"handshake failed: {exc}{hint}")
            self._end_job(Outcome(Stage.ERROR, None, f"reader not connected: {exc}"))
            self._fail_task(LinkDown(f"reader not connected: {exc}"))
            return False
        self.reconnects += 1
        self.backoff = self.settings.backoff_min
        self.failures = 0
        self.last_error = None
        self._alive()
        return True

    def _drop(self, state: str, error: str) -> None:
        self.transport.close()
        self.failures = 0
        self._report(state, error)
        self._wait_backoff()

    def _wait_backoff(self) -> None:
        self.stop.wait(self.backoff)
        self.backoff = min(self.backoff * 2, self.settings.backoff_max)

    def step(self) -> None:
        """One poll: capture, and on a new finger convert and search (or run the enrol job
        handed over, which owns the sensor until it ends)."""
        if self.job is not None:
            self._run_job()
            return
        if self.task is not None:
            self._run_task()
            return
        code = self.client.capture()
        self._alive()
        if code == C.PASSWORD_REQUIRED:
            raise p.ModuleError(code)
        if code != C.OK or self.finger_down:
            if code == C.NO_FINGER:
                self._lifted()
            self._pause()
            return
        code = self.client.convert(1)
        if code != C.OK:
            if code == C.PASSWORD_REQUIRED:
                raise p.ModuleError(code)
            return  # a smudged image: try again with the next capture
        result = self.client.search(1)
        at = self.clock()
        if result.found:
            resumed, self.resume = self.resume, None
            if resumed is not None:
                if resumed.page == result.page:
                    # Still the finger of the press journaled before the restart.
                    log.info(
                        "%s: page %s still held since before the restart",
                        self.spec.name,
                        result.page,
                    )
                    self.finger_down = True
                    self.press_id = resumed.id
                    return
                self.journal.end(resumed.id)
            pause_point("after_search")
            press = Press(new_press_id(), self.spec.name, result.page, result.score, at)
            self.journal.hit(press)
            pause_point("after_journal")
            self.finger_down = True
            self.press_id = press.id
            self._store(Match(self.spec.name, result.page, result.score, at, press.id))
        elif result.code == C.NOT_FOUND:
            if self.resume is not None:
                self.journal.end(self.resume.id)
                self.resume = None
            self.finger_down = True
            self._store_miss(at)
        elif result.code == C.PASSWORD_REQUIRED:
            raise p.ModuleError(result.code)

    def _pause(self) -> None:
        """Wait for the next poll, on the next tick of ``poll_interval`` that every reader
        shares (see :func:`until_tick`): never later than one interval after the last."""
        pause = until_tick(self.settings.poll_interval)
        if pause <= SLEEP_MAX:
            # A plain sleep costs less CPU than a wait on the stop event (its condition and
            # locks), ten times a second per reader; ``run`` sees the stop right after.
            time.sleep(pause)
        else:
            self.stop.wait(pause)

    def _run_job(self) -> None:
        active = self.job
        assert active is not None
        job_id = active.job.id
        log.info("%s: enrol job %s for %s", self.spec.name, job_id, active.job.staff)
        try:
            outcome = enrol(
                self.client,
                active,
                lambda stage: self.job_report(job_id, stage),
                self.stop,
                self.settings.poll_interval,
                self._alive,
            )
        except (TransportError, p.ModuleError, p.ProtocolError) as exc:
            self._end_job(Outcome(Stage.ERROR, None, f"{type(exc).__name__}: {exc}"))
            raise
        self._end_job(outcome)
        # Whatever finger is on the sensor now is the enrolment's: no punch until lifted.
        self.finger_down = True

    def submit(self, run: Callable[[ModuleClient], object], timeout: float) -> object:
        """Hand ``run`` to this reader's thread and wait for its result (another thread
        calls this; the worker must be reserved for it, see ``Listener.templates_round``)."""
        task = Task(run)
        self.task = task
        try:
            return task.wait(timeout)
        finally:
            if self.task is task:
                self.task = None

    def _run_task(self) -> None:
        task = self.task
        assert task is not None
        try:
            task.result = task.run(self.client)
        except TransportError as exc:
            # The line failed: the task has failed, and the worker reconnects.
            self._fail_task(exc)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the thread that waits for it
            # A refusal of the module (empty page, library full) or a reply out of the
            # protocol is the task's answer, not a dead line: the reader goes on polling.
            self._fail_task(exc)
            return
        self.task = None
        task.done.set()
        self._alive()

    def _fail_task(self, error: BaseException) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done.is_set():
            task.error = error
            task.done.set()

    def _end_job(self, outcome: Outcome) -> None:
        active, self.job = self.job, None
        if active is None:
            return
        log.info(
            "%s: enrol job %s %s%s",
            self.spec.name,
            active.job.id,
            outcome.stage,
            f" on page {outcome.page}" if outcome.page is not None else "",
        )
        self.job_report(active.job.id, outcome)

    def _lifted(self) -> None:
        """The module reports no finger: the press (if any) has ended."""
        if not self.finger_down and self.press_id is None and self.resume is None:
            return  # the idle poll's usual answer: nothing had begun
        self.finger_down = False
        for press_id in (self.press_id, self.resume.id if self.resume else None):
            if press_id is not None:
                self.journal.end(press_id)
        self.press_id = None
        self.resume = None

    def _store(self, match: Match) -> None:
        # The hit is in the journal: from here on the storer (its own thread) owns it, and
        # this loop goes on polling even while the database is away.
        self.sink.record_match(match)
        self.matches += 1

    def _store_miss(self, at: dt.datetime) -> None:
        try:
            self.sink.record_no_match(self.spec.name, at)
        except Exception:
            log.exception("%s: could not record an unrecognised finger", self.spec.name)


class Storer:
    """Between the workers and the real sink: its own thread, so that polling and journaling
    go on while the database is away (a locked SQLite file, a PostgreSQL server down).

    It implements ``Sink`` for the workers: ``record_match`` only queues (the worker has
    journaled the press already). The thread stores the backlog in order, retrying with a
    growing pause; a stored press is marked done in the journal. On start the backlog is
    every press the journal holds as not stored; the sink is idempotent by the press id, so
    a press stored just before a crash is not stored twice. The thread also writes the
    status file (``status_path``): each reader's state and backlog, and the database's
    state, for ``devices status`` and the screens when the database cannot tell.
    """

    def __init__(
        self,
        sink: Sink,
        journal: Journal,
        settings: ListenerSettings,
        status_path: Path | None = None,
        devices: Iterable[str] = (),
    ) -> None:
        self.sink = sink
        self.journal = journal
        self.settings = settings
        self.status_path = status_path
        self.wake = threading.Event()
        self.lock = threading.Lock()
        self.backlog: deque[Match] = deque(
            Match(p.device, p.page, p.score, p.at, p.id) for p in journal.pending()
        )
        self.misses: deque[tuple[str, dt.datetime]] = deque(maxlen=100)
        self.statuses: dict[str, Status] = {}
        self.dirty: set[str] = set()
        self.devices = list(devices)
        self.db_ok: bool | None = None
        self.db_error: str | None = None
        self.db_down_since: dt.datetime | None = None
        self.stored = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="storer", daemon=True)
        self.file_thread = threading.Thread(
            target=self.run_status_file, name="status-file", daemon=True
        )
        self._file_lock = threading.Lock()
        self._tried_with = 0
        self._retry = settings.store_retry
        self._next_try = 0.0
        self._statuses_due = 0.0  # when the dirty states are written (see report_status)

    # --- Sink for the workers ----------------------------------------------------------

    def record_match(self, match: Match) -> None:
        """Hand a journaled hit to the storer (never blocks on the database)."""
        self.backlog.append(match)
        self.wake.set()

    def record_no_match(self, device: str, at: dt.datetime) -> None:
        """Hand over a finger the module did not find."""
        self.misses.append((device, at))
        self.wake.set()

    def report_status(self, device: str, status: Status) -> None:
        """Hand over a reader's state; only the latest is written. A change (state, error)
        is written at once; an unchanged "still alive" ``status_batch`` seconds after the
        first of a batch, with the other readers' that came meanwhile."""
        with self.lock:
            before = self.statuses.get(device)
            changed = before is None or (before.state, before.last_error) != (
                status.state,
                status.last_error,
            )
            first = not self.dirty
            self.statuses[device] = status
            self.dirty.add(device)
            now = time.monotonic()
            if first:
                self._statuses_due = now if changed else now + self.settings.status_batch
            elif changed:
                self._statuses_due = min(self._statuses_due, now)
        if first or changed:
            # The storer learns when the batch is due; the later ones need not wake it.
            self.wake.set()

    def report_statuses(self, statuses: Mapping[str, Status]) -> None:
        """Hand over several readers' states."""
        for device, status in statuses.items():
            self.report_status(device, status)

    # --- threads -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the storer's thread and the status file's."""
        self.thread.start()
        if self.status_path is not None:
            self.file_thread.start()

    def stop(self) -> None:
        """Store what can be stored within ``drain_on_stop`` seconds, then stop."""
        self.stopping.set()
        self.wake.set()
        self.thread.join(self.settings.drain_on_stop + 1)
        if self.file_thread.is_alive():
            self.file_thread.join(2)
        self._write_status_file()

    def backlog_of(self, device: str) -> list[Match]:
        """Presses of ``device`` waiting for the database."""
        return [m for m in list(self.backlog) if m.device == device]

    def run(self) -> None:
        """Store the backlog in order, then misses and statuses, whenever woken."""
        give_up_at: float | None = None
        while True:
            # Presses and misses are written at once (or at the next retry); states only
            # once their batch is due, so that the readers' reports make one write.
            now = time.monotonic()
            if self.backlog or self.misses:
                self.wake.wait(max(0.0, self._next_try - now))
            elif self.dirty:
                self.wake.wait(max(0.0, self._next_try - now, self._statuses_due - now))
            else:
                self.wake.wait()
            self.wake.clear()
            if self.backlog and self._next_try and len(self.backlog) != self._tried_with:
                self._next_try = 0.0  # a new press: try the database now
            now = time.monotonic()
            urgent = self.backlog or self.misses or self.stopping.is_set()
            if now >= self._next_try and (urgent or now >= self._statuses_due):
                self._flush()
            if self.stopping.is_set():
                if not (self.backlog or self.dirty or self.misses):
                    break
                give_up_at = give_up_at or time.monotonic() + self.settings.drain_on_stop
                if time.monotonic() > give_up_at:
                    log.warning(
                        "stopping with %d presses not stored; the journal keeps them",
                        len(self.backlog),
                    )
                    break
                if self.db_ok is False:
                    self.stopping.wait(self.settings.store_retry)

    def run_status_file(self) -> None:
        """Write the status file every ``status_interval`` (its own thread: the storer may
        be stuck in a database call for seconds)."""
        while not self.stopping.wait(until_tick(self.settings.status_interval)):
            self._write_status_file()

    def _flush(self) -> None:
        try:
            while self.backlog:
                match = self.backlog[0]
                self.sink.record_match(match)
                pause_point("after_commit")
                if match.press_id:
                    self.journal.stored(match.press_id)
                pause_point("after_done")
                self.backlog.popleft()
                self.stored += 1
            while self.misses:
                device, at = self.misses[0]
                self.sink.record_no_match(device, at)
                self.misses.popleft()
            with self.lock:
                dirty = {device: self.statuses[device] for device in self.dirty}
                self.dirty.clear()
            try:
                if dirty:
                    self.sink.report_statuses(dirty)
                    dirty.clear()
            finally:
                with self.lock:
                    for device in dirty:
                        if device not in self.dirty:
                            self.dirty.add(device)
        except Exception as exc:
            first = self.db_ok is not False
            if first:
                # Before db_ok: the status-file thread may write between the two, and must
                # never say "away" without "since".
                self.db_down_since = utcnow()
            self.db_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            self.db_ok = False
            if first:
                log.exception("database away; %d presses held in the journal", len(self.backlog))
                self._write_status_file()
            self._tried_with = len(self.backlog)
            self._next_try = time.monotonic() + self._retry
            self._retry = min(self._retry * 2, self.settings.store_retry_max)
            return
        if self.db_ok is False:
            log.info("database back; backlog stored")
        if self.db_ok is not True:
            self.db_ok = True
            self.db_down_since = None
            self._write_status_file()
        self._retry = self.settings.store_retry
        self._next_try = 0.0

    def snapshot(self) -> dict[str, object]:
        """What the status file holds."""
        devices: dict[str, object] = {}
        with self.lock:
            statuses = dict(self.statuses)
        names = list(dict.fromkeys([*self.devices, *statuses]))
        backlog = list(self.backlog)
        for name in names:
            status = statuses.get(name)
            held = [m for m in backlog if m.device == name]
            devices[name] = {
                "state": status.state if status else None,
                "last_seen": iso(status.last_seen) if status else None,
                "last_error": status.last_error if status else None,
                "backlog": len(held),
                "backlog_since": iso(held[0].at) if held else None,
            }
        return {
            "updated": iso(utcnow()),
            "pid": os.getpid(),
            "running": not self.stopping.is_set(),
            "database": {
                "ok": self.db_ok,
                "error": self.db_error if self.db_ok is False else None,
                "since": iso(self.db_down_since),
            },
            "backlog": len(backlog),
            "backlog_since": iso(backlog[0].at) if backlog else None,
            "devices": devices,
        }

    def _write_status_file(self) -> None:
        if self.status_path is None:
            return
        with self._file_lock:
            self._write_status_file_locked()

    def _write_status_file_locked(self) -> None:
        assert self.status_path is not None
        data = self.snapshot()
        tmp = self.status_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.status_path)
        except OSError:
            log.exception("could not write %s", self.status_path)


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 of an aware instant, or None."""
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


class Listener:
    """Workers for several readers, each on its own thread, and the storer's thread.

    ``journal`` (default: in memory only) is where hits go before anything else;
    ``status_path`` where the storer writes the readers' states and backlog. With
    ``reload`` (a function giving the readers as they should be now, e.g. from the database)
    a thread calls it every ``reload_interval`` seconds and starts, restarts or stops
    workers for added, edited and removed readers, without a restart of the listener.
    With ``jobs`` (where enrol jobs come from, e.g. the database) a thread asks it every
    ``settings.job_interval`` seconds for jobs of idle connected readers, hands each to its
    reader's worker (the port has one owner), writes the stages back, and passes cancels on.
    """

    def __init__(
        self,
        specs: Iterable[DeviceSpec],
        sink: Sink,
        settings: ListenerSettings | None = None,
        journal: Journal | None = None,
        status_path: Path | None = None,
        reload: Callable[[], list[DeviceSpec]] | None = None,
        reload_interval: float = 5.0,
        jobs: Jobs | None = None,
        templates: TemplateJobs | None = None,
    ) -> None:
        self.stop_event = threading.Event()
        self.jobs = jobs
        self.templates = templates
        # Outcomes of template jobs, in order, until the templates source took them.
        self.template_news: deque[tuple[int, TemplateOutcome]] = deque()
        self._template_tries: dict[int, int] = {}
        self._template_news_lock = threading.Lock()
        # Stages and outcomes of enrol jobs, in order, until the jobs source took them.
        self.job_news: deque[tuple[int, Stage | Outcome]] = deque()
        self._jobs_lock = threading.Lock()
        self.settings = settings or ListenerSettings()
        self.journal = journal if journal is not None else Journal(None)
        specs = list(specs)
        self.storer = Storer(
            sink, self.journal, self.settings, status_path, [s.name for s in specs]
        )
        self.workers: list[DeviceWorker] = []
        self.threads: list[threading.Thread] = []
        self.started = False
        self.reload = reload
        self.reload_interval = reload_interval
        self._sync_lock = threading.Lock()
        for spec in specs:
            self._add(spec)

    def _add(self, spec: DeviceSpec) -> None:
        # Each worker has a stop event of its own, so one reader can be stopped alone.
        worker = DeviceWorker(
            spec,
            self.storer,
            self.settings,
            threading.Event(),
            journal=self.journal,
            job_report=self._job_news,
        )
        thread = threading.Thread(target=worker.run, name=f"reader-{spec.name}", daemon=True)
        self.workers.append(worker)
        self.threads.append(thread)
        if self.started:
            thread.start()

    def _remove(self, name: str, timeout: float = 10.0) -> None:
        for index, worker in enumerate(self.workers):
            if worker.spec.name == name:
                worker.stop.set()
                thread = self.threads[index]
                if thread.is_alive():
                    thread.join(timeout)
                del self.workers[index]
                del self.threads[index]
                return

    def sync(self, specs: Iterable[DeviceSpec]) -> list[str]:
        """Make the workers match ``specs``; what changed, as log lines."""
        wanted = {spec.name: spec for spec in specs}
        changes: list[str] = []
        with self._sync_lock:
            running = {worker.spec.name: worker.spec for worker in self.workers}
            for name, spec in running.items():
                if name not in wanted:
                    self._remove(name)
                    changes.append(f"{name}: removed")
                elif wanted[name] != spec:
                    self._remove(name)
                    self._add(wanted[name])
                    changes.append(f"{name}: edited, restarted on {wanted[name].port}")
            for name, spec in wanted.items():
                if name not in running:
                    self._add(spec)
                    changes.append(f"{name}: added on {spec.port}")
            self.storer.devices = [worker.spec.name for worker in self.workers]
        for change in changes:
            log.info("device rows changed: %s", change)
        return changes

    def _reload_loop(self) -> None:
        assert self.reload is not None
        while not self.stop_event.wait(until_tick(self.reload_interval)):
            try:
                specs = self.reload()
            except Exception as exc:
                # The database away: keep the readers as they are, ask again later.
                log.debug("could not re-read the device rows: %s", exc)
                continue
            self.sync(specs)

    def _job_news(self, job_id: int, news: Stage | Outcome) -> None:
        self.job_news.append((job_id, news))

    def _flush_job_news(self) -> None:
        assert self.jobs is not None
        while self.job_news:
            job_id, news = self.job_news[0]
            if isinstance(news, Outcome):
                self.jobs.finish(job_id, news)
            else:
                self.jobs.progress(job_id, news)
            self.job_news.popleft()

    def jobs_round(self) -> None:
        """Write the jobs' news, pass cancels on, hand new jobs to idle connected readers."""
        assert self.jobs is not None
        with self._jobs_lock:
            self._flush_job_news()
            with self._sync_lock:
                workers = list(self.workers)
            active = {w.job.job.id: w.job for w in workers if w.job is not None}
            if active:
                for job_id in self.jobs.cancelled(sorted(active)):
                    active[job_id].cancel.set()
            # Not while a finger is on: the punch's finger is not the enrolment's first press.
            idle = {
                w.spec.name: w
                for w in workers
                if w.job is None
                and w.task is None
                and not w.reserved
                and w.state == CONNECTED
                and not w.finger_down
            }
            if self.stop_event.is_set() or not idle:
                return
            for job in self.jobs.claim(sorted(idle)):
                worker = idle.pop(job.device, None)
                if worker is None:
                    self._job_news(job.id, Outcome(Stage.ERROR, None, "reader busy"))
                else:
                    worker.job = ActiveJob(job)

    def templates_round(self) -> bool:
        """Write the outcomes, claim template jobs whose readers are connected and idle,
        run them one after the other (each on its readers' own threads), write those.
        True when there was a job to run."""
        assert self.templates is not None
        self._flush_template_news()
        with self._jobs_lock:
            with self._sync_lock:
                workers = list(self.workers)
            # A finger on the sensor does not matter here: copying uses no image.
            idle = {
                w.spec.name: w
                for w in workers
                if w.job is None and w.task is None and not w.reserved and w.state == CONNECTED
            }
            if self.stop_event.is_set() or not idle:
                return False
            jobs = self.templates.claim_templates(sorted(idle))
            held = {name for job in jobs for name in job.readers if name in idle}
            for name in held:
                idle[name].reserved = True
        try:
            for job in jobs:
                outcome = self._run_template_job(job, idle)
                log.info(
                    "%s: template %s job %s for %s %s%s",
                    job.device,
                    job.kind,
                    job.id,
                    job.staff,
                    outcome.result,
                    f" ({outcome.detail})" if outcome.detail else "",
                )
                self.template_news.append((job.id, outcome))
        finally:
            for name in held:
                idle[name].reserved = False
        self._flush_template_news()
        return bool(jobs)

    def _flush_template_news(self) -> None:
        assert self.templates is not None
        # The templates thread and ``stop`` may both flush: each outcome is written once.
        with self._template_news_lock:
            while self.template_news:
                job_id, outcome = self.template_news[0]
                self.templates.finish_template(job_id, outcome)
                self.template_news.popleft()

    def _run_template_job(self, job: TemplateJob, idle: dict[str, DeviceWorker]) -> TemplateOutcome:
        target = idle.get(job.device)
        source = idle.get(job.source) if job.source is not None else None
        if target is None or (job.kind == Kind.COPY and source is None):
            return TemplateOutcome(Result.RETRY, None, "a reader of the job is not idle")
        # Generous: a copy is two 512-byte transfers and a read-back, one poll away.
        wait = 10 * self.settings.timeouts.reply + 5 * self.settings.poll_interval + 5.0
        try:
            if job.kind == Kind.DELETE:
                assert job.page is not None
                page = job.page
                target.submit(lambda client: delete_template(client, page), wait)
                return TemplateOutcome(Result.DONE, page)
            assert source is not None and job.source_page is not None
            source_page = job.source_page
            data = source.submit(lambda client: read_template(client, source_page), wait)
            assert isinstance(data, bytes)
            placed = target.submit(lambda client: install_template(client, data, job.taken), wait)
            assert isinstance(placed, tuple)
            page, existed = placed
            return TemplateOutcome(Result.DONE, page, "", existed)
        except TransportError as exc:
            return TemplateOutcome(Result.RETRY, None, f"{type(exc).__name__}: {exc}")
        except p.ModuleError as exc:
            tries = self._template_tries[job.id] = self._template_tries.get(job.id, 0) + 1
            if exc.code in TRANSIENT_CODES and tries < TEMPLATE_TRIES:
                # A packet the line garbled: try again next round, a few times.
                return TemplateOutcome(Result.RETRY, None, f"{exc} (try {tries})")
            return TemplateOutcome(Result.FAILED, None, str(exc))
        except (TemplateRefused, p.ProtocolError) as exc:
            return TemplateOutcome(Result.FAILED, None, str(exc))

    def _templates_loop(self) -> None:
        # Copies are not urgent as enrolments are (nobody stands at the reader): while there
        # is nothing to do, ask TEMPLATE_IDLE_ROUNDS times less often (idle CPU); while
        # there is, every job_interval until the queue is drained.
        pause = self.settings.job_interval
        while not self.stop_event.wait(pause):
            busy = False
            try:
                busy = self.templates_round()
            except Exception as exc:
                # The database away: the jobs wait, their outcomes stay queued.
                log.debug("template jobs: %s", exc)
            pause = self.settings.job_interval * (1 if busy else TEMPLATE_IDLE_ROUNDS)

    def _jobs_loop(self) -> None:
        while not self.stop_event.wait(self.settings.job_interval):
            try:
                self.jobs_round()
            except Exception as exc:
                # The database away: jobs wait, their news stays queued; ask again later.
                log.debug("enrol jobs: %s", exc)

    def start(self) -> None:
        """Start the storer, one thread per reader, the reload and the jobs threads."""
        self.storer.start()
        with self._sync_lock:
            self.started = True
            for thread in self.threads:
                thread.start()
        if self.reload is not None:
            threading.Thread(target=self._reload_loop, name="reload", daemon=True).start()
        if self.jobs is not None:
            threading.Thread(target=self._jobs_loop, name="jobs", daemon=True).start()
        if self.templates is not None:
            threading.Thread(target=self._templates_loop, name="templates", daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop and wait for them."""
        self.stop_event.set()
        with self._sync_lock:
            for worker in self.workers:
                worker.stop.set()
            for thread in self.threads:
                if thread.is_alive():
                    thread.join(timeout)
        if self.jobs is not None and self.job_news:
            # Jobs cut short by the stop end as cancelled, not running for ever.
            try:
                with self._jobs_lock:
                    self._flush_job_news()
            except Exception:
                log.exception("could not record the end of %d enrol jobs", len(self.job_news))
        if self.templates is not None and self.template_news:
            # What was copied or deleted is mapped now; a job cut short waits (see claim).
            try:
                self._flush_template_news()
            except Exception:
                log.exception("could not record %d template jobs", len(self.template_news))
        self.storer.stop()

    def run_until_signal(self) -> None:
        """Run until SIGINT or SIGTERM (must be called from the main thread)."""

        def on_signal(signum: int, frame: object) -> None:
            log.info("signal %s: stopping", signum)
            self.stop_event.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self.stop_event.wait(until_tick(0.5)):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class MemorySink:
    """A sink that keeps everything in lists (tests, benchmarks)."""

    matches: list[Match] = field(default_factory=list)
    misses: list[tuple[str, dt.datetime]] = field(default_factory=list)
    statuses: list[tuple[str, Status]] = field(default_factory=list)
    fail_next: int = 0  # make the next N record_match calls fail, to test the retry
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_match(self, match: Match) -> None:
        """Keep the match."""
        with self.lock:
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("sink down (test)")
            self.matches.append(match)

    def record_no_match(self, device: str, at: dt.datetime) -> None:
        """Keep the miss."""
        with self.lock:
            self.misses.append((device, at))

    def report_status(self, device: str, status: Status) -> None:
        """Keep the status."""
        with self.lock:
            self.statuses.append((device, status))

    def report_statuses(self, statuses: Mapping[str, Status]) -> None:
        """Keep the statuses, by device name."""
        with self.lock:
            self.statuses.extend(sorted(statuses.items()))

    def last_status(self, device: str) -> Status | None:
        """The latest status reported for ``device``."""
        with self.lock:
            for name, status in reversed(self.statuses):
                if name == device:
                    return status
        return None
