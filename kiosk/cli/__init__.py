"""Command-line interface: ``flask --app kiosk import|export|demo``.

Each command group of the other packages registers itself from :func:`register_cli`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from kiosk.extensions import db
from kiosk.interchange import (
    EXPORT_HEADER,
    KINDS,
    ImportFailed,
    export_rows,
    import_file,
    write_csv,
)
from kiosk.models import Hall
from kiosk.secret_key import install_key_file
from kiosk.services.halls import HallNotFound, resolve_hall
from kiosk.textlimits import DAY_RANGE, day_in_range


def hall_or_exit(code: str | None) -> Hall:
    """The hall named by ``code`` (or the only one); otherwise say why on stderr and exit 1."""
    try:
        return resolve_hall(db.session, code)
    except HallNotFound as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def import_command(kind: str, file: Path, hall_code: str | None) -> None:
    """Import FILE of KIND; all or nothing, bad rows named by line and column."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        sys.exit(1)
    try:
        report = import_file(
            db.session,
            kind,
            data,
            hall_code,
            source_name=file.name,
            lock_wait=float(current_app.config["IMPORT_LOCK_WAIT"]),
        )
    except ImportFailed as exc:
        click.echo(f"error: {file} was not imported; nothing was changed.", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    except HallNotFound as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(report.summary())
    for note in report.notes:
        click.echo(f"  {note}")


def _parse_day(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f'"{value}" is not a date YYYY-MM-DD', param_hint=name) from None
    if not day_in_range(day):
        # Year 1 or 9999 would overflow when the day's bounds are moved to UTC.
        raise click.BadParameter(f'"{value}" is outside {DAY_RANGE}', param_hint=name)
    return day


@click.command("export")
@click.argument("kind", type=click.Choice(tuple(EXPORT_HEADER)))
@click.option("--from", "first", help="First local date, YYYY-MM-DD (inclusive).")
@click.option("--to", "last", help="Last local date, YYYY-MM-DD (inclusive).")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def export_command(kind: str, first: str | None, last: str | None, hall_code: str | None) -> None:
    """Write KIND as CSV to standard output, in the columns import reads."""
    first_day, last_day = _parse_day(first, "--from"), _parse_day(last, "--to")
    if first_day and last_day and last_day < first_day:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    hall = hall_or_exit(hall_code)
    write_csv(export_rows(db.session, kind, hall, first_day, last_day), sys.stdout)


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


def register_cli(app: Flask) -> None:
    """Register every command group of the service on ``app``."""
    app.cli.add_command(_db_group_that_creates_the_key())
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    from kiosk.cli.score import register_cli as register_score_cli

    register_score_cli(app)
    from kiosk.cli.devices import devices_cli

    app.cli.add_command(devices_cli)
    from kiosk.demo import demo_command

    app.cli.add_command(demo_command)
    from kiosk.cli.users import users_cli

    app.cli.add_command(users_cli)
    from kiosk.cli.terminals import terminals_group

    app.cli.add_command(terminals_group)
