"""Enrolment while the hall works (SPEC 7, issue 12): the listener owns the port, so it runs
the enrol jobs that ``devices enroll`` leaves for it.

A job comes from a ``Jobs`` source (the database one is ``kiosk.services.readers``); the
listener's jobs thread claims it for an idle reader and hands it to that reader's worker,
which runs :func:`enrol` between two polls: two presses of the same finger, a Search first
(a finger already enrolled is refused), RegModel, Store on a free page. Each stage is
reported back (the clock screen words it for the person at the reader); the job ends
``done`` with its page, or with the stage that stopped it. No Flask, no database here.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from devices.client import ModuleClient
from devices.protocol import Confirmation as C


class Stage(enum.StrEnum):
    """Where an enrolment stands; the last four-plus end it."""

    PRESS = "press"  # waiting for the first press (请按压手指)
    LIFT = "lift"  # first image taken: lift the finger
    AGAIN = "again"  # waiting for the second press (请再按一次)
    DONE = "done"  # stored and mapped (录入成功)
    DUPLICATE = "duplicate"  # the module knows this finger already (该指纹已录入)
    MISMATCH = "mismatch"  # the two presses are not the same finger
    FULL = "full"  # no free page on the module
    TIMEOUT = "timeout"  # nobody pressed in time
    CANCELLED = "cancelled"  # cancelled from the command line
    ERROR = "error"  # the module or the line failed

    @property
    def final(self) -> bool:
        """True once the job is over."""
        return self not in (Stage.PRESS, Stage.LIFT, Stage.AGAIN)


# What the person at the reader is told at each stage (the clock screen translates its own).
PROMPTS: dict[Stage, tuple[str, str]] = {
    Stage.PRESS: ("请按压手指", "place the finger on the reader"),
    Stage.LIFT: ("请抬起手指", "lift the finger"),
    Stage.AGAIN: ("请再按一次", "place the same finger again"),
    Stage.DONE: ("录入成功", "enrolled"),
    Stage.DUPLICATE: ("该指纹已录入", "this finger is enrolled already"),
    Stage.MISMATCH: ("两次按压不是同一手指，录入失败", "the two presses do not match"),
    Stage.FULL: ("指纹库已满，录入失败", "the module's library is full"),
    Stage.TIMEOUT: ("录入超时，已取消", "timed out"),
    Stage.CANCELLED: ("录入已取消", "cancelled"),
    Stage.ERROR: ("录入失败，请联系值班人员", "failed"),
}


@dataclass(frozen=True)
class EnrolJob:
    """One enrolment for reader ``device``: ``timeout`` seconds for each press; ``taken``
    the pages the database maps already (never stored on, even when empty on the module)."""

    id: int
    device: str
    staff: str
    timeout: float
    taken: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``page`` when ``stage`` is done (or the page a duplicate is on)."""

    stage: Stage
    page: int | None = None
    detail: str = ""


class Jobs(Protocol):
    """Where enrol jobs come from and their progress goes (the listener's jobs thread calls
    it, never a reader's polling thread, so a slow database never stalls a reader)."""

    def claim(self, devices: list[str]) -> list[EnrolJob]:
        """Pending jobs of these readers (one each at most), now marked running."""

    def progress(self, job_id: int, stage: Stage) -> None:
        """The job reached ``stage`` (not final)."""

    def cancelled(self, job_ids: list[int]) -> set[int]:
        """Which of these running jobs were cancelled meanwhile."""

    def finish(self, job_id: int, outcome: Outcome) -> None:
        """The job is over; for ``done`` map ``outcome.page`` to the job's staff member."""


@dataclass
class ActiveJob:
    """A claimed job on its way through a worker; ``cancel`` is set by the jobs thread."""

    job: EnrolJob
    cancel: threading.Event = field(default_factory=threading.Event)


class Stopped(Exception):
    """The job ended while waiting for the finger (cancelled, timed out, listener stopping)."""

    def __init__(self, stage: Stage) -> None:
        super().__init__(stage.value)
        self.stage = stage


def enrol(
    client: ModuleClient,
    active: ActiveJob,
    report: Callable[[Stage], None],
    stop: threading.Event,
    poll: float,
    alive: Callable[[], None] = lambda: None,
) -> Outcome:
    """Run one enrolment on an open, handshaken module; transport errors propagate.
    ``alive`` is called after each answered capture (the reader's heartbeat goes on)."""
    job = active.job

    def wait(present: bool) -> None:
        deadline = time.monotonic() + job.timeout
        while True:
            if active.cancel.is_set():
                raise Stopped(Stage.CANCELLED)
            if stop.is_set():
                raise Stopped(Stage.CANCELLED)
            code = client.capture()
            alive()
            if (code == C.OK) if present else (code == C.NO_FINGER):
                return
            if time.monotonic() >= deadline:
                raise Stopped(Stage.TIMEOUT)
            stop.wait(poll)

    def image(buffer_id: int) -> None:
        # A smudged image is not a refusal: the person keeps the finger on, we look again.
        while client.convert(buffer_id) != C.OK:
            wait(True)

    try:
        # The job is handed over only while no finger is on the sensor (see
        # ``Listener.jobs_round``): the next finger is the first press the screen asks for.
        report(Stage.PRESS)
        wait(True)
        image(1)
        found = client.search(1)
        if found.found:
            return Outcome(Stage.DUPLICATE, found.page, f"already enrolled on page {found.page}")
        report(Stage.LIFT)
        wait(False)
        report(Stage.AGAIN)
        wait(True)
        image(2)
        if client.reg_model() != C.OK:
            return Outcome(Stage.MISMATCH, None, "the two presses do not match")
        used = client.used_pages()
        page = next(
            (n for n in range(client.capacity) if n not in used and n not in job.taken), None
        )
        if page is None:
            return Outcome(Stage.FULL, None, f"the module's library is full ({client.capacity})")
        code = client.store(page)
        if code != C.OK:
            return Outcome(Stage.ERROR, None, f"storing on page {page} failed: {C.describe(code)}")
        return Outcome(Stage.DONE, page)
    except Stopped as stopped:
        return Outcome(stopped.stage, None, stopped.stage.value)
