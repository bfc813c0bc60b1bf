"""``flask --app kiosk db ...``: Flask-Migrate's commands; ``upgrade`` creates the signing key."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.secret_key import install_key_file


def announce_key_file(app: Flask) -> None:
    """Create the instance's key file when the app has no key yet, and say so (SPEC 8)."""
    created = install_key_file(app)
    if created is not None:
        click.echo(
            f"created {created} (the signing key of sessions: readable by its owner only; "
            "every process of this hall reads it, keep it when moving the instance)",
            err=True,
        )


def _db_group_that_creates_the_key() -> click.Group:
    """Flask-Migrate's ``db`` group whose ``upgrade`` first creates ``instance/secret_key``.

    ``db upgrade`` is the first command of a new instance (SPEC 8), so it provides the
    key the web service will refuse to start without.
    """
    from flask_migrate.cli import db as migrate_db

    original = migrate_db.commands["upgrade"]

    @click.pass_context
    def upgrade_with_key(ctx: click.Context, /, **kwargs: object) -> None:
        announce_key_file(current_app._get_current_object())  # type: ignore[attr-defined]
        ctx.invoke(original.callback, **kwargs)  # type: ignore[arg-type]

    upgrade_command = click.Command(
        "upgrade",
        params=list(original.params),
        callback=with_appcontext(upgrade_with_key),
        help=(original.help or "") + "\n\nCreates instance/secret_key when no key is set.",
        short_help=original.short_help,
    )
    return click.Group(
        "db",
        commands={**migrate_db.commands, "upgrade": upgrade_command},
        params=list(migrate_db.params),
        callback=migrate_db.callback,
        help=migrate_db.help,
    )
