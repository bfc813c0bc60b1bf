"""What every command of :mod:`kiosk.cli` shares: finding the hall, refusing, auditing.

A command is its own unit of work: it commits (services never do), and every change it
makes is audited as made by the command line (no signed-in user).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn, Protocol, TypeVar

import click

from kiosk.extensions import db
from kiosk.models import Hall
from kiosk.services import audit
from kiosk.services.halls import HallNotFound, resolve_hall


class _Row(Protocol):
    id: Any


RowT = TypeVar("RowT", bound=_Row)


def fail(message: str) -> NoReturn:
    """Refuse: message on stderr, exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def hall_or_exit(code: str | None) -> Hall:
    """The hall named by ``code`` (or the only one); otherwise say why on stderr and exit 1."""
    try:
        return resolve_hall(db.session, code)
    except HallNotFound as exc:
        fail(str(exc))


def audited_commit(
    *,
    action: str,
    object_id: int,
    hall_id: int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Audit the change the command made (``device.add``: object type ``device``) and commit."""
    audit.record(
        db.session,
        action=action,
        object_type=action.partition(".")[0],
        object_id=object_id,
        user_id=None,
        hall_id=hall_id,
        before=before,
        after=after,
        reason=reason,
    )
    db.session.commit()


def add_audited(
    row: RowT, *, action: str, hall_id: int, after: dict[str, Any], reason: str | None = None
) -> RowT:
    """Create ``row``, audit its creation and commit; returns the row, now with its id."""
    db.session.add(row)
    db.session.flush()
    audited_commit(action=action, object_id=row.id, hall_id=hall_id, after=after, reason=reason)
    return row
