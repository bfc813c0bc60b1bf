"""The append-only audit log: every change a person makes is written here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from kiosk.models import AuditEntry


def _jsonable(value: Any) -> Any:
    """Dates and times as ISO text, so before/after snapshots fit a JSON column."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def record(
    session: Session | scoped_session[Any],
    *,
    action: str,
    object_type: str,
    object_id: str | int | None,
    user_id: int | None,
    hall_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``; it commits with the change it describes."""
    entry = AuditEntry(
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        user_id=user_id,
        hall_id=hall_id,
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )
    session.add(entry)
    return entry
