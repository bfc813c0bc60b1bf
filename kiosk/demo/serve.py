"""``demo serve``'s processes: the reader emulator, the device listener and the web service.

The command (:mod:`kiosk.cli.demo`) prepares the database; :func:`serve` then runs the
three together until Ctrl-C, SIGTERM or ``quit`` and stops all of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click
from flask import Flask
from waitress import create_server

from devices.emulator import EmulatorProcess
from kiosk.demo.hall import DEMO_PASSWORD, DEMO_USERS
from kiosk.extensions import db
from kiosk.models import Hall, utcnow
from kiosk.rules.settings import default_after_days
from kiosk.services.badreviews import apply_default_ratings

# The repository root: the listener process runs ``flask --app kiosk`` from there.
ROOT = Path(__file__).resolve().parent.parent.parent


def default_ratings_at_start() -> list[str]:
    """Apply the default ratings due now in every hall (SPEC 4.2), as the daily job would;
    one line per hall that has them on."""
    lines = []
    for hall in db.session.scalars(db.select(Hall).order_by(Hall.code)).all():
        count = apply_default_ratings(db.session, hall, utcnow())
        if default_after_days(hall.settings) > 0:
            lines.append(f"{hall.code}: {count} default rating(s) added")
    db.session.commit()
    return lines


def serve(
    app: Flask,
    *,
    host: str,
    port: int,
    threads: int,
    link: Path,
    pages: int,
    counter_key: str,
    examples: str,
) -> None:
    """Run the emulated reader on ``link``, its listener and waitress on ``host:port``.

    Emulator commands (``press 3``, ``release``, ``unplug``, ``plug``, ``help``) are read
    from standard input.
    """
    for line in default_ratings_at_start():
        click.echo(line)
    emulator = EmulatorProcess(link, templates=pages)
    env = dict(os.environ, FLASK_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    listener = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "kiosk", "devices", "listen", "entrance"],
        env=env,
        cwd=ROOT,
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
    threading.Thread(target=_console, args=(emulator,), daemon=True).start()

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


def _console(emulator: EmulatorProcess) -> None:
    """Pass standard input's lines to the emulator and print its answers."""
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
