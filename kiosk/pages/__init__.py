"""Public pages of the hall: the landing page that links the screens of the service."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The landing page: links to the clock-in screen, counters, public display, back office."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """A liveness probe for the process supervisor."""
    return {"status": "ok"}
