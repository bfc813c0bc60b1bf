"""Counter terminals of a hall and their keys (SPEC 9, 10 ``/admin/terminals``).

The same rules as ``flask --app kiosk terminals add|list|revoke``: a name of 1 to 64
characters, unique in the hall for good (a revoked name stays taken), a window of the
hall; the key is issued by :func:`kiosk.services.ratings.issue_key`, returned once and
stored only as its hash. Every change is audited with before and after; the caller
commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, Terminal, Window
from kiosk.services import audit
from kiosk.services.errors import Invalid
from kiosk.services.ratings import IssuedKey, issue_key
from kiosk.textlimits import control_character

__all__ = ["NAME_MAX", "TerminalError", "TerminalLine", "add_terminal", "revoke", "terminals_of"]

NAME_MAX = 64


class TerminalError(Invalid):
    """A refused terminal change; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str, code: str = "invalid") -> None:
        super().__init__(message, code)
        self.field = field


@dataclass(frozen=True)
class TerminalLine:
    """One terminal as the list shows it (times in hall-local time)."""

    id: int
    name: str
    window_code: str
    window_name: str
    key_id: str
    active: bool
    created_at: dt.datetime
    last_seen: dt.datetime | None


def terminals_of(session: Session, hall: Hall) -> list[TerminalLine]:
    """The hall's terminals, active ones first, then by name."""
    zone = hall_zone(hall.timezone)
    rows = session.execute(
        select(Terminal, Window.code, Window.name)
        .join(Window, Window.id == Terminal.window_id)
        .where(Terminal.hall_id == hall.id)
        .order_by(Terminal.active.desc(), Terminal.name)
    ).all()
    return [
        TerminalLine(
            t.id,
            t.name,
            code,
            name,
            t.key_id,
            bool(t.active),
            to_local(t.created_at, zone),
            to_local(t.last_seen, zone) if t.last_seen else None,
        )
        for t, code, name in rows
    ]


def add_terminal(
    session: Session, hall: Hall, *, name: str, window_code: str, user_id: int | None
) -> tuple[Terminal, IssuedKey]:
    """Register a terminal at a window of ``hall``; returns it with its key (shown once)."""
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise TerminalError(_("终端名称应为 1 至 %(n)s 个字符。", n=NAME_MAX), "name")
    if control_character(name):
        raise TerminalError(_("终端名称不能包含控制字符。"), "name")
    window = session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == (window_code or "").strip())
    )
    if window is None:
        raise TerminalError(_("本中心没有这个窗口。"), "window_code")
    if session.scalar(
        select(Terminal.id).where(Terminal.hall_id == hall.id, Terminal.name == name)
    ):
        raise TerminalError(
            _("本中心已有名为“%(name)s”的终端（停用后名称仍被占用），请另取名称。", name=name),
            "name",
            "conflict",
        )
    issued = issue_key()
    terminal = Terminal(
        hall_id=hall.id,
        window_id=window.id,
        name=name,
        key_id=issued.key_id,
        key_hash=issued.key_hash,
        active=True,
    )
    session.add(terminal)
    session.flush()
    audit.record(
        session,
        action="terminal.add",
        object_type="terminal",
        object_id=terminal.id,
        user_id=user_id,
        hall_id=hall.id,
        after={"name": name, "window": window.code, "key_id": issued.key_id},
    )
    return terminal, issued


def revoke(
    session: Session, hall: Hall, terminal_id: int | None, *, user_id: int | None, reason: str
) -> Terminal:
    """Revoke a terminal of ``hall``: its key (and a counter page signed in with it) stops
    working at once. Refused for an unknown or already revoked terminal."""
    terminal = session.get(Terminal, terminal_id) if terminal_id else None
    if terminal is None or terminal.hall_id != hall.id:
        raise TerminalError(_("没有这个终端。"), "terminal_id", "not_found")
    if not terminal.active:
        raise TerminalError(_("该终端已停用，无需再次停用。"), "terminal_id", "conflict")
    terminal.active = False
    audit.record(
        session,
        action="terminal.revoke",
        object_type="terminal",
        object_id=terminal.id,
        user_id=user_id,
        hall_id=hall.id,
        before={"name": terminal.name, "active": True},
        after={"name": terminal.name, "active": False},
        reason=reason,
    )
    return terminal
