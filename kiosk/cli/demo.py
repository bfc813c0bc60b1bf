"""``flask --app kiosk demo load|serve``: the demo hall, and the whole service running with it.

The data come from :mod:`kiosk.demo` (generated, then loaded through the ordinary import);
the rows ``serve`` adds (the emulated reader, the counter pad's key) are audited like
``devices add`` and ``terminals add``; the processes run in :mod:`kiosk.demo.serve`.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from kiosk.cli.common import add_audited, audited_commit
from kiosk.cli.db import announce_key_file
from kiosk.demo.hall import DEMO_HALL, DEMO_PASSWORD, DEMO_USERS
from kiosk.demo.load import load_demo
from kiosk.extensions import db
from kiosk.models import Device, DeviceTemplate, Hall, Staff, Terminal, Window
from kiosk.services.ratings import issue_key

# Template pages of the emulated reader, mapped to the first staff by number.
DEMO_READER_PAGES = 70


@click.group("demo")
def demo_command() -> None:
    """The demo hall: load it, or run the whole service with it."""


@demo_command.command("load")
@click.option("--seed", default=2026, show_default=True, help="Random seed of the generator.")
@with_appcontext
def demo_load(seed: int) -> None:
    """Load (or top up) the demo hall into the database."""
    announce_key_file(current_app._get_current_object())  # type: ignore[attr-defined]
    for summary in load_demo(seed=seed):
        click.echo(summary)
    click.echo(f"users: {', '.join(u[0] for u in DEMO_USERS)} (password {DEMO_PASSWORD})")


def _demo_hall() -> Hall:
    """The demo hall (``load_demo`` has just loaded it)."""
    hall = db.session.scalar(select(Hall).where(Hall.code == DEMO_HALL))
    assert hall is not None
    return hall


def _ensure_demo_reader(link: Path, pages: int) -> str:
    """A device row for the emulated entrance reader, its pages mapped to the first staff."""
    hall = _demo_hall()
    device = db.session.scalar(select(Device).where(Device.name == "entrance"))
    if device is None:
        device = add_audited(
            Device(hall_id=hall.id, name="entrance", port=str(link)),
            action="device.add",
            hall_id=hall.id,
            after={"name": "entrance", "port": str(link)},
            reason="demo serve start",
        )
    staff = db.session.scalars(
        select(Staff).where(Staff.hall_id == hall.id).order_by(Staff.staff_no).limit(pages)
    ).all()
    mapped = set(
        db.session.scalars(select(DeviceTemplate.page).where(DeviceTemplate.device_id == device.id))
    )
    for page, person in enumerate(staff):
        if page not in mapped:
            db.session.add(DeviceTemplate(device_id=device.id, page=page, staff_id=person.id))
    db.session.commit()
    return "\n".join(
        f"  press {page:<3} → {person.staff_no} {person.name}"
        for page, person in enumerate(staff[:6])
    )


def _demo_counter_key() -> str:
    """A fresh key for the demo's counter pad at W01 (rotated at every start, audited)."""
    hall = _demo_hall()
    window = db.session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == "W01")
    )
    assert window is not None
    issued = issue_key()
    after = {"name": "demo-counter", "window": "W01", "key_id": issued.key_id}
    terminal = db.session.scalar(
        select(Terminal).where(Terminal.hall_id == hall.id, Terminal.name == "demo-counter")
    )
    if terminal is None:
        add_audited(
            Terminal(
                hall_id=hall.id,
                window_id=window.id,
                name="demo-counter",
                key_id=issued.key_id,
                key_hash=issued.key_hash,
                active=True,
            ),
            action="terminal.rekey",
            hall_id=hall.id,
            after=after,
            reason="demo serve start",
        )
    else:
        terminal.key_id, terminal.key_hash, terminal.active = issued.key_id, issued.key_hash, True
        audited_commit(
            action="terminal.rekey",
            object_id=terminal.id,
            hall_id=hall.id,
            after=after,
            reason="demo serve start",
        )
    return issued.key


@demo_command.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def demo_serve(host: str, port: int, threads: int) -> None:
    """Migrate, load the demo hall, and run the service with an emulated fingerprint reader.

    Starts the reader emulator on a pseudo-terminal, the device listener in its own
    process, and the web service on waitress. Type emulator commands (``press 3``,
    ``release``, ``unplug``, ``plug``, ``help``) on standard input; Ctrl-C stops all.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    announce_key_file(app)
    upgrade()
    for summary in load_demo():
        click.echo(summary)
    # Only this command loads waitress and the emulator, not every start of the app.
    from kiosk.demo.serve import serve

    link = Path(app.instance_path) / "demo-reader"
    examples = _ensure_demo_reader(link, DEMO_READER_PAGES)
    serve(
        app,
        host=host,
        port=port,
        threads=threads,
        link=link,
        pages=DEMO_READER_PAGES,
        counter_key=_demo_counter_key(),
        examples=examples,
    )
