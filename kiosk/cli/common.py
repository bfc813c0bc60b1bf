"""What every command of :mod:`kiosk.cli` shares: finding the hall, refusing with a message."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from kiosk.extensions import db
from kiosk.interchange import HallNotFound, resolve_hall
from kiosk.models import Hall


def fail(message: str) -> NoReturn:
    """Refuse: message on stderr, exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def hall_or_exit(code: str | None) -> Hall:
    """The hall named by ``code`` (or the only one); otherwise say why on stderr and exit 1."""
    try:
        return resolve_hall(db.session, code)
    except HallNotFound as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
