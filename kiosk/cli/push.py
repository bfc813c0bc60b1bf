"""``flask --app kiosk push run [--once]`` and ``push status``: the provincial push (SPEC 11).

``push run`` walks each hall's pending ratings oldest first, in batches of at most 100,
POSTs each batch to ``PUSH_URL`` and commits what the platform answered, batch by batch.
Nothing is held in memory between batches: the outbox table is the queue, so the process
may be killed at any instant (SIGKILL included) and started again. SIGTERM and Ctrl-C
let the batch in flight get its answer (at most ``PUSH_TIMEOUT``), commit it and stop.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from kiosk.cli.common import fail, hall_or_exit
from kiosk.extensions import db
from kiosk.models import utcnow
from kiosk.rules.push_profiles import Profile
from kiosk.services import push
from kiosk.services.errors import PushError


@click.group("push")
def push_group() -> None:
    """Report every rating to the provincial 好差评 platform (SPEC 11)."""


@contextmanager
def _stop_on_signals(stopping: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stopping`` (the batch in flight still gets its answer)."""

    def handler(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass
class Pusher:
    """One ``push run``: passes over the halls' pending ratings, pausing after failures."""

    client: push.PlatformClient
    profile: Profile
    retry_min: float
    retry_max: float
    idle: float
    stopping: threading.Event
    echo: Callable[[str], None]

    def _hall_pass(self, hall: push.PushHall) -> tuple[str | None, bool]:
        """Send the hall's pending ratings once through: the error met, if any, and whether
        the platform failed (the pass stops) rather than leaving some records unanswered."""
        hall_id, code = hall.id, hall.code
        cursor: push.Cursor | None = None
        problem = None
        delivered = rejected = 0
        units = push.units_by_window(db.session, hall_id)
        while not self.stopping.is_set():
            batch = push.next_batch(db.session, hall, self.profile, cursor, units=units)
            # No transaction stays open while the platform thinks.
            db.session.commit()
            if not batch:
                break
            cursor = (batch[-1].rated_at, batch[-1].rating_pk)
            try:
                answer = self.client.post([item.record for item in batch])
            except push.PlatformUnavailable as exc:
                push.record_error(db.session, hall_id, exc.message, utcnow())
                db.session.commit()
                return f"{code}: {exc.message}", True
            outcome = push.apply_answer(db.session, hall, batch, answer, utcnow())
            if outcome.unanswered:
                # Left pending; the pass goes on, and ends as a failure (a pause, then again).
                problem = (
                    f"{code}: the platform's answer named {len(outcome.unanswered)} of the "
                    f"records sent in neither list (first {outcome.unanswered[0]})"
                )
                push.record_error(db.session, hall_id, problem, utcnow())
            db.session.commit()
            delivered += outcome.delivered
            rejected += outcome.rejected
        if delivered or rejected:
            self.echo(f"{code}: {delivered} delivered, {rejected} rejected")
        return problem, False

    def one_pass(self) -> str | None:
        """Every hall once; the first error met (the pass stops at a platform failure)."""
        problem = None
        for hall in push.halls(db.session):
            if self.stopping.is_set():
                break
            if hall.area_code is None:
                message = f"{hall.code}: hall.toml names no [hall] area_code; not pushed"
                if push.last_error(db.session, hall.id) != message:
                    push.record_error(db.session, hall.id, message, utcnow())
                db.session.commit()
                continue
            error, platform_failed = self._hall_pass(hall)
            problem = problem or error
            if platform_failed:
                break
        db.session.commit()
        return problem

    def run(self, once: bool, attempts: int) -> int:
        """Passes until stopped (or, with ``once``, until one pass ends without a failure);
        returns the exit status."""
        pause = self.retry_min
        failures = 0
        while not self.stopping.is_set():
            try:
                problem = self.one_pass()
            except DBAPIError as exc:
                db.session.rollback()
                problem = f"database: {exc.orig or exc}"
            if problem is None:
                if once:
                    return 0
                pause = self.retry_min
                self.stopping.wait(self.idle)
                continue
            failures += 1
            self.echo(f"error: {problem}; again in {pause:g} s")
            if once and failures >= attempts:
                return 1
            self.stopping.wait(pause)
            pause = min(pause * 2, self.retry_max)
        return 0


@push_group.command("run")
@click.option("--once", is_flag=True, help="Deliver what is pending now, then exit.")
@click.option(
    "--attempts",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="With --once: failed tries (with growing pauses) before exiting with status 1.",
)
@with_appcontext
def run_command(once: bool, attempts: int) -> None:
    """Deliver every pending rating to PUSH_URL, oldest first, in batches of at most 100."""
    config = current_app.config
    if not config["PUSH_URL"]:
        fail("PUSH_URL is not set (instance/config.py or FLASK_PUSH_URL)")
    try:
        profile = push.profile_named(config["PUSH_PROFILE"])
        client = push.PlatformClient(
            config["PUSH_URL"], config["PUSH_TOKEN"], float(config["PUSH_TIMEOUT"])
        )
    except PushError as exc:
        fail(exc.message)
    stopping = threading.Event()
    pusher = Pusher(
        client=client,
        profile=profile,
        retry_min=float(config["PUSH_RETRY_MIN"]),
        retry_max=float(config["PUSH_RETRY_MAX"]),
        idle=float(config["PUSH_IDLE_SECONDS"]),
        stopping=stopping,
        echo=lambda line: click.echo(line, err=line.startswith("error")),
    )
    with _stop_on_signals(stopping):
        try:
            status = pusher.run(once, attempts)
        finally:
            client.close()
    sys.exit(status)


@push_group.command("status")
@click.option("--hall", "hall_code", help="One hall (default: every hall).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: per hall code, SPEC 11's pending, delivered, rejected, last_success, last_error.",
)
@with_appcontext
def status_command(hall_code: str | None, output: str) -> None:
    """Print the push state of each hall."""
    halls = [hall_or_exit(hall_code)] if hall_code else push.halls(db.session)
    states = {hall.code: push.push_state(db.session, hall).as_json(hall.timezone) for hall in halls}
    if output == "json":
        click.echo(json.dumps(states, ensure_ascii=False, indent=2))
        return
    for code, state in states.items():
        error = state["last_error"]
        click.echo(
            f"{code}: pending {state['pending']}, delivered {state['delivered']}, "
            f"rejected {len(state['rejected'])}; last success {state['last_success'] or '—'}; "
            f"last error {error['at'] + ' ' + error['message'] if error else '—'}"
        )
        for item in state["rejected"]:
            click.echo(f"  rejected {item['rating_id']}: {item['reason']}")
