"""A rating post holds one pool connection at a time.

The rule file in force may be asked of the database (at most once a second, SPEC 5.3). If
a rating post asked while it held its own connection, it would need two at once: with as
many busy threads as pooled connections, every thread would wait for a second one that
none gives back (the pool's timeout, then a 500 for all of them).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event

from kiosk.extensions import db
from kiosk.services import rulefile
from tests.ratings.conftest import Api, csrf_from


@pytest.fixture
def most_held(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[int]]:
    """The most pool connections each thread held at once, while the rule file in force
    is asked of the database on every read."""
    monkeypatch.setattr(rulefile, "RECHECK_SECONDS", 0.0)
    held: Counter[int] = Counter()
    most: Counter[int] = Counter()

    def checkout(*_args: object) -> None:
        thread = threading.get_ident()
        held[thread] += 1
        most[thread] = max(most[thread], held[thread])

    def checkin(*_args: object) -> None:
        held[threading.get_ident()] -= 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield most
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


@pytest.mark.parametrize("level", [5, 1], ids=["good", "bad with a reason"])
def test_an_api_rating_post_holds_one_connection(
    api: Api, most_held: Counter[int], level: int
) -> None:
    opened = api.session()
    most_held.clear()
    body = {"token": opened["token"], "level": level, "reasons": [] if level == 5 else ["态度不好"]}
    response = api.rate(body, key=api.key)
    assert response.status_code == 201, response.get_json()
    assert most_held and max(most_held.values()) == 1


def test_a_phone_rating_post_holds_one_connection(api: Api, most_held: Counter[int]) -> None:
    opened = api.session()
    page = api.client.get(f"/r/{opened['token']}")
    assert page.status_code == 200
    most_held.clear()
    response = api.client.post(
        f"/r/{opened['token']}", data={"level": "5", "csrf_token": csrf_from(page.text)}
    )
    assert response.status_code in (200, 302, 303), response.text[:300]
    assert most_held and max(most_held.values()) == 1
