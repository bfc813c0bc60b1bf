"""Two imports at once (issue 9): the second waits for the first or is refused, never a traceback.

The first test holds the import lock from another database session while the CLI imports;
the second starts two real ``flask import`` processes on the same file at the same moment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from kiosk.extensions import db
from kiosk.interchange import IMPORT_BUSY, take_import_lock
from kiosk.models import Punch

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "data" / "small"


@pytest.fixture
def small_hall(runner: FlaskCliRunner) -> None:
    for kind, name in (("hall", "hall.toml"), ("roster", "roster.csv")):
        result = runner.invoke(args=["import", kind, str(SMALL / name)])
        assert result.exit_code == 0, result.output


def _punch_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Punch))
        db.session.remove()
        return int(count or 0)


def _punches_file(path: Path, rows: int) -> Path:
    """``rows`` distinct punches of the example's eight staff (one a minute each)."""
    lines = ["staff_no,punched_at"]
    for i in range(rows):
        staff = f"S00{i % 8 + 1}"
        minute = i // 8
        day = 1 + minute // 600
        lines.append(f"{staff},2026-09-{day:02d}T{7 + minute % 600 // 60:02d}:{minute % 60:02d}:00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_import_while_another_holds_the_lock_is_refused(
    app: Flask, runner: FlaskCliRunner, small_hall: None, tmp_path: Path
) -> None:
    data = _punches_file(tmp_path / "punches.csv", 40)
    app.config["IMPORT_LOCK_WAIT"] = 0.3
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with Session(engine) as other:
            take_import_lock(other, 0)  # another import is running
            result = runner.invoke(args=["import", "punches", str(data)])
            assert isinstance(result.exception, SystemExit), repr(result.exception)
            assert result.exit_code == 1
            assert IMPORT_BUSY in result.output
            assert "nothing was changed" in result.output
            other.rollback()
        assert _punch_count(app) == 0
        # Once the other import has ended, the same file imports.
        result = runner.invoke(args=["import", "punches", str(data)])
        assert result.exit_code == 0, result.output
        assert _punch_count(app) == 40
    finally:
        engine.dispose()


def test_the_second_import_waits_for_the_first(
    app: Flask, runner: FlaskCliRunner, small_hall: None, tmp_path: Path
) -> None:
    """Within IMPORT_LOCK_WAIT the second import waits, then finds nothing new to write."""
    data = _punches_file(tmp_path / "punches.csv", 40)
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    released = threading.Event()
    try:
        with Session(engine) as other:
            take_import_lock(other, 0)
            timer = threading.Timer(0.5, released.set)
            timer.start()

            def release() -> None:
                released.wait(5)
                other.commit()

            thread = threading.Thread(target=release)
            thread.start()
            app.config["IMPORT_LOCK_WAIT"] = 10
            result = runner.invoke(args=["import", "punches", str(data)])
            thread.join()
        assert result.exit_code == 0, result.output
        assert "40 new" in result.output
    finally:
        engine.dispose()


def _cli(database_uri: str, wait: float, data: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_uri,
        "FLASK_SECRET_KEY": "concurrency-test-key-0123456789abcdef",
        "FLASK_IMPORT_LOCK_WAIT": str(wait),
        "KIOSK_INSTANCE_PATH": str(data.parent / "instance"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "import", "punches", str(data)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("wait", [0, 60], ids=["refuse-at-once", "queue"])
def test_two_real_concurrent_imports(
    app: Flask, small_hall: None, tmp_path: Path, database_uri: str, wait: float
) -> None:
    rows = 30_000
    data = _punches_file(tmp_path / "punches.csv", rows)
    with app.app_context():
        db.engine.dispose()  # the processes below are the only writers
    first, second = _cli(database_uri, wait, data), _cli(database_uri, wait, data)
    outcomes = []
    for process in (first, second):
        out, err = process.communicate(timeout=240)
        assert "Traceback" not in err, err
        outcomes.append((process.returncode, out + err))
    codes = sorted(code for code, _ in outcomes)
    texts = "\n".join(text for _, text in outcomes)
    assert f"{rows} new" in texts, texts  # exactly one import wrote the rows
    assert texts.count(f"{rows} new") == 1, texts
    if codes == [0, 1]:
        assert IMPORT_BUSY in texts and "nothing was changed" in texts, texts
    else:
        assert codes == [0, 0], texts
        assert f"0 new, 0 updated, {rows} unchanged" in texts, texts  # it waited its turn
    if wait:
        assert codes == [0, 0], texts
    assert _punch_count(app) == rows
