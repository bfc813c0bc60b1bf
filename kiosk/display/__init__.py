"""The hall's public display (公示屏) at ``/display``: no sign-in, read-only.

It rotates, without JavaScript, through the red-flag windows, the advanced individuals
and the satisfaction per window of the last published period, and a monthly satisfaction
chart per window (inline SVG drawn on the server).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from kiosk.display.data import display_data
from kiosk.display.svg import horizontal_bars, monthly_bars
from kiosk.extensions import db
from kiosk.models import Hall
from kiosk.services.rulefile import rules_in_force

bp = Blueprint(
    "display",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/display/static",
)

# Seconds each slide stays on screen, and how many people / windows / charts fit one.
SLIDE_SECONDS = 12
PEOPLE_PER_SLIDE = 12
BARS_PER_SLIDE = 12
CHARTS_PER_SLIDE = 8


def _hall() -> Hall | list[Hall]:
    """``?hall=CODE``, else the configured ``DEFAULT_HALL``, else the only hall; with
    several halls and no choice, the list of halls (the screen's set-up picks one)."""
    code = request.args.get("hall") or current_app.config["DEFAULT_HALL"]
    if code:
        hall = db.session.scalar(select(Hall).where(Hall.code == code))
        if hall is None:
            abort(404)
        return hall
    halls = list(db.session.scalars(select(Hall).order_by(Hall.code)))
    if not halls:
        abort(404)
    return halls[0] if len(halls) == 1 else halls


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


@bp.get("/display")
def display() -> ResponseReturnValue:
    """The rotating public screen of one hall."""
    hall = _hall()
    if isinstance(hall, list):
        return render_template("display/choose.html", halls=hall)
    data = display_data(db.session, hall, rules_in_force(current_app.config))
    slides: list[tuple[str, object]] = []
    if data.period is None:
        slides.append(("empty", None))
    else:
        slides.append(("red_flags", data.red_flags))
        for chunk in _chunks(data.advanced, PEOPLE_PER_SLIDE):
            slides.append(("advanced", chunk))
        for chunk in _chunks(data.satisfaction, BARS_PER_SLIDE):
            awarded = {w["window"] for w in data.red_flags}
            slides.append(
                (
                    "satisfaction",
                    horizontal_bars(
                        [(f"{w.window} {w.name}", w.mean, w.window in awarded) for w in chunk]
                    ),
                )
            )
    for chunk in _chunks(data.series, CHARTS_PER_SLIDE):
        if chunk:
            slides.append(
                (
                    "monthly",
                    [monthly_bars(f"{s.window} {s.name}", data.months, s.values) for s in chunk],
                )
            )
    cycle = SLIDE_SECONDS * len(slides)
    return render_template(
        "display/display.html",
        data=data,
        slides=slides,
        slide_seconds=SLIDE_SECONDS,
        cycle=cycle,
        share=100 / len(slides),
    )
