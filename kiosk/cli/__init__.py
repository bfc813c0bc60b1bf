"""Command-line interface: every ``flask --app kiosk ...`` command lives in this package.

One module per command group (``interchange``, ``db``, ``score``, ``publish``, ``devices``,
``terminals``, ``users``, ``demo``, ``ratings``, ``alerts``, ``push``); what they share is
in :mod:`kiosk.cli.common`, which
imports no command module, so there is no cycle. :func:`register_cli` attaches them all.
"""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    """Register every command group of the service on ``app``."""
    from kiosk.cli.db import _db_group_that_creates_the_key
    from kiosk.cli.interchange import export_command, import_command

    app.cli.add_command(_db_group_that_creates_the_key())
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    from kiosk.cli.score import register_cli as register_score_cli

    register_score_cli(app)
    from kiosk.cli.devices import devices_cli

    app.cli.add_command(devices_cli)
    from kiosk.cli.publish import publish_command

    app.cli.add_command(publish_command)
    from kiosk.cli.demo import demo_command

    app.cli.add_command(demo_command)
    from kiosk.cli.users import users_cli

    app.cli.add_command(users_cli)
    from kiosk.cli.terminals import terminals_group

    app.cli.add_command(terminals_group)
    from kiosk.cli.ratings import ratings_cli

    app.cli.add_command(ratings_cli)
    from kiosk.cli.alerts import alerts_command

    app.cli.add_command(alerts_command)
    from kiosk.cli.push import push_group

    app.cli.add_command(push_group)
