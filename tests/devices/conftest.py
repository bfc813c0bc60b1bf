"""Fixtures of the device tests: a hall with staff, emulators, a fast listener config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from devices.emulator import EmulatorProcess
from tests.conftest import EXAMPLE_DIR

FAST_CONFIG = {
    "DEVICE_POLL_INTERVAL": 0.01,
    "DEVICE_REPLY_TIMEOUT": 0.25,
    "DEVICE_CORRUPT_GRACE": 0.03,
    "DEVICE_BACKOFF_MIN": 0.02,
    "DEVICE_BACKOFF_MAX": 0.2,
    "DEVICE_FAILURES_BEFORE_RECONNECT": 2,
    "DEVICE_STATUS_INTERVAL": 0.2,
    "CLOCK_REFRESH_SECONDS": 0.3,
    "CLOCK_READER_STALE_SECONDS": 3,
}


@pytest.fixture
def hall(app: Flask, runner: FlaskCliRunner) -> Flask:
    """The example hall (QJ) and its roster, imported through the real CLI."""
    app.config.update(FAST_CONFIG)
    for kind, name in (("hall", "hall.toml"), ("roster", "roster.csv")):
        result = runner.invoke(args=["import", kind, str(EXAMPLE_DIR / name)])
        assert result.exit_code == 0, result.output
    return app


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulated reader with templates on pages 0..4."""
    with EmulatorProcess(tmp_path / "fp0", templates=5) as emulator:
        yield emulator
