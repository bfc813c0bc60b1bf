"""Printable reports: the weekly attendance notice (每周例会通报)."""

from __future__ import annotations

import datetime as dt

from flask import flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from admin.forms import day_range_message
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Unit, utcnow
from kiosk.services.appraisal import SCOPES, appraisal
from kiosk.services.reports import day_defects, parse_week, weekly_report
from kiosk.textlimits import LATEST_DAY, day_in_range

register_nav("admin.weekly", _l("每周考勤通报"), ("duty", "leader", "unit"), 70)
register_nav("admin.appraisal_sheet", _l("年度考核"), ("leader", "unit"), 80)

SCOPE_LABELS = {"year": _l("全年"), "h1": _l("上半年"), "h2": _l("下半年")}


@bp.get("/reports/weekly")
@roles_required("duty", "leader", "unit")
def weekly() -> ResponseReturnValue:
    """Late, early, missing and absent per person and unit for a chosen week; printable."""
    hall = current_hall()
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    try:
        monday = parse_week(request.args.get("week"), today)
    except ValueError as exc:
        flash(str(exc), "error")
        monday = parse_week(None, today)
    except OverflowError:
        monday = LATEST_DAY  # refused just below
    if not (day_in_range(monday) and monday <= LATEST_DAY - dt.timedelta(days=6)):
        # Year 1 or 9999: the week's bounds would overflow in hall-local time.
        flash(day_range_message(), "error")
        monday = parse_week(None, today)
    units = list(
        db.session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    )
    unit_id = viewer_unit_id()
    chosen = request.args.get("unit") or ""
    if unit_id is None and chosen:
        # Leaders and officers may print one unit's part; a unit viewer is always limited.
        match = next((u for u in units if u.code == chosen), None)
        if match is None:
            flash(_("本中心没有代码为“%(code)s”的单位。", code=chosen), "error")
            chosen = ""
        else:
            unit_id = match.id
    report = weekly_report(db.session, hall, monday, unit_id=unit_id)
    iso = monday.isocalendar()
    return render_template(
        "admin/weekly.html",
        report=report,
        day_defects=day_defects,
        units=units if viewer_unit_id() is None else [],
        chosen_unit=chosen,
        week_value=f"{iso.year:04d}-W{iso.week:02d}",
        previous=(monday - dt.timedelta(days=7)).isoformat(),
        following=(monday + dt.timedelta(days=7)).isoformat(),
    )


@bp.get("/reports/appraisal")
@roles_required("leader", "unit")
def appraisal_sheet() -> ResponseReturnValue:
    """Each person's published results over the year or half-year, one printable sheet each."""
    hall = current_hall()
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    year = request.args.get("year", type=int) or today.year
    scope = request.args.get("scope", "year")
    if scope not in SCOPES or not 2000 <= year <= 2100:
        flash(_("请选择有效的年份和范围。"), "error")
        year, scope = today.year, "year"
    unit_code = None
    unit_id = viewer_unit_id()
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        unit_code = unit.code if unit is not None else "\0none"
    sheet = appraisal(db.session, hall, year, scope, unit_code)
    return render_template("admin/appraisal.html", sheet=sheet, hall=hall, scopes=SCOPE_LABELS)
