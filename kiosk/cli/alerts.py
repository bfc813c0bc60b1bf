"""``flask --app kiosk alerts``: the alerts open at an instant (SPEC 12)."""

from __future__ import annotations

import datetime as dt
import json

import click
from flask.cli import with_appcontext

from kiosk.cli.common import hall_or_exit
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_storage
from kiosk.models import utcnow
from kiosk.services.alerts import as_json, hall_alerts

LABELS = {
    "bad_burst": "差评集中",
    "reader_offline": "指纹机离线",
    "no_am_in": "上午未打卡",
    "callback_due": "差评回访临期",
    "rectify_due": "差评整改临期",
    "case_due": "办件临期",
}


def _instant(value: str | None) -> dt.datetime | None:
    """An ISO 8601 instant (a naive one is hall-local time); None for "now"."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f'"{value}" is not an ISO 8601 instant, e.g. 2026-11-05T09:00:00+08:00',
            param_hint="--as-of",
        ) from None
    if not 2000 <= when.year <= 2099:
        raise click.BadParameter("the year must be 2000–2099", param_hint="--as-of")
    return when


@click.command("alerts")
@click.option("--as-of", "as_of", help="Instant to compute the alerts at (ISO 8601; default now).")
@click.option("--hall", "hall_code", help="Hall code (needed when the database has several).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints the SPEC 12 list of open alerts.",
)
@with_appcontext
def alerts_command(as_of: str | None, hall_code: str | None, output: str) -> None:
    """The alerts open at --as-of (default now), computed from the data alone."""
    when = _instant(as_of)
    hall = hall_or_exit(hall_code)
    now = utcnow() if when is None else to_storage(when, hall_zone(hall.timezone))
    items = [as_json(alert, hall) for alert in hall_alerts(db.session, hall, now)]
    db.session.rollback()  # read only
    if output == "json":
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items:
        click.echo("没有未处理的预警。")
    for item in items:
        about = " ".join(
            str(item[key])
            for key in ("device", "rating_id", "case_no", "window", "staff_no")
            if key in item
        ) or "、".join(item.get("staff", []))
        click.echo(f"{item['since']}  {LABELS[item['code']]}  {about}")
