"""Shared helpers for the device tests: fast settings and waiting on conditions."""

from __future__ import annotations

import time
from collections.abc import Callable

from devices.listener import ListenerSettings
from devices.transport import Timeouts

FAST = ListenerSettings(
    poll_interval=0.01,
    timeouts=Timeouts(reply=0.25, corrupt_grace=0.03),
    backoff_min=0.02,
    backoff_max=0.2,
    failures_before_reconnect=2,
    status_interval=0.2,
    store_retry=0.02,
)


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Wait until ``condition()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what or condition}")
