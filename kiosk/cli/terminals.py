"""``flask --app kiosk terminals add|list|revoke``: counter terminals and their keys (SPEC 9).

A key is printed once by ``add`` and stored only as a hash; a lost key is replaced by
revoking the terminal and adding a new one.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from kiosk.cli.common import add_audited, audited_commit, fail, hall_or_exit
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_aware
from kiosk.models import Terminal, Window
from kiosk.services.ratings import issue_key

NAME_MAX = 64


@click.group("terminals")
def terminals_group() -> None:
    """Counter terminals (touch screens, evaluator pads) and their API keys."""


@terminals_group.command("add")
@click.argument("name")
@click.option("--window", "window_code", required=True, help="Window code the terminal serves.")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def add_command(name: str, window_code: str, hall_code: str | None) -> None:
    """Add terminal NAME at a window and print its key (shown this once only)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        fail(f"a terminal name needs 1 to {NAME_MAX} characters")
    hall = hall_or_exit(hall_code)
    window = db.session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == window_code)
    )
    if window is None:
        known = ", ".join(w.code for w in hall.windows) or "none"
        fail(f'unknown window "{window_code}" in hall {hall.code} (known: {known})')
    if db.session.scalar(
        select(Terminal.id).where(Terminal.hall_id == hall.id, Terminal.name == name)
    ):
        fail(
            f'hall {hall.code} already has a terminal named "{name}" '
            "(names stay taken after a revoke: choose another name)"
        )
    issued = issue_key()
    add_audited(
        Terminal(
            hall_id=hall.id,
            window_id=window.id,
            name=name,
            key_id=issued.key_id,
            key_hash=issued.key_hash,
            active=True,
        ),
        action="terminal.add",
        hall_id=hall.id,
        after={"name": name, "window": window.code, "key_id": issued.key_id},
    )
    click.echo(f'Terminal "{name}" added at window {window.code} ({window.name}).')
    click.echo("Its key, shown only this once (store it in the terminal now):")
    click.echo(issued.key)


@terminals_group.command("list")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def list_command(hall_code: str | None) -> None:
    """List the hall's terminals: name, window, key id, state and when last seen."""
    hall = hall_or_exit(hall_code)
    zone = hall_zone(hall.timezone)
    rows = db.session.execute(
        select(Terminal, Window.code)
        .join(Window, Window.id == Terminal.window_id)
        .where(Terminal.hall_id == hall.id)
        .order_by(Terminal.name)
    ).all()
    if not rows:
        click.echo(f"No terminals in hall {hall.code}.")
        return
    click.echo("name\twindow\tkey_id\tstate\tlast_seen")
    for terminal, window_code in rows:
        seen = (
            to_aware(terminal.last_seen, zone).isoformat(timespec="seconds")
            if terminal.last_seen
            else "-"
        )
        state = "active" if terminal.active else "revoked"
        click.echo(f"{terminal.name}\t{window_code}\t{terminal.key_id}\t{state}\t{seen}")


@terminals_group.command("revoke")
@click.argument("name")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def revoke_command(name: str, hall_code: str | None) -> None:
    """Revoke terminal NAME: its key stops working at once (also a signed-in counter page)."""
    hall = hall_or_exit(hall_code)
    terminal = db.session.scalar(
        select(Terminal).where(Terminal.hall_id == hall.id, Terminal.name == name)
    )
    if terminal is None:
        known = ", ".join(
            db.session.scalars(
                select(Terminal.name).where(Terminal.hall_id == hall.id).order_by(Terminal.name)
            )
        )
        fail(f'no terminal "{name}" in hall {hall.code} (known: {known or "none"})')
    if not terminal.active:
        click.echo(f'Terminal "{name}" was already revoked; nothing changed.')
        return
    terminal.active = False
    audited_commit(
        action="terminal.revoke",
        object_id=terminal.id,
        hall_id=hall.id,
        before={"active": True},
        after={"active": False},
    )
    click.echo(f'Terminal "{name}" revoked.')
