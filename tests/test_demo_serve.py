"""The README's start command, as a new user runs it: ``flask --app kiosk demo serve``.

It runs in a subprocess with its own instance folder; the test types emulator commands on
its standard input, as a person would, and watches the punch arrive over HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return response.read()


def _wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_serve_takes_a_press_from_the_console(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(
        os.environ,
        KIOSK_INSTANCE_PATH=str(tmp_path / "instance"),
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.sqlite'}",
    )
    # A fresh instance with no key configured: demo serve creates instance/secret_key.
    env.pop("KIOSK_TEST_DB", None)
    env.pop("FLASK_SECRET_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "demo", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None and proc.stdout is not None
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(f"{base}/healthz"), 120, "the web service")
        _wait_for(lambda: _device_connected(tmp_path), 60, "the listener to connect")
        assert _punch_events(base) == []
        proc.stdin.write("press 3\n")
        proc.stdin.flush()
        events = _wait_for(lambda: _punch_events(base), 30, "the punch on the clock screen")
        assert events[-1]["staff_no"] == "S004"
        proc.stdin.write("release\nquit\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
        output = proc.stdout.read()
        proc.stdout.close()
        proc.stdin.close()
    assert "terminal key of window W01: kt_" in output
    key_file = tmp_path / "instance" / "secret_key"
    assert f"created {key_file}" in output
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(key_file.read_text().strip())) >= 32
    assert "press 3" in output and "S004" in output
    assert "stopped." in output
    assert proc.returncode == 0


def _device_connected(tmp_path: Path) -> bool:
    import sqlite3

    with sqlite3.connect(tmp_path / "demo.sqlite") as conn:
        row = conn.execute("SELECT state FROM devices WHERE name = 'entrance'").fetchone()
    return bool(row and row[0] == "connected")


def _punch_events(base: str) -> list[dict[str, object]]:
    events = json.loads(_get(f"{base}/clock/events?after=0"))["events"]
    return [e for e in events if e.get("kind") == "punch"]
