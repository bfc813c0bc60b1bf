"""One import, all or nothing, one at a time: the lock, the kind's importer, the audit row."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from kiosk.interchange.columns import KINDS
from kiosk.interchange.kinds import (
    _import_punches,
    _import_roster,
    _Keyed,
    _parse_absence,
    _parse_case,
    _parse_event,
    _parse_rating,
    import_hall,
)
from kiosk.interchange.report import ImportFailed, ImportReport
from kiosk.interchange.rows import _read_rows
from kiosk.localtime import hall_zone
from kiosk.models import (
    Absence,
    AuditEntry,
    Case,
    Event,
    Rating,
)
from kiosk.services.halls import resolve_hall

# The message of an import that found another one running (and waited IMPORT_LOCK_WAIT).
IMPORT_BUSY = "另一个导入正在进行，请稍后再试 (another import is running; try again later)"
# Seconds an import waits for a running one to finish before it is refused.
DEFAULT_LOCK_WAIT = 10.0
# PostgreSQL advisory lock key that every import takes (the bytes of "kiosk-im").
IMPORT_LOCK_KEY = int.from_bytes(b"kiosk-im", "big") >> 1


_IMPORTERS: dict[str, Callable[..., None]] = {
    "roster": _import_roster,
    "punches": _import_punches,
    "ratings": _Keyed(_parse_rating, Rating.__table__, ("rating_id",), "rating_id"),
    "cases": _Keyed(_parse_case, Case.__table__, ("case_no",), "case_no"),
    "absences": _Keyed(
        _parse_absence,
        Absence.__table__,
        ("staff_id", "kind", "start"),
        "staff_no + kind + start",
        hall_scoped=False,
    ),
    "events": _Keyed(_parse_event, Event.__table__, ("event_id",), "event_id"),
}


def take_import_lock(session: Session, wait: float) -> None:
    """Begin the import's transaction holding the one import lock, or raise ImportFailed.

    Imports run one at a time: two at once would both read "not there yet" and write the
    same rows (PostgreSQL) or fail to upgrade a stale read to a write (SQLite). The lock
    is held until the transaction ends, so a crashed import never leaves it behind: on
    PostgreSQL a transaction-level advisory lock, on SQLite the database's write lock
    (``BEGIN IMMEDIATE``). The second import waits up to ``wait`` seconds, then is refused.
    """
    conn = session.connection()
    deadline = time.monotonic() + wait
    if conn.dialect.name == "postgresql":
        try_lock = text("SELECT pg_try_advisory_xact_lock(:key)")
        while not conn.execute(try_lock, {"key": IMPORT_LOCK_KEY}).scalar():
            if time.monotonic() >= deadline:
                raise ImportFailed([IMPORT_BUSY])
            time.sleep(0.05)
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is None or raw.in_transaction:
            return  # this transaction already writes, so it holds the write lock
        previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout = {max(0, int(wait * 1000))}")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise ImportFailed([IMPORT_BUSY]) from None
            raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(previous)}")


def import_file(
    session: Session,
    kind: str,
    data: bytes,
    hall_code: str | None = None,
    source_name: str | None = None,
    user_id: int | None = None,
    lock_wait: float = DEFAULT_LOCK_WAIT,
) -> ImportReport:
    """Import one file, all or nothing; commit on success, roll back and raise on failure.

    Only one import runs at a time; another one waits up to ``lock_wait`` seconds for it
    (see :func:`take_import_lock`) and is then refused with :data:`IMPORT_BUSY`.
    """
    if kind not in KINDS:
        raise ImportFailed([f'unknown kind "{kind}" (one of {", ".join(KINDS)})'])
    try:
        take_import_lock(session, lock_wait)
        if kind == "hall":
            hall, report = import_hall(session, data)
        else:
            hall = resolve_hall(session, hall_code)
            index, rows = _read_rows(data, kind)
            report = ImportReport(kind)
            _IMPORTERS[kind](session, hall, index, rows, hall_zone(hall.timezone), report)
            report.rows = rows.count
        if report.inserted or report.updated:
            session.add(
                AuditEntry(
                    user_id=user_id,
                    hall_id=hall.id,
                    action="import",
                    object_type=kind,
                    object_id=None,
                    before=None,
                    after={
                        "rows": report.rows,
                        "inserted": report.inserted,
                        "updated": report.updated,
                    },
                    reason=source_name,
                )
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return report
