"""``flask --app kiosk ratings defaults``: default ratings of unrated case sessions (SPEC 4.2).

Run it daily (cron or a systemd timer, see the README); ``demo serve`` runs it at start.
Running it twice adds nothing the second time.
"""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from kiosk.cli.common import hall_or_exit
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_storage
from kiosk.models import Hall, utcnow
from kiosk.rules.settings import default_after_days
from kiosk.services.badreviews import apply_default_ratings

__all__ = ["ratings_cli", "run_defaults"]


@click.group("ratings")
def ratings_cli() -> None:
    """Ratings maintenance (default ratings)."""


def _as_of(value: str | None, hall: Hall) -> dt.datetime:
    """``--as-of`` as naive UTC (an instant without offset is hall-local time)."""
    if value is None:
        return utcnow()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f'"{value}" is not an ISO 8601 instant, e.g. 2026-11-05T12:00:00+08:00',
            param_hint="--as-of",
        ) from None
    if not 2000 <= parsed.year <= 2099:
        raise click.BadParameter("must be between 2000 and 2099", param_hint="--as-of")
    return to_storage(parsed, hall_zone(hall.timezone))


def run_defaults(halls: list[Hall], as_of: dt.datetime) -> list[tuple[Hall, int]]:
    """Apply the default ratings of each hall as of ``as_of`` (naive UTC) and commit."""
    done = []
    for hall in halls:
        done.append((hall, apply_default_ratings(db.session, hall, as_of)))
    db.session.commit()
    return done


@ratings_cli.command("defaults")
@click.option("--as-of", "as_of", help="Instant to apply them at (ISO 8601; default now).")
@click.option("--hall", "hall_code", help="Only this hall (default: every hall).")
@with_appcontext
def defaults_command(as_of: str | None, hall_code: str | None) -> None:
    """Give each case session unrated after [ratings] default_after_days its default rating."""
    if hall_code is not None:
        halls = [hall_or_exit(hall_code)]
    else:
        halls = list(db.session.scalars(select(Hall).order_by(Hall.code)))
    if not halls:
        click.echo("no hall yet: import a hall.toml first", err=True)
        return
    # One --as-of for every hall: parsed in the first hall's zone when it has no offset.
    instant = _as_of(as_of, halls[0])
    for hall, count in run_defaults(halls, instant):
        days = default_after_days(hall.settings)
        if days <= 0:
            click.echo(f"{hall.code}: default ratings are off ([ratings] default_after_days = 0)")
        else:
            click.echo(f"{hall.code}: {count} default rating(s) added (after {days} days)")
