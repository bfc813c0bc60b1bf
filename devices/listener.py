"""The polling loop: one thread per fingerprint reader, capture -> convert -> search.

The module keeps no log and has no clock, so the listener is the only record of a press:
as soon as a Search reply with a hit has been received, the host's time is taken and the
match is handed to the sink, which must store it before the loop goes on (it is retried
until it is). The listener then waits until the module reports no finger, so one press is
one match, also across reconnects. What the sink does with a match (punch, or "not
recognised" for a page no staff member is mapped to) is its business; see
``devices.store`` for the database sink.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from devices import protocol as p
from devices.client import ModuleClient
from devices.protocol import Confirmation as C
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


@dataclass(frozen=True)
class Match:
    """A Search hit: ``at`` is the host's time (aware, UTC) when the reply was received."""

    device: str
    page: int
    score: int
    at: dt.datetime


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


@dataclass(frozen=True)
class ListenerSettings:
    """Timing of the loop; tests shorten everything."""

    poll_interval: float = 0.1  # between GenImg polls while no finger is on the sensor
    timeouts: Timeouts = field(default_factory=Timeouts)
    backoff_min: float = 0.2
    backoff_max: float = 2.0  # a queue of staff is waiting: retry a lost port often
    failures_before_reconnect: int = 3  # consecutive timeouts before the port is reopened
    status_interval: float = 5.0  # how often an unchanged "still alive" is reported
    store_retry: float = 0.2  # pause between attempts to store a match


def utcnow() -> dt.datetime:
    """The host's time, aware UTC."""
    return dt.datetime.now(dt.UTC)


class DeviceWorker:
    """The loop for one reader; ``run`` until ``stop`` is set."""

    def __init__(
        self,
        spec: DeviceSpec,
        sink: Sink,
        settings: ListenerSettings,
        stop: threading.Event,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.spec = spec
        self.sink = sink
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.transport = SerialTransport(spec.port, spec.baud, spec.address, settings.timeouts)
        self.client = ModuleClient(self.transport, spec.password)
        # True from a hit (or a miss) until the module reports no finger: the rest of the
        # same press. Deliberately kept across reconnects.
        self.finger_down = False
        self.failures = 0
        self.backoff = settings.backoff_min
        self.state: str | None = None
        self.last_error: str | None = None
        self.last_seen: dt.datetime | None = None
        self._reported_at = 0.0
        self.matches = 0
        self.reconnects = 0

    # --- status ---------------------------------------------------------------------------

    def _report(self, state: str, error: str | None = None, force: bool = False) -> None:
        if error is not None:
            self.last_error = error
        now = time.monotonic()
        changed = state != self.state
        if not (changed or force or now - self._reported_at >= self.settings.status_interval):
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
                    if self.transport.link_changed():
                        raise LinkDown(f"{self.spec.port} now leads to another device or nowhere")
                    self.step()
                except LinkDown as exc:
                    self._drop(DISCONNECTED, str(exc))
                except ReplyTimeout as exc:
                    self.failures += 1
                    self._report(ERROR, str(exc), force=self.failures == 1)
                    if self.failures >= self.settings.failures_before_reconnect:
                        self._drop(ERROR, f"{exc} ({self.failures} times); reconnecting")
                except p.ModuleError as exc:
                    # Password demanded again (module power-cycled) or another refusal:
                    # reconnect, which starts with the handshake.
                    self._drop(ERROR, str(exc))
        finally:
            self.transport.close()
            self._report(DISCONNECTED, "listener stopped", force=True)

    def _connect(self) -> bool:
        try:
            self.transport.open()
            self.client.handshake()
        except LinkDown as exc:
            self.transport.close()
            self._report(DISCONNECTED, str(exc))
            return False
        except (TransportError, p.ModuleError, p.ProtocolError) as exc:
            self.transport.close()
            hint = ""
            if isinstance(exc, ReplyTimeout):
                hint = f" (module silent: wrong address {self.spec.address:08X}, baud or wiring?)"
            self._report(ERROR, f"handshake failed: {exc}{hint}")
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
        """One poll: capture, and on a new finger convert and search."""
        code = self.client.capture()
        self._alive()
        if code == C.PASSWORD_REQUIRED:
            raise p.ModuleError(code)
        if code != C.OK or self.finger_down:
            if code == C.NO_FINGER:
                self.finger_down = False
            self.stop.wait(self.settings.poll_interval)
            return
        code = self.client.convert(1)
        if code != C.OK:
            if code == C.PASSWORD_REQUIRED:
                raise p.ModuleError(code)
            return  # a smudged image: try again with the next capture
        result = self.client.search(1)
        at = self.clock()
        if result.found:
            self.finger_down = True
            self._store(Match(self.spec.name, result.page, result.score, at))
        elif result.code == C.NOT_FOUND:
            self.finger_down = True
            self._store_miss(at)
        elif result.code == C.PASSWORD_REQUIRED:
            raise p.ModuleError(result.code)

    def _store(self, match: Match) -> None:
        # The hit has been received: from here on it must be stored, whatever happens. A stop
        # request does not interrupt this; only a stop plus a sink failing for 30 s gives up.
        gave_up_at: float | None = None
        while True:
            try:
                self.sink.record_match(match)
                self.matches += 1
                return
            except Exception:
                log.exception("%s: storing %s failed; retrying", self.spec.name, match)
            if self.stop.is_set():
                gave_up_at = gave_up_at or time.monotonic() + 30
                if time.monotonic() > gave_up_at:
                    log.error("%s: LOST MATCH %s (stopping, sink down)", self.spec.name, match)
                    return
            time.sleep(self.settings.store_retry)

    def _store_miss(self, at: dt.datetime) -> None:
        try:
            self.sink.record_no_match(self.spec.name, at)
        except Exception:
            log.exception("%s: could not record an unrecognised finger", self.spec.name)


class Listener:
    """Workers for several readers, each on its own thread."""

    def __init__(
        self,
        specs: Iterable[DeviceSpec],
        sink: Sink,
        settings: ListenerSettings | None = None,
    ) -> None:
        self.stop_event = threading.Event()
        self.settings = settings or ListenerSettings()
        self.workers = [DeviceWorker(s, sink, self.settings, self.stop_event) for s in specs]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start one thread per reader."""
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run, name=f"reader-{worker.spec.name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every worker to stop and wait for them."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)

    def run_until_signal(self) -> None:
        """Run until SIGINT or SIGTERM (must be called from the main thread)."""

        def on_signal(signum: int, frame: object) -> None:
            log.info("signal %s: stopping", signum)
            self.stop_event.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start()
            while not self.stop_event.wait(0.5):
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

    def last_status(self, device: str) -> Status | None:
        """The latest status reported for ``device``."""
        with self.lock:
            for name, status in reversed(self.statuses):
                if name == device:
                    return status
        return None
