"""Writing an import's rows: set-based inserts and updates of new or changed rows by key.

Rows are written :data:`WRITE_ROWS` at a time while the file is still being read, each
batch compared with the stored rows of its own keys only (one select by key), so an
import holds one batch of parsed rows, never the file's. Nothing is written once a
problem is found, and the import's transaction is rolled back when it fails: all or
nothing, as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, DateTime, Table, and_, bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from kiosk.interchange.report import ImportReport
from kiosk.models import (
    Hall,
    Staff,
)

WRITE_ROWS = 5_000
"""Parsed rows written (and their stored rows looked up) at a time."""


def _check_unique_keys(keyed: Iterable[tuple[Any, int]], what: str, problems: list[str]) -> None:
    """Report keys that appear on more than one line of the file."""
    first_line: dict[Any, int] = {}
    for key, line in keyed:
        if key in first_line:
            problems.append(f"line {line}: duplicate {what} (first on line {first_line[key]})")
        else:
            first_line[key] = line


def _staff_ids(session: Session, hall: Hall) -> dict[str, int]:
    return dict(
        session.execute(select(Staff.staff_no, Staff.id).where(Staff.hall_id == hall.id))
        .tuples()
        .all()
    )


# ------------------------------------------------------------ writing changes

# A naive instant as SQLAlchemy's SQLite DateTime stores it, checked against its own
# bind processor before it stands in for it (see _sqlite_binder).
_PROBE = dt.datetime(2001, 2, 3, 4, 5, 6, 7)


def _sqlite_binder(conn: Connection, table: Table, name: str) -> Callable[[Any], Any] | None:
    """How a value of ``table.name`` is bound on SQLite, as SQLAlchemy would bind it.

    SQLAlchemy's bind processor, except for a naive DateTime, written by the C
    ``isoformat`` (the same text, checked on a probe value): 350,000 rows of a bulk
    import cost a second less.
    """
    column_type = table.c[name].type
    process = column_type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if (
        process is not None
        and isinstance(column_type, DateTime)
        and not column_type.timezone
        and process(_PROBE) == _PROBE.isoformat(" ", "microseconds")
    ):
        return lambda value: None if value is None else value.isoformat(" ", "microseconds")
    return process


def _insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts of the same columns) as one executemany.

    On SQLite the statement goes to the driver directly, the values bound as SQLAlchemy
    binds them and the columns left out given their Python-side defaults, as
    SQLAlchemy gives them (the per-row work of its executemany was a third of a bulk
    import of ratings); elsewhere, and for a default that is an SQL expression, it is
    SQLAlchemy's own executemany.
    """
    conn = session.connection()
    given = list(rows[0])
    defaults = [c.default for c in table.c if c.name not in rows[0] and c.default is not None]
    if conn.dialect.name != "sqlite" or any(
        not (d.is_scalar or d.is_callable)
        for d in defaults  # type: ignore[attr-defined]
    ):
        session.execute(insert(table), rows)
        return
    names = given + [d.column.name for d in defaults]  # type: ignore[attr-defined]
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    binders = [(i, b) for i, n in enumerate(names) if (b := _sqlite_binder(conn, table, n))]
    params: list[tuple[Any, ...]] = []
    for values in rows:
        bound = [values[n] for n in given]
        for default in defaults:
            # Called per row like SQLAlchemy does (a callable default takes no context here).
            bound.append(default.arg(None) if default.is_callable else default.arg)  # type: ignore[attr-defined]
        for i, bind in binders:
            bound[i] = bind(bound[i])
        params.append(tuple(bound))
    conn.exec_driver_sql(sql, params)


def _upsert(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    existing: dict[tuple[Any, ...], tuple[int, dict[str, Any]]],
    report: ImportReport,
    immutable: bool = False,
) -> None:
    """Insert new rows and update changed ones, both as executemany statements."""
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for values in rows:
        key = tuple(values[c] for c in key_columns)
        found = existing.get(key)
        if found is None:
            new.append(values)
            continue
        row_id, stored = found
        if immutable or all(stored.get(c) == v for c, v in values.items()):
            report.unchanged += 1
            continue
        changed.append({"_id": row_id, **values})
    if new:
        _insert(session, table, new)
    if changed:
        columns = [c for c in changed[0] if c != "_id"]
        values: dict[str, Any] = {c: bindparam(c) for c in columns}
        if "push_version" in table.c:
            # A rating changed by a re-import is sent to the provincial platform again
            # (SPEC 11), under its id, like one changed by a verdict.
            values["push_version"] = table.c.push_version + 1
        stmt = update(table).where(table.c.id == bindparam("_id")).values(values)
        session.execute(stmt, changed)
    report.inserted += len(new)
    report.updated += len(changed)


def _existing(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    value_columns: Iterable[str],
    where: Any,
) -> dict[tuple[Any, ...], tuple[int, dict[str, Any]]]:
    cols = list(dict.fromkeys([*key_columns, *value_columns]))
    stmt = select(table.c.id, *(table.c[c] for c in cols)).where(where)
    found: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    for record in session.execute(stmt):
        values = dict(zip(cols, record[1:], strict=True))
        found[tuple(values[c] for c in key_columns)] = (record[0], values)
    return found


def _stored_of(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    scope: Any,
) -> dict[tuple[Any, ...], tuple[int, dict[str, Any]]]:
    """The stored rows (in ``scope``) whose keys are the keys of ``rows``, by key."""
    if len(key_columns) == 1:
        column = key_columns[0]
        match = table.c[column].in_([values[column] for values in rows])
    else:
        match = tuple_(*(table.c[c] for c in key_columns)).in_(
            [tuple(values[c] for c in key_columns) for values in rows]
        )
    return _existing(session, table, key_columns, rows[0].keys(), and_(scope, match))


def _write_batch(
    session: Session,
    table: Table,
    key_columns: tuple[str, ...],
    rows: list[dict[str, Any]],
    report: ImportReport,
    scope: Any,
) -> None:
    """Upsert one batch of checked rows whose keys are unique in the file."""
    if rows:
        existing = _stored_of(session, table, key_columns, rows, scope)
        _upsert(session, table, key_columns, rows, existing, report)
