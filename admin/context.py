"""Which hall and which unit a request of the back office is about."""

from __future__ import annotations

from flask import abort, request, session
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from kiosk.extensions import db
from kiosk.models import Hall

SESSION_KEY = "admin_hall"


def current_hall() -> Hall:
    """The signed-in user's hall; an admin who belongs to no hall picks one.

    Such an admin's choice (``?hall=CODE`` on any page) is remembered in the session;
    without one, the first hall by code is shown. Aborts with 404 when there is no hall
    yet or the code is unknown.
    """
    if current_user.hall_id is not None:
        hall = db.session.get(Hall, current_user.hall_id)
        if hall is None:
            abort(404)
        return hall
    code = request.values.get("hall") or session.get(SESSION_KEY)
    if code:
        hall = db.session.scalar(select(Hall).where(Hall.code == code))
        if hall is None:
            session.pop(SESSION_KEY, None)
            abort(404)
        session[SESSION_KEY] = hall.code
        return hall
    hall = db.session.scalar(select(Hall).order_by(Hall.code).limit(1))
    if hall is None:
        abort(404)
    return hall


def hall_if_any() -> Hall | None:
    """:func:`current_hall`, or None where it would abort (no hall yet, an unknown code):
    for what every page shows beside its content (the alert count), which must not turn
    a page that works without a hall into a 404."""
    try:
        return current_hall()
    except HTTPException:
        return None


def all_halls() -> list[Hall]:
    """Every hall, for the hall chooser of an admin who belongs to none."""
    return list(db.session.scalars(select(Hall).order_by(Hall.code)))


def viewer_unit_id() -> int | None:
    """The unit a unit viewer is restricted to; None for every other role."""
    if current_user.role == "unit":
        # A unit viewer without a unit must see nothing rather than everything.
        return current_user.unit_id if current_user.unit_id is not None else -1
    return None
