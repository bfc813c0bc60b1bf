"""The rating POST's driver-level statements agree with SQLAlchemy's own execution.

Run on SQLite and PostgreSQL (``KIOSK_TEST_DB``): the same Core statement, executed by
SQLAlchemy and by :mod:`kiosk.services.driversql`, gives the same row with the same
Python types, and the driver-level insert stores what a Core insert would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, insert, select

from kiosk.extensions import db
from kiosk.models import Rating, ServiceSession, utcnow
from kiosk.services import ratings as ratings_service
from kiosk.services.driversql import Prepared, insert_all_columns, statement_commits
from tests.ratings.conftest import Api


def _context_values(api: Api, app: Flask, key_id: str | None) -> dict[str, Any]:
    token = api.session()["token"]
    return {
        "token_hash": ratings_service.token_hash(token),
        "key_id": key_id,
        "since": utcnow() - dt.timedelta(minutes=5),
    }


@pytest.mark.parametrize("with_key", [True, False], ids=["counter key", "phone, no key"])
@pytest.mark.parametrize("rated_before", [False, True], ids=["first rating", "terminal rated"])
def test_context_select_agrees_with_sqlalchemy(
    app: Flask, api: Api, key: str, with_key: bool, rated_before: bool
) -> None:
    if rated_before:
        earlier = api.session()
        assert api.rate({"token": earlier["token"], "level": 5}).status_code == 201
    key_id = ratings_service.split_key(key)[0] if with_key else None  # type: ignore[index]
    values = _context_values(api, app, key_id)
    with app.app_context(), db.engine.connect() as conn:
        expected = dict(
            conn.execute(ratings_service._rating_context_select(), values).one()._mapping
        )
        got = ratings_service._RATING_CONTEXT.on(conn).first(conn, values)
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
    assert isinstance(got["expires_at"], dt.datetime)
    assert (got["last_terminal_rating"] is not None) is rated_before
    assert (got["t_id"] is not None) is with_key


def test_a_read_on_the_pool_agrees_with_sqlalchemy(app: Flask, api: Api, key: str) -> None:
    # The listener's asks (Prepared.read): no SQLAlchemy connection, the same rows and types.
    earlier = api.session()
    assert api.rate({"token": earlier["token"], "level": 5}).status_code == 201
    values = _context_values(api, app, ratings_service.split_key(key)[0])  # type: ignore[index]
    with app.app_context():
        with db.engine.connect() as conn:
            expected = [
                dict(row._mapping)
                for row in conn.execute(ratings_service._rating_context_select(), values)
            ]
        got = ratings_service._RATING_CONTEXT.read(db.engine, values)
        # A read on its own: the connection goes back to the pool with no transaction open.
        assert db.engine.pool.checkedout() == 0
    assert got == expected and len(got) == 1
    assert {k: type(v) for k, v in got[0].items()} == {k: type(v) for k, v in expected[0].items()}


def test_unknown_token_is_none(app: Flask, api: Api) -> None:
    values = {"token_hash": "0" * 64, "key_id": None, "since": utcnow()}
    with app.app_context(), db.engine.connect() as conn:
        assert ratings_service._RATING_CONTEXT.on(conn).first(conn, values) is None


def test_driver_insert_stores_what_core_would(app: Flask, api: Api) -> None:
    opened = api.session()
    with app.app_context(), db.engine.connect() as conn:
        session_row = conn.execute(
            select(ServiceSession).where(ServiceSession.public_id == opened["session_id"])
        ).one()
        values = {
            "rating_id": "X-20261201-AAAAAA",
            "hall_id": session_row.hall_id,
            "session_id": session_row.id,
            "staff_id": session_row.staff_id,
            "rated_at": dt.datetime(2026, 12, 1, 9, 30, 15, 123456),
            "level": 2,
            "channel": "counter",
            "case_no": None,
            "reasons": "态度差",
            "comment": "等了很久",
            "misuse": True,
            "terminal_id": session_row.terminal_id,
        }
        ratings_service._INSERT_RATING.on(conn).execute(conn, values)
        conn.commit()
        stored = conn.execute(
            select(Rating.__table__).where(Rating.rating_id == values["rating_id"])
        ).one()
    row = stored._mapping
    for name, value in values.items():
        assert row[name] == value, name
    # Columns the post does not name keep their defaults (NULL for the review's fields).
    assert row["review"] is None and row["reviewed_at"] is None


def test_driver_insert_violating_uniqueness_raises_the_drivers_integrity_error(
    app: Flask, api: Api
) -> None:
    opened = api.session()
    assert api.rate({"token": opened["token"], "level": 5}).status_code == 201
    with app.app_context(), db.engine.connect() as conn:
        rating = conn.execute(select(Rating.__table__)).one()._mapping
        values = {name: rating[name] for name in rating if name != "id"}
        values["rating_id"] = "X-20261201-BBBBBB"
        with pytest.raises(conn.dialect.loaded_dbapi.IntegrityError):
            ratings_service._INSERT_RATING.on(conn).execute(conn, values)
        conn.rollback()


def test_a_python_default_on_the_hot_table_is_refused() -> None:
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(8), default="x"),
        Column("at", DateTime, default=utcnow),
    )
    with pytest.raises(ValueError, match="Python default"):
        insert_all_columns(insert(table))


def test_scalar_defaults_are_filled_in(app: Flask) -> None:
    metadata = MetaData()
    table = Table(
        "driversql_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(8), default="x"),
        Column("flag", Boolean, default=False),
        Column("at", DateTime),
        Column("version", Integer, server_default="1"),
    )
    statement = Prepared(insert_all_columns(insert(table)))
    with app.app_context(), db.engine.connect() as conn:
        metadata.create_all(conn)
        statement.on(conn).execute(conn, {"at": dt.datetime(2026, 1, 2, 3, 4, 5)})
        conn.commit()
        row = conn.execute(select(table)).one()
        metadata.drop_all(conn)
        conn.commit()
    assert (row.name, row.flag, row.at) == ("x", False, dt.datetime(2026, 1, 2, 3, 4, 5))
    assert row.version == 1  # a server default is the database's to fill in


def _rating_values(conn: Any, public_id: str, rating_id: str) -> dict[str, Any]:
    session_row = conn.execute(
        select(ServiceSession).where(ServiceSession.public_id == public_id)
    ).one()
    return {
        "rating_id": rating_id,
        "hall_id": session_row.hall_id,
        "session_id": session_row.id,
        "staff_id": session_row.staff_id,
        "rated_at": dt.datetime(2026, 12, 1, 9, 30, 15),
        "level": 5,
        "channel": "counter",
        "misuse": False,
        "terminal_id": session_row.terminal_id,
    }


def _stored(rating_id: str) -> bool:
    """Whether another connection sees the rating (so it was committed)."""
    with db.engine.connect() as other:
        found = other.execute(select(Rating.id).where(Rating.rating_id == rating_id)).first()
    return found is not None


def test_statement_commits_makes_each_statement_its_own_transaction(app: Flask, api: Api) -> None:
    opened = api.session()
    with app.app_context():
        with db.engine.connect() as conn:
            values = _rating_values(conn, opened["session_id"], "X-20261201-CCCCCC")
            conn.rollback()
            with statement_commits(conn):
                ratings_service._INSERT_RATING.on(conn).execute(conn, values)
                # Seen from another connection before any commit: the insert committed itself.
                assert _stored("X-20261201-CCCCCC")
                conn.rollback()  # nothing left to roll back
        assert _stored("X-20261201-CCCCCC")


def test_after_statement_commits_the_connection_is_transactional_again(
    app: Flask, api: Api
) -> None:
    opened = api.session()
    with app.app_context():
        with db.engine.connect() as conn:
            with statement_commits(conn):
                conn.execute(select(Rating.id)).all()
            values = _rating_values(conn, opened["session_id"], "X-20261201-DDDDDD")
            ratings_service._INSERT_RATING.on(conn).execute(conn, values)
            assert not _stored("X-20261201-DDDDDD")  # pending until the commit
            conn.rollback()
        assert not _stored("X-20261201-DDDDDD")
        # The pool hands the connection out again in its normal, transactional mode.
        with db.engine.connect() as conn:
            ratings_service._INSERT_RATING.on(conn).execute(conn, values)
            conn.rollback()
        assert not _stored("X-20261201-DDDDDD")


def test_a_rating_post_commits_its_row_with_the_insert(app: Flask, api: Api) -> None:
    """The API's rating POST runs its insert under statement_commits: the row is stored
    and the pool's connections stay transactional afterwards."""
    opened = api.session()
    response = api.rate({"token": opened["token"], "level": 4})
    assert response.status_code == 201
    with app.app_context():
        assert _stored(response.get_json()["rating_id"])
        with db.engine.connect() as conn:
            driver = conn.connection.driver_connection
            if conn.dialect.driver == "pysqlite":
                assert driver.isolation_level is not None  # type: ignore[union-attr]
            else:
                assert driver.autocommit is False  # type: ignore[union-attr]
