"""``flask --app kiosk demo load|serve``: the demo hall, and the whole service running with it."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from kiosk.demo.hall import DEMO_HALL, DEMO_PASSWORD, DEMO_USERS
from kiosk.demo.load import load_demo
from kiosk.extensions import db
from kiosk.models import Hall


@click.group("demo")
def demo_command() -> None:
    """The demo hall: load it, or run the whole service with it."""


@demo_command.command("load")
@click.option("--seed", default=2026, show_default=True, help="Random seed of the generator.")
@with_appcontext
def demo_load(seed: int) -> None:
    """Load (or top up) the demo hall into the database."""
    from kiosk.cli.db import announce_key_file

    announce_key_file(current_app._get_current_object())  # type: ignore[attr-defined]
    for summary in load_demo(seed=seed):
        click.echo(summary)
    click.echo(f"users: {', '.join(u[0] for u in DEMO_USERS)} (password {DEMO_PASSWORD})")


def _ensure_demo_reader(link: Path, pages: int) -> str:
    """A device row for the emulated entrance reader, its pages mapped to the first staff."""
    from kiosk.models import Device, DeviceTemplate, Staff

    hall = db.session.scalar(select(Hall).where(Hall.code == DEMO_HALL))
    assert hall is not None
    device = db.session.scalar(select(Device).where(Device.name == "entrance"))
    if device is None:
        device = Device(hall_id=hall.id, name="entrance", port=str(link))
        db.session.add(device)
        db.session.flush()
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
    from kiosk.models import Terminal, Window
    from kiosk.services import audit
    from kiosk.services.ratings import issue_key

    hall = db.session.scalar(select(Hall).where(Hall.code == DEMO_HALL))
    assert hall is not None
    window = db.session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == "W01")
    )
    assert window is not None
    issued = issue_key()
    terminal = db.session.scalar(
        select(Terminal).where(Terminal.hall_id == hall.id, Terminal.name == "demo-counter")
    )
    if terminal is None:
        terminal = Terminal(
            hall_id=hall.id,
            window_id=window.id,
            name="demo-counter",
            key_id=issued.key_id,
            key_hash=issued.key_hash,
            active=True,
        )
        db.session.add(terminal)
    else:
        terminal.key_id, terminal.key_hash, terminal.active = issued.key_id, issued.key_hash, True
    db.session.flush()
    audit.record(
        db.session,
        action="terminal.rekey",
        object_type="terminal",
        object_id=terminal.id,
        user_id=None,
        hall_id=hall.id,
        after={"name": "demo-counter", "window": "W01", "key_id": issued.key_id},
        reason="demo serve start",
    )
    db.session.commit()
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
    import os
    import signal
    import subprocess
    import sys
    import threading

    from flask_migrate import upgrade
    from waitress import create_server

    from devices.emulator import EmulatorProcess
    from kiosk.cli.db import announce_key_file

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    announce_key_file(app)
    upgrade()
    for summary in load_demo():
        click.echo(summary)
    link = Path(app.instance_path) / "demo-reader"
    staff_count = 70
    emulator = EmulatorProcess(link, templates=staff_count)
    examples = _ensure_demo_reader(link, staff_count)
    counter_key = _demo_counter_key()
    env = dict(os.environ, FLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    listener = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen", "entrance"],
        env=env,
        cwd=Path(__file__).resolve().parent.parent.parent,
    )
    # waitress stops accepting at 100 open connections (its default), idle ones included:
    # a hall's pads, screens and offices come near that, so allow more (select() copes).
    server = create_server(app, host=host, port=port, threads=threads, connection_limit=500)
    base = f"http://{host}:{port}"
    click.echo(
        f"\n政务服务中心考评系统 running at {base}/\n"
        f"  clock-in screen  {base}/clock\n"
        f"  counter          {base}/counter  (terminal key of window W01: {counter_key})\n"
        f"  public display   {base}/display\n  back office      {base}/admin/ "
        f"(users {', '.join(u[0] for u in DEMO_USERS)}; password {DEMO_PASSWORD})\n"
        f"Emulated reader on {link}. Type a command and Enter, e.g.:\n{examples}\n"
        "  release          (lift the finger)\n  help             (all commands)\n"
    )

    def console() -> None:
        command = ""
        for line in sys.stdin:
            command = line.strip()
            if not command:
                continue
            try:
                click.echo(emulator.send(command))
            except (RuntimeError, BrokenPipeError, OSError) as exc:
                click.echo(f"emulator: {exc}")
                break
            if command == "quit":
                break
        # quit, or Ctrl-D at a terminal, stops the service as Ctrl-C would; a closed
        # non-interactive stdin (run in the background) just leaves the reader idle.
        if command == "quit" or sys.stdin.isatty():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=console, daemon=True).start()

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        listener.terminate()
        try:
            listener.wait(timeout=10)
        except subprocess.TimeoutExpired:
            listener.kill()
        emulator.close()
        click.echo("stopped.")
