"""``flask --app kiosk import|export``: the interchange files of SPEC section 6, and
``export bundle``: a publication's bundle (SPEC 13)."""

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
from kiosk.services import bundle, publishing
from kiosk.services.errors import Refused
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
@click.argument("kind", type=click.Choice(("hall", *EXPORT_HEADER, "bundle")))
@click.argument("period", required=False)
@click.option("--from", "first", help="First local date, YYYY-MM-DD (inclusive).")
@click.option("--to", "last", help="Last local date, YYYY-MM-DD (inclusive).")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@click.option(
    "--revision", type=click.IntRange(1, 10_000), help="bundle: the revision (default the latest)."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="bundle: the zip file to write.",
)
@with_appcontext
def export_command(
    kind: str,
    period: str | None,
    first: str | None,
    last: str | None,
    hall_code: str | None,
    revision: int | None,
    output: Path | None,
) -> None:
    """Write KIND as CSV to standard output, in the columns import reads (``hall``: the
    hall.toml that imports back to the same hall, units and windows).

    ``export bundle PERIOD [--revision N] --output FILE.zip`` writes a publication's
    bundle instead (SPEC 13): its frozen inputs, rules.toml, result.json, MANIFEST.json.
    """
    if kind == "bundle":
        if first or last:
            raise click.BadParameter("a bundle has no --from/--to", param_hint="--from")
        _export_bundle(period, revision, hall_code, output)
        return
    if period is not None or revision is not None or output is not None:
        raise click.UsageError("PERIOD, --revision and --output are for export bundle only")
    first_day, last_day = _parse_day(first, "--from"), _parse_day(last, "--to")
    if first_day and last_day and last_day < first_day:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    hall = hall_or_exit(hall_code)
    if kind == "hall":
        click.echo(hall_file_text(hall), nl=False)
        return
    write_csv(export_rows(db.session, kind, hall, first_day, last_day), sys.stdout)


def _export_bundle(
    period: str | None, revision: int | None, hall_code: str | None, output: Path | None
) -> None:
    """Write the bundle of a publication (the latest revision unless ``revision``)."""
    if not period:
        raise click.UsageError("export bundle needs PERIOD (YYYY-Bn)")
    if output is None:
        raise click.UsageError("export bundle needs --output FILE.zip")
    hall = hall_or_exit(hall_code)
    try:
        code = publishing.parse_period(period).code
    except Refused as exc:
        raise click.BadParameter(exc.message, param_hint="PERIOD") from None
    rows = publishing.revisions(db.session, hall, code)
    chosen = [r for r in rows if revision is None or r.revision == revision]
    if not chosen:
        which = f"revision {revision} of " if revision else ""
        fail(f"{which}{code} is not published in {hall.code}")
    try:
        data = bundle.bundle_zip(db.session, hall, chosen[-1])
    except Refused as exc:
        fail(exc.message)
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    click.echo(f"wrote {output} ({code} revision {chosen[-1].revision}, {len(data)} bytes)")
