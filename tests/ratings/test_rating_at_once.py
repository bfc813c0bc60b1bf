"""The rating POST's one statement stores what the long way would, or leaves the post to it.

:func:`kiosk.services.ratings._store_at_once` makes SPEC 9's checks in the WHERE of one
INSERT ... SELECT. Each case below puts the database in a state, then posts the same
rating both ways at the same instant: first the one statement (rolled back after its row
is read), then the long way of :func:`~kiosk.services.ratings._submit` with no hall guess,
which takes the select and the checks in their order. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import Connection, func, select, update

from kiosk.extensions import db
from kiosk.models import Hall, Rating, ServiceSession, Terminal, utcnow
from kiosk.services import ratings
from kiosk.services.errors import RatingRefused
from kiosk.services.rulefile import rules_in_force
from tests.ratings.conftest import Api, add_terminal, hall_app


@dataclass(frozen=True)
class Case:
    """A state before the post, the post, and which way stores it."""

    name: str
    expect: str  # "same": both store the same row; "long way": only _submit stores;
    # else the refusal code of the long way (and the one statement writes nothing)
    level: int = 5
    reasons: tuple[str, ...] = ()
    comment: str | None = None
    key: str = "key"  # "key", "phone", "page" (the counter page's session), "wrong", "other"
    before: str = ""  # what happened before: see _prepare
    case_no: str | None = None
    guess: str = "right"  # "right" or "other hall"


CASES = [
    Case("counter key, first rating", "same"),
    Case("counter key, terminal rated just before", "same", before="rated now"),
    Case("counter key, terminal rated 11 s before", "same", before="rated 11 s ago"),
    Case("previous rating a default one", "same", before="default rating now"),
    Case("phone, no key", "same", key="phone"),
    Case("phone after a counter rating", "same", key="phone", before="rated now"),
    Case("the counter page's signed-in session", "same", key="page"),
    Case("comment kept, trimmed", "same", level=4, comment="  很好  "),
    Case("blank comment is none", "same", level=3, comment="   "),
    Case("case number copied", "same", case_no="C-2026-001"),
    Case("bad review with reasons", "long way", level=1, reasons=("态度不好",)),
    Case("other hall guessed", "long way", guess="other hall"),
    Case("comment too long", "invalid", level=3, comment="长" * 1000),
    Case("level out of range", "invalid", level=9),
    Case("wrong secret", "unauthorized", key="wrong"),
    Case("another terminal's key", "wrong_terminal", key="other"),
    Case("unknown token", "unknown_token", before="unknown token"),
    Case("already rated", "already_rated", before="this session rated"),
    Case("expired", "expired", before="expired"),
    Case("terminal switched off", "unauthorized", before="terminal off"),
]


@pytest.fixture
def fresh_guesses() -> Iterator[None]:
    ratings._HALL_OF_KEY.clear()
    yield
    ratings._HALL_OF_KEY.clear()


def _prepare(app: Flask, api: Api, case: Case) -> str:
    """Put the database in the case's state; the token to rate."""
    opened = api.session(case_no=case.case_no)
    if case.before in ("rated now", "rated 11 s ago", "default rating now"):
        earlier = api.session()
        assert api.rate({"token": earlier["token"], "level": 5}, key=api.key).status_code == 201
        with app.app_context():
            shift = {"rated 11 s ago": dt.timedelta(seconds=11)}.get(case.before, dt.timedelta())
            channel = "default" if case.before == "default rating now" else "counter"
            # In Python: SQLite has no arithmetic on its text timestamps.
            previous = db.session.scalars(select(Rating)).one()
            previous.rated_at -= shift
            previous.channel = channel
            db.session.commit()
    if case.before == "this session rated":
        assert api.rate({"token": opened["token"], "level": 5}, key=api.key).status_code == 201
    if case.before == "expired":
        with app.app_context():
            db.session.execute(
                update(ServiceSession)
                .where(ServiceSession.public_id == opened["session_id"])
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )
            db.session.commit()
    if case.before == "terminal off":
        with app.app_context():
            db.session.execute(update(Terminal).values(active=False))
            db.session.commit()
    return "not-a-token" if case.before == "unknown token" else opened["token"]


def _credentials(case: Case, key: str, other_key: str) -> ratings.Credentials | None:
    if case.key == "phone":
        return None
    if case.key == "page":
        return ratings.Credentials(ratings.split_key(key)[0], None)  # type: ignore[index]
    chosen = other_key if case.key == "other" else key
    credentials = ratings.credentials_from_key(chosen)
    assert credentials is not None
    if case.key == "wrong":
        return ratings.Credentials(credentials.key_id, "x" * 43)
    return credentials


def _row(conn: Connection, rating_id: str) -> dict[str, Any]:
    found = conn.execute(select(Rating.__table__).where(Rating.rating_id == rating_id)).one()
    row = dict(found._mapping)
    row.pop("id")
    # The random tail of the id differs; the hall code and local date must not.
    row["rating_id"] = row["rating_id"][: -ratings._ID_RANDOM_CHARS]
    return row


def _count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(Rating)).scalar_one()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_one_statement_stores_what_the_long_way_would(
    app: Flask, api: Api, runner: FlaskCliRunner, fresh_guesses: None, case: Case
) -> None:
    other_key = add_terminal(runner, "柜台2", "W02")
    token = _prepare(app, api, case)
    credentials = _credentials(case, api.key, other_key)
    content = ratings.RatingContent(token, case.level, list(case.reasons), case.comment)
    post = ratings.RatingPost(
        content=lambda: content, credentials=lambda: credentials, client_tag="tag-1"
    )
    with app.test_request_context(), db.engine.connect() as conn:
        rules = rules_in_force()
        hall = conn.execute(select(Hall.code, Hall.timezone)).one()
        guess = (hall.code, hall.timezone) if case.guess == "right" else ("XX", hall.timezone)
        key_id = credentials.key_id if credentials is not None else None
        before = _count(conn)
        now = utcnow()
        window = ratings.misuse_window(rules)

        ratings._HALL_OF_KEY[key_id] = guess
        at_once = ratings._store_at_once(conn, post, credentials, content, now, None, rules, window)
        fast = _row(conn, at_once.rating_id) if at_once is not None else None
        written_at_once = _count(conn) - before
        conn.rollback()

        ratings._HALL_OF_KEY.clear()
        try:
            long_way: dict[str, Any] | str = _row(
                conn, ratings._submit(conn, post, now, None, rules).rating_id
            )
        except RatingRefused as refusal:
            long_way = refusal.code
        conn.rollback()

    if case.expect == "same":
        assert fast is not None, "the one statement did not store it"
        assert fast == long_way
        assert written_at_once == 1
    elif case.expect == "long way":
        assert fast is None and written_at_once == 0
        assert isinstance(long_way, dict)
    else:
        assert fast is None and written_at_once == 0
        assert long_way == case.expect


def test_the_misuse_flag_is_the_rule_of_the_long_way(
    app: Flask, api: Api, fresh_guesses: None
) -> None:
    # The cases above compare the flag both ways; here it is seen to be set at all.
    first = api.rate({"token": api.session()["token"], "level": 5}, key=api.key)
    assert first.status_code == 201
    assert ratings._HALL_OF_KEY  # the long way left its guess
    second = api.rate({"token": api.session()["token"], "level": 5}, key=api.key)
    assert second.status_code == 201
    with app.app_context():
        flags = db.session.execute(select(Rating.rating_id, Rating.misuse)).all()
    assert dict(flags) == {
        first.get_json()["rating_id"]: False,
        second.get_json()["rating_id"]: True,
    }


def test_a_good_rating_after_the_first_takes_one_statement(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch, fresh_guesses: None
) -> None:
    """Once the process knows the terminal's hall, a good rating runs no select first."""
    selects: list[str] = []
    real = ratings.load_rating_context

    def counted(*args: Any) -> Any:
        selects.append("context")
        return real(*args)

    monkeypatch.setattr(ratings, "load_rating_context", counted)
    for level in (5, 4, 3):
        assert (
            api.rate({"token": api.session()["token"], "level": level}, key=api.key).status_code
            == 201
        )
    assert selects == ["context"]  # only the first, which learnt the hall
    phone = [api.rate({"token": api.session()["token"], "level": 5}) for _ in range(2)]
    assert [r.status_code for r in phone] == [201, 201]
    assert selects == ["context"] * 2  # a phone's guess is learnt once too
    # A bad review needs the hall's reasons: the long way.
    bad = api.rate(
        {"token": api.session()["token"], "level": 1, "reasons": ["态度不好"]}, key=api.key
    )
    assert bad.status_code == 201
    assert selects == ["context"] * 3


def test_the_rate_limit_holds_on_the_one_statement(
    database_uri: str, tmp_path: Path, fresh_guesses: None
) -> None:
    """A terminal's posts count once each and its fourth in the minute is a 429; posts
    with its key id but a wrong secret count on the address, not on the terminal."""
    with hall_app(database_uri, tmp_path, RATING_RATE_LIMIT="3 per minute") as (app, api):
        key_id, _secret = ratings.split_key(api.key)  # type: ignore[misc]
        wrong = f"{ratings.KEY_PREFIX}{key_id}.{'x' * 43}"
        for _ in range(2):
            assert (
                api.rate({"token": api.session()["token"], "level": 5}, key=wrong).status_code
                == 401
            )
        answers = [
            api.rate({"token": api.session()["token"], "level": 5}, key=api.key).status_code
            for _ in range(4)
        ]
        assert answers == [201, 201, 201, 429]
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Rating)) == 3
