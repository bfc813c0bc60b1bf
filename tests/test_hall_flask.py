"""The app remembers which views and hooks run as they are, within a bounded memory."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from kiosk.app import HallFlask


def test_the_app_is_a_hall_flask(app: Flask) -> None:
    assert isinstance(app, HallFlask)


def test_a_plain_function_is_checked_once_and_runs_as_it_is(app: Flask) -> None:
    def view() -> str:
        return "ok"

    assert app.ensure_sync(view) is view
    assert app.ensure_sync(view) is view
    assert view in app._synced  # type: ignore[attr-defined]


def test_functions_made_per_request_do_not_fill_the_memory(app: Flask) -> None:
    def made(n: int) -> Callable[[], int]:
        return lambda: n

    for n in range(HallFlask._SYNC_KEPT * 3):
        function = made(n)
        assert app.ensure_sync(function) is function
    assert len(app._synced) <= HallFlask._SYNC_KEPT  # type: ignore[attr-defined]


def test_every_page_still_answers_after_its_hooks_are_remembered(client: FlaskClient) -> None:
    # Twice: the second request runs on the remembered hooks.
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
