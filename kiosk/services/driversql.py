"""Core statements run at the driver level: the rating POST's statements (issue 17).

SQLAlchemy's execution of a compiled statement (cache look-up, execution context, result
object) costs as much CPU as the rest of the rating POST's own work. On this one path
the statements are still written once, as Core statements in
:mod:`kiosk.services.ratings` (a good rating's one ``INSERT ... SELECT``, built by
:func:`insert_all_columns_from`, and the long way's select and insert);
:class:`Prepared` compiles each for the connection's dialect once (SQL text, parameter
order, the types' bind and result processors, all through the public ``TypeEngine`` API)
and :meth:`DriverStatement.run` hands the SQL straight to the DBAPI cursor of the
engine's connection. The connection's transaction stays SQLAlchemy's:
:meth:`DriverStatement.run` begins it, so the caller's ``commit`` or ``rollback`` applies.

:func:`statement_commits` puts a connection's driver into autocommit for a block: each
statement is then a transaction of its own. The rating POST writes one row; run so, its
insert takes and releases SQLite's write lock inside one call into the library (no
``BEGIN``, no separate ``COMMIT`` for which the thread must first get the GIL back while
the lock is held and the other writers wait), and costs PostgreSQL no ``BEGIN`` and
``COMMIT`` round trips. ``tests/ratings/test_driversql.py`` runs all of it on SQLite and
PostgreSQL.

The fingerprint listener's periodic asks (a job? the device rows? a leaver?) use
:meth:`Prepared.read`: a read on its own, on a DBAPI connection of the pool, without a
SQLAlchemy connection either; each runs every second or few for as long as the listener runs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    bindparam,
    insert,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import ScalarElementColumnDefault

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """One statement compiled for one dialect, ready for the DBAPI cursor."""

    sql: str
    # Positional paramstyles (SQLite's ``?``): the bind names in order; None when named.
    order: tuple[str, ...] | None
    # Every bind of the statement with its value when the statement fixes one (a LIMIT).
    fixed: Mapping[str, Any]
    binds: Mapping[str, Processor]
    keys: tuple[str, ...]
    results: tuple[Processor | None, ...]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The DBAPI parameters of ``values`` (the statement's bind names), processed."""
        merged = {**self.fixed, **values}
        for name, process in self.binds.items():
            merged[name] = process(merged[name])
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)

    def run(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Execute with ``values`` in ``conn``'s transaction; the open DBAPI cursor."""
        if not conn.in_transaction():
            # SQLAlchemy's own transaction, so that the caller's commit reaches the driver.
            conn.begin()
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.sql, self.parameters(values))
        return cursor

    def first(self, conn: Connection, values: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row as a dict of the selected columns' keys, or None."""
        cursor = self.run(conn, values)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else self._row(row)

    def read(self, engine: Engine, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row, as dicts, read on a DBAPI connection of ``engine``'s pool, in no
        transaction of SQLAlchemy's: the pool's reset on return ends the driver's."""
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, self.parameters(values))
                rows = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()
        return [self._row(row) for row in rows]

    def _row(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            key: value if process is None else process(value)
            for key, value, process in zip(self.keys, row, self.results, strict=True)
        }

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """Execute a statement that returns no rows."""
        self.run(conn, values).close()

    def count(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Execute a statement that returns no rows; the number of rows it wrote."""
        cursor = self.run(conn, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _compile(statement: Select[Any] | Insert, dialect: Dialect) -> DriverStatement:
    compiled = statement.compile(dialect=dialect)
    binds: dict[str, Processor] = {}
    fixed: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        if not bind.required and bind.callable is None:
            fixed[name] = bind.value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds[name] = process
    keys: list[str] = []
    results: list[Processor | None] = []
    if isinstance(statement, Select):
        for column in statement.selected_columns:
            keys.append(str(column.key))
            column_type = column.type.dialect_impl(dialect)
            results.append(column_type.result_processor(dialect, None))
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    if compiled.positional and order is None:
        order = ()
    return DriverStatement(compiled.string, order, fixed, binds, tuple(keys), tuple(results))


def _column_binds(table: Table) -> Iterator[tuple[Column[Any], BindParameter[Any]]]:
    """Every column of ``table`` a driver-level insert writes, with its bind: all but the
    primary key and those the database fills in (a server default), the scalar defaults
    filled in. Refuses a column whose default is a Python function (it would run per row,
    which a prepared insert cannot do): the hot path's table must not grow one unnoticed."""
    for column in table.columns:
        if column.primary_key:
            continue
        default = column.default
        if default is None and column.server_default is not None:
            continue  # the database fills it in (a bound NULL would override it)
        if default is None:
            yield column, bindparam(column.key, value=None, type_=column.type)
        elif isinstance(default, ScalarElementColumnDefault):
            yield column, bindparam(column.key, value=default.arg, type_=column.type)
        else:
            raise ValueError(f"{column} has a Python default: not for a driver-level insert")


def insert_all_columns(statement: Insert) -> Insert:
    """``statement`` with a bind for every column but the primary key and those the
    database fills in (a server default), and the scalar defaults filled in: the driver
    has no ORM or Core default to apply on its own (see :func:`_column_binds`).
    """
    table = statement.table
    if not isinstance(table, Table):
        raise TypeError(f"an insert into a table, not {table!r}")
    return statement.values({column.key: bind for column, bind in _column_binds(table)})


def insert_all_columns_from(table: Table, source: Select[Any], taken: Mapping[str, Any]) -> Insert:
    """``INSERT INTO table ... SELECT``: the columns of :func:`insert_all_columns`, each
    from its expression in ``taken`` (over ``source``'s FROM and WHERE), else its bind.

    One statement that inserts a row only where ``source`` finds one: the database makes
    the checks of the WHERE and the write together, and the caller reads the row count.
    """
    columns: list[Column[Any]] = []
    values: list[Any] = []
    for column, bind in _column_binds(table):
        columns.append(column)
        values.append(taken.get(column.key, bind))
    unknown = set(taken) - {column.key for column in columns}
    if unknown:
        raise ValueError(f"not columns the insert writes: {sorted(unknown)}")
    return insert(table).from_select(columns, source.with_only_columns(*values))


class Prepared:
    """A Core statement with its driver-level form per dialect, compiled on first use."""

    def __init__(self, statement: Select[Any] | Insert) -> None:
        self.statement = statement
        self._by_dialect: dict[str, DriverStatement] = {}
        self._lock = threading.Lock()

    def on(self, conn: Connection | Engine) -> DriverStatement:
        """The statement for ``conn``'s dialect."""
        dialect = conn.dialect
        name = f"{dialect.name}+{dialect.driver}"
        prepared = self._by_dialect.get(name)
        if prepared is None:
            with self._lock:
                prepared = self._by_dialect.setdefault(name, _compile(self.statement, dialect))
        return prepared

    def read(self, engine: Engine, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row of this select with ``values``: :meth:`DriverStatement.read`."""
        return self.on(engine).read(engine, values or {})


@contextlib.contextmanager
def statement_commits(conn: Connection) -> Iterator[Connection]:
    """Within the block each statement on ``conn`` commits itself (the driver's
    autocommit), for sqlite3 and psycopg; on another driver the block is unchanged (the
    caller's ``commit`` still applies, as it does here too, where it is a no-op).

    For a unit of work that writes one statement: nothing written before the block may be
    pending, and nothing in it can be rolled back. The driver's own mode is restored at
    the end, before the connection goes back to the pool.
    """
    driver = conn.connection.driver_connection
    if conn.dialect.driver == "pysqlite" and not driver.in_transaction:  # type: ignore[union-attr]
        # sqlite3 before Python 3.12: isolation_level None is autocommit.
        previous = driver.isolation_level  # type: ignore[union-attr]
        driver.isolation_level = None  # type: ignore[union-attr]
        try:
            yield conn
        finally:
            driver.isolation_level = previous  # type: ignore[union-attr]
    elif conn.dialect.driver == "psycopg" and not conn.in_transaction():
        from psycopg.pq import TransactionStatus

        # psycopg refuses to switch inside a transaction: a pre-ping may have begun one.
        if driver.info.transaction_status != TransactionStatus.IDLE:  # type: ignore[union-attr]
            driver.rollback()  # type: ignore[union-attr]
        driver.autocommit = True  # type: ignore[union-attr]
        try:
            yield conn
        finally:
            driver.autocommit = False  # type: ignore[union-attr]
    else:
        yield conn
