"""The duty officer's pages: today's hall and the duty roster (带班表)."""

from __future__ import annotations

import datetime as dt

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.forms import DutyForm, first_error, parse_day, select_choices
from admin.views import register_nav
from devices.held import Held, held
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import utcnow
from kiosk.services.errors import RosterError
from kiosk.services.hallday import SLOTS, HallToday, hall_today
from kiosk.services.reports import week_of
from kiosk.services.roster import eligible_officers, roster, set_duty

ROSTER_DAYS = 28

register_nav("admin.today", _l("今日大厅"), ("duty", "leader"), 10)
register_nav("admin.roster_page", _l("带班表"), ("duty", "leader"), 15)


@bp.get("/today")
@roles_required("duty", "leader")  # leaders read everything
def today() -> ResponseReturnValue:
    """Who has punched which slot, who is missing or away, open work orders, devices."""
    hall = current_hall()
    board = hall_today(db.session, hall)
    return render_template("admin/today.html", board=board, slots=SLOTS, held=held_for_hall(board))


def held_for_hall(board: HallToday) -> Held | None:
    """Presses of this hall's readers the listener holds while the database is away."""
    names = [device.name for device in board.devices]
    return held(current_app.instance_path, names) if names else None


@bp.route("/roster", methods=["GET", "POST"])
@roles_required("duty", "leader")
def roster_page() -> ResponseReturnValue:
    """The duty roster for four weeks; admins assign officers, everyone else reads."""
    hall = current_hall()
    form = DutyForm()
    officers = eligible_officers(db.session, hall)
    officer_choices = [("", _("（无人带班）"))] + [
        (str(u.id), u.display_name or u.username) for u in officers
    ]
    form.user_id.choices = select_choices(officer_choices)
    if request.method == "POST":
        if not has_role(current_user, "admin"):
            return render_template("admin/forbidden.html"), 403
        if form.validate_on_submit():
            try:
                set_duty(
                    db.session,
                    hall,
                    day=form.day.data,
                    user_id=int(form.user_id.data) if form.user_id.data else None,
                    actor_id=current_user.id,
                    note=form.reason.data,
                )
            except RosterError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(_("带班表已更新。"), "success")
                return redirect(url_for("admin.roster_page", start=form.day.data.isoformat()))
        else:
            flash(first_error(form), "error")
    today_local = to_local(utcnow(), hall_zone(hall.timezone)).date()
    start = today_local
    if request.args.get("start"):
        try:
            start = parse_day(request.args.get("start"))
        except ValueError as exc:
            flash(str(exc), "error")
    first = week_of(start)[0]
    days = roster(db.session, hall, first, ROSTER_DAYS)
    return render_template(
        "admin/roster.html",
        days=days,
        form=form,
        first=first,
        today=today_local,
        previous=first - dt.timedelta(days=ROSTER_DAYS),
        following=first + dt.timedelta(days=ROSTER_DAYS),
        can_edit=has_role(current_user, "admin"),
        officer_choices=officer_choices,
    )
