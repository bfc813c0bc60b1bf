"""``flask --app kiosk import|export``: the interchange files of SPEC section 6."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from kiosk.cli.common import fail, hall_or_exit
from kiosk.extensions import db
from kiosk.interchange import (
    EXPORT_HEADER,
    KINDS,
    ImportFailed,
    export_rows,
    import_file,
    write_csv,
)
from kiosk.interchange.hallfile import hall_file_text
from kiosk.services.halls import HallNotFound
from kiosk.textlimits import DAY_RANGE, day_in_range


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
        fail(f"cannot read {file}: {exc.strerror}")
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
        fail(str(exc))
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
@click.argument("kind", type=click.Choice(("hall", *EXPORT_HEADER)))
@click.option("--from", "first", help="First local date, YYYY-MM-DD (inclusive).")
@click.option("--to", "last", help="Last local date, YYYY-MM-DD (inclusive).")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@with_appcontext
def export_command(kind: str, first: str | None, last: str | None, hall_code: str | None) -> None:
    """Write KIND as CSV to standard output, in the columns import reads (``hall``: the
    hall.toml that imports back to the same hall, units and windows)."""
    first_day, last_day = _parse_day(first, "--from"), _parse_day(last, "--to")
    if first_day and last_day and last_day < first_day:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    hall = hall_or_exit(hall_code)
    if kind == "hall":
        click.echo(hall_file_text(hall), nl=False)
        return
    write_csv(export_rows(db.session, kind, hall, first_day, last_day), sys.stdout)
