"""``push run`` as a real process, killed with SIGKILL mid-batch and started again (SPEC 11):
every rating ends delivered, the platform holds each exactly once, and no rating is ever
marked delivered that the platform had not accepted. SIGTERM lets the batch in flight
finish. Only processes started here are signalled, by their own pid."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Hall, PushDelivery, Rating
from kiosk.services import push
from tests.push.conftest import TOKEN
from tests.push.platform_double import PlatformState, platform_double

ROOT = Path(__file__).resolve().parents[2]
HEADER = "rating_id,rated_at,staff_no,level,channel,case_no,reasons,misuse,review,rectified_at\n"


def add_ratings(app: Flask, tmp_path: Path, count: int) -> None:
    start = dt.datetime(2026, 7, 1, 9, 0)
    lines = [
        f"K{i:05d},{(start + dt.timedelta(minutes=i)).isoformat()},S00{1 + i % 6},{1 + i % 5},"
        f"{('counter', 'qr', 'other')[i % 3]},,{'态度不好' if i % 5 < 2 else ''},,,\n"
        for i in range(count)
    ]
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "".join(lines))
    result = app.test_cli_runner().invoke(args=["import", "ratings", str(path)])
    assert result.exit_code == 0, result.output


def push_process(app: Flask, url: str, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "KIOSK_INSTANCE_PATH": str(tmp_path / "push-instance"),
            "FLASK_SECRET_KEY": secrets.token_hex(32),
            "FLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "FLASK_PUSH_URL": url,
            "FLASK_PUSH_TOKEN": TOKEN,
            "FLASK_PUSH_TIMEOUT": "5",
            "FLASK_PUSH_RETRY_MIN": "0.05",
            "FLASK_PUSH_RETRY_MAX": "0.2",
            "FLASK_PUSH_IDLE_SECONDS": "0.1",
        }
    )
    with (tmp_path / f"push-{secrets.token_hex(3)}.log").open("wb") as log:
        # The child keeps its own copy of the descriptor.
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "kiosk", "push", "run", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def delivered(app: Flask) -> set[str]:
    with app.app_context():
        found = set(
            db.session.scalars(
                select(Rating.rating_id)
                .join(PushDelivery, PushDelivery.rating_pk == Rating.id)
                .where(PushDelivery.state == "delivered")
            )
        )
        db.session.remove()
        return found


def all_ids(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Rating.rating_id)))


def wait_for_requests(state: PlatformState, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(state.requests) < count:
        assert time.monotonic() < deadline, f"only {len(state.requests)} requests came"
        time.sleep(0.005)


def test_sigkill_mid_batch_loses_nothing_and_delivers_nothing_unaccepted(
    push_hall: Flask, tmp_path: Path
) -> None:
    add_ratings(push_hall, tmp_path, 1000)
    everything = all_ids(push_hall)
    assert len(everything) == 1190  # 12 batches
    state = PlatformState(token=TOKEN, delay=0.15)
    with platform_double(state) as (url, _state):
        # Killed while the platform holds a batch and has not answered yet (it stored the
        # records: the worst case), then at moments that fall anywhere in the work.
        for wait in ("request 2", 0.25, "request 6", 0.4, 0.1):
            process = push_process(push_hall, url, tmp_path)
            try:
                if isinstance(wait, str):
                    wait_for_requests(state, len(state.requests) + int(wait.split()[1]))
                    time.sleep(0.05)  # inside the platform's 0.15 s before answering
                else:
                    time.sleep(wait)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
            marked = delivered(push_hall)
            # Nothing reported delivered that the platform did not accept (or already hold).
            assert marked <= state.answered_delivered
            assert marked <= set(state.store)
        assert delivered(push_hall) != everything  # the kills did interrupt the work
        process = push_process(push_hall, url, tmp_path, "--once")
        assert process.wait(timeout=120) == 0
    assert delivered(push_hall) == everything == set(state.store)
    # Each held record is the rating as it is now (exactly what the profile makes of it).
    with push_hall.app_context():
        hall = db.session.scalars(select(Hall)).one()
        assert push.push_state(db.session, hall).pending == 0
    sent = [rid for request in state.requests for rid in request["ids"]]
    assert set(sent) == everything
    # Re-sent records after a kill were answered as duplicates, not stored twice.
    assert len(sent) > len(everything)


def test_sigterm_lets_the_batch_in_flight_finish(push_hall: Flask, tmp_path: Path) -> None:
    add_ratings(push_hall, tmp_path, 300)
    state = PlatformState(token=TOKEN, delay=0.5)
    with platform_double(state) as (url, _state):
        process = push_process(push_hall, url, tmp_path)
        try:
            wait_for_requests(state, 1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    # The batch in flight got its answer and was stored; no batch was started after.
    assert len(state.requests) == 1
    assert delivered(push_hall) == set(state.requests[0]["ids"])
