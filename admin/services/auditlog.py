"""Reading the audit log (it is written only through :func:`kiosk.services.audit.record`)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, to_local
from kiosk.models import AuditEntry, Hall, User

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit entry ready for display."""

    id: int
    at_local: dt.datetime
    username: str
    action: str
    object_type: str
    object_id: str | None
    before: str
    after: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of audit entries, newest first, and whether there are more."""

    lines: list[AuditLine]
    page: int
    pages: int
    total: int
    actions: list[str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_page(
    session: Session,
    hall: Hall,
    *,
    page: int = 1,
    action: str | None = None,
    object_type: str | None = None,
) -> AuditPage:
    """Entries of ``hall`` (and hall-less ones, e.g. user accounts), filtered, newest first."""
    conditions = [(AuditEntry.hall_id == hall.id) | (AuditEntry.hall_id.is_(None))]
    if action:
        conditions.append(AuditEntry.action.startswith(action, autoescape=True))
    if object_type:
        conditions.append(AuditEntry.object_type == object_type)
    total = session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    zone = hall_zone(hall.timezone)
    rows = session.execute(
        select(AuditEntry, User.username)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    actions = list(
        session.scalars(
            select(AuditEntry.action).where(conditions[0]).distinct().order_by(AuditEntry.action)
        )
    )
    return AuditPage(
        [
            AuditLine(
                entry.id,
                to_local(entry.at, zone),
                username or "system",
                entry.action,
                entry.object_type,
                entry.object_id,
                _text(entry.before),
                _text(entry.after),
                entry.reason,
            )
            for entry, username in rows
        ],
        page,
        pages,
        total,
        actions,
    )
