"""``flask --app kiosk users ...``: create the first admin and manage back-office accounts."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import USER_ROLES, Hall, User
from kiosk.services.accounts import AccountError, create_user, set_password, unlock_user
from kiosk.services.halls import HallNotFound, resolve_hall

users_cli = AppGroup("users", help="Back-office accounts (admin, leader, duty, unit).")


def _hall_for(role: str, hall_code: str | None) -> Hall | None:
    """The hall named, or the only one; an admin may have none (e.g. before any import)."""
    if hall_code is None and role == "admin":
        halls = db.session.scalars(select(Hall).order_by(Hall.code)).all()
        # An admin of a one-hall database belongs to it; with none or several, to all.
        return halls[0] if len(halls) == 1 else None
    return resolve_hall(db.session, hall_code)


@users_cli.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(USER_ROLES), help="The user's role.")
@click.option("--unit", "unit_code", help="Unit code (unit viewers only).")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@click.option("--name", "display_name", default="", help="Name shown in the back office.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Initial password (prompted for when not given).",
)
def add_user(
    username: str,
    role: str,
    unit_code: str | None,
    hall_code: str | None,
    display_name: str,
    password: str,
) -> None:
    """Create the back-office user USERNAME."""
    try:
        hall = _hall_for(role, hall_code)
        user = create_user(
            db.session,
            username=username,
            password=password,
            role=role,
            hall=hall,
            unit_code=unit_code,
            display_name=display_name,
        )
    except (AccountError, HallNotFound) as exc:
        db.session.rollback()
        click.echo(f"error: {exc}; nothing was changed.", err=True)
        sys.exit(1)
    db.session.commit()
    where = f" in hall {hall.code}" if hall else ""
    click.echo(f"created user {user.username} ({role}){where}")


@users_cli.command("list")
def list_users() -> None:
    """List the back-office users."""
    rows = db.session.execute(
        select(User.username, User.role, Hall.code, User.active, User.locked_until)
        .outerjoin(Hall, Hall.id == User.hall_id)
        .order_by(User.username)
    ).all()
    for username, role, hall, active, locked_until in rows:
        state = "active" if active else "inactive"
        if locked_until is not None:
            state += f", locked until {locked_until.isoformat(timespec='seconds')}Z"
        click.echo(f"{username}\t{role}\t{hall or '*'}\t{state}")


def _get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        click.echo(f'error: no user "{username}"', err=True)
        sys.exit(1)
    return user


@users_cli.command("unlock")
@click.argument("username")
@click.option("--reason", required=True, help="Why the lockout is lifted (audited).")
def unlock(username: str, reason: str) -> None:
    """Lift the sign-in lockout of USERNAME."""
    user = _get_user(username)
    unlock_user(db.session, user, actor_id=None, reason=reason)
    db.session.commit()
    click.echo(f"unlocked {username}")


@users_cli.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--reason", default="password reset from the command line")
def password(username: str, password: str, reason: str) -> None:
    """Set a new password for USERNAME."""
    user = _get_user(username)
    try:
        set_password(db.session, user, password, actor_id=None, reason=reason)
    except AccountError as exc:
        db.session.rollback()
        click.echo(f"error: {exc}; nothing was changed.", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"password of {username} changed")
