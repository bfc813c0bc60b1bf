"""No crowd of idle or polling live-page clients keeps the service from answering (SPEC 9).

A real waitress server with 8 threads (as ``demo serve`` and ``waitress-serve --threads 8``)
on 127.0.0.1; for each live page, 4 x 8 = 32 clients behave as the page does (see
``bench/live_pages.py``, which prints the same figures), while ``/healthz`` on a fresh
connection and a terminal's rating POST must answer within one second. Before the clock
screen polled, 32 open ``/clock/stream`` connections held every worker for five minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from waitress.server import create_server

from bench.live_pages import (
    ADMIN_USER,
    KINDS,
    TARGET_SECONDS,
    measure,
    prepare,
    sign_in_admin,
    sign_in_counter,
)

THREADS = 8


@pytest.fixture
def served(app: Flask) -> Iterator[tuple[int, dict[str, Any]]]:
    """The prepared hall served by waitress with 8 threads; its port and the clients' context."""
    ctx = prepare(app)
    server = create_server(app, host="127.0.0.1", port=0, threads=THREADS)
    thread = threading.Thread(target=server.run, name="waitress-8", daemon=True)
    thread.start()
    port = server.effective_port  # type: ignore[union-attr]
    try:
        ctx["counter_cookies"] = sign_in_counter(port, ctx["key"])
        ctx["admin_cookies"] = sign_in_admin(port, *ADMIN_USER)
        yield port, ctx
    finally:

        def close_everything() -> None:
            for channel in list(server._map.values()):  # type: ignore[union-attr]
                channel.close()

        server.trigger.pull_trigger(close_everything)  # type: ignore[union-attr]
        thread.join(timeout=10)
        assert not thread.is_alive(), "waitress did not stop"
        # Wait for requests still running: one that ends after the app's engine is
        # disposed would open a connection nobody closes.
        server.task_dispatcher.shutdown(timeout=30)  # type: ignore[union-attr]
        assert not server.task_dispatcher.threads, "waitress threads still running"  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", KINDS)
def test_four_times_threads_clients_leave_the_service_answering(
    served: tuple[int, dict[str, Any]], kind: str
) -> None:
    port, ctx = served
    figures = measure(port, ctx["key"], (kind,), 4 * THREADS, 2.0, ctx)
    assert not figures.probe_errors, figures.probe_errors[:3]
    assert not figures.client_errors, figures.client_errors[:3]
    # Every client really ran: each got at least its first answer (or opened its socket).
    assert figures.served >= 4 * THREADS, figures.row()
    assert len(figures.healthz) >= 10 and figures.ratings, figures.row()
    assert figures.worst < TARGET_SECONDS, figures.row()
