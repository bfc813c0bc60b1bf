"""``flask --app kiosk publish PERIOD``: publish a period as the back office does (SPEC 13).

The command reviews and publishes in one step: it computes the period at ``--as-of``
and hands that computation's inputs digest to the same service call the back office's
publish makes (:func:`kiosk.services.publishing.publish`), as the user named by
``--by``, so the publication, its frozen bundle inputs and its audit row are the same.
A period published before gets a new revision, which needs ``--reason``.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import with_appcontext

from kiosk.extensions import db
from kiosk.localtime import hall_zone
from kiosk.rules.scoring import AsOfBeforePeriod
from kiosk.services import publishing
from kiosk.services.errors import Refused
from kiosk.services.halls import HallNotFound, resolve_hall
from kiosk.services.rulefile import rules_in_force
from kiosk.textlimits import control_character, day_in_range

__all__ = ["publish_command"]


def _refuse(message: str) -> NoReturn:
    """A refused publication: nothing stored, the reason on stderr, exit 2."""
    db.session.rollback()
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _as_of(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        _refuse(
            f'--as-of "{value[:40]}" is not an ISO 8601 instant, e.g. 2026-11-05T12:00:00+08:00'
        )
    if not day_in_range(when.date()):
        _refuse(f'--as-of "{value[:40]}" is outside 2000-01-01 to 2099-12-31')
    return when


@click.command("publish")
@click.argument("period")
@click.option("--as-of", "as_of", required=True, help="Instant the period is scored at (ISO 8601).")
@click.option("--by", "username", required=True, help="The leader (or admin) who publishes.")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@click.option("--reason", help="Why a revision is published (required for a revision).")
@with_appcontext
def publish_command(
    period: str, as_of: str, username: str, hall_code: str | None, reason: str | None
) -> None:
    """Publish PERIOD (YYYY-Bn) frozen, as the back office's publish does."""
    when = _as_of(as_of)
    for name, text in (("--by", username), ("--reason", reason or "")):
        if control_character(text):
            _refuse(f"{name} contains a control character ({control_character(text)})")
    try:
        hall = resolve_hall(db.session, hall_code)
    except HallNotFound as exc:
        _refuse(str(exc))
    rules = rules_in_force(current_app.config)
    try:
        user = publishing.publisher(db.session, hall, username)
        scored = publishing.parse_period(period)
        aware = when if when.tzinfo else when.replace(tzinfo=hall_zone(hall.timezone))
        review = publishing.compute(db.session, hall, scored, aware, rules)
        row = publishing.publish(
            db.session,
            hall,
            period_code=scored.code,
            as_of=aware,
            reviewed_inputs_sha256=review.inputs_sha256,
            reason=reason,
            user_id=user.id,
            rules=rules,
        )
    except AsOfBeforePeriod as exc:
        _refuse(str(exc))
    except Refused as exc:
        _refuse(exc.message)
    db.session.commit()
    click.echo(
        f"published {row.period} revision {row.revision} of {hall.code} as of "
        f"{publishing.as_of_local(row, hall).isoformat()} by {user.username}; "
        f"result sha256 {row.sha256}"
    )
