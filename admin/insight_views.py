"""Sheets and pictures of how the hall is doing (issue 15): the monthly attendance sheet
and the rating fraud signals (``/admin/insight/fraud``, leaders and duty officers).

``/admin/reports/monthly`` shows the 考勤月报 of a month per unit (printable, one unit per
page); ``/admin/reports/monthly.xlsx`` the same as Excel. Duty officers and leaders see
every unit (or choose one); a unit viewer only their own.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from admin.forms import day_range_message
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, Unit, Window, utcnow
from kiosk.services.insight import (
    COLUMNS,
    WEEKDAYS,
    MonthlySheet,
    PersonMonth,
    fraud_review,
    heat_map,
    monthly_sheet,
    monthly_sheet_xlsx,
    parse_month,
    row_values,
    trend_svg,
    unit_trends,
)
from kiosk.textlimits import day_in_range

VIEWERS = ("duty", "leader", "unit")

register_nav("admin.monthly", _l("考勤月报"), VIEWERS, 72)


def _sheet(hall: Hall) -> tuple[MonthlySheet, list[Unit], str]:
    """The sheet the query string asks for (month, unit), refusals flashed."""
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    try:
        year, month = parse_month(request.args.get("month"), today)
    except ValueError as exc:
        flash(str(exc), "error")
        year, month = parse_month(None, today)
    units = list(
        db.session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    )
    unit_id = viewer_unit_id()
    chosen = (request.args.get("unit") or "")[:32]
    if unit_id is None and chosen:
        match = next((u for u in units if u.code == chosen), None)
        if match is None:
            flash(_("本中心没有代码为“%(code)s”的单位。", code=chosen), "error")
            chosen = ""
        else:
            unit_id = match.id
    sheet = monthly_sheet(db.session, hall, year, month, unit_id=unit_id)
    return sheet, (units if viewer_unit_id() is None else []), chosen


@bp.get("/reports/monthly")
@roles_required(*VIEWERS)
def monthly() -> ResponseReturnValue:
    """The monthly attendance sheet per unit, on screen and for print."""
    hall = current_hall()
    sheet, units, chosen = _sheet(hall)
    return render_template(
        "admin/monthly.html",
        sheet=sheet,
        units=units,
        chosen_unit=chosen,
        month_value=f"{sheet.year:04d}-{sheet.month:02d}",
        columns=COLUMNS,
        row_values=row_values,
        total_line=lambda unit: PersonMonth(_("合计"), "", (), unit.totals),
    )


@bp.get("/reports/monthly.xlsx")
@roles_required(*VIEWERS)
def monthly_xlsx() -> ResponseReturnValue:
    """The monthly attendance sheet as Excel, one worksheet per unit."""
    hall = current_hall()
    sheet, _units, chosen = _sheet(hall)
    name = f"attendance-{hall.code}-{sheet.year:04d}-{sheet.month:02d}{'-' + chosen if chosen else ''}.xlsx"
    return Response(
        monthly_sheet_xlsx(sheet),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


FRAUD_VIEWERS = ("leader", "duty")
FRAUD_LABELS = {
    "quick_rating": _l("开启服务后 15 秒内即评价"),
    "same_phone": _l("同一手机多次扫码评价同一人"),
    "terminal_address": _l("扫码评价来自开启服务的终端地址"),
    "many_corrections": _l("考勤更正次数异常偏多"),
}
register_nav("admin.fraud", _l("评价异常"), FRAUD_VIEWERS, 74)


def _day(name: str, default: dt.date) -> dt.date:
    text = (request.args.get(name) or "").strip()[:10]
    if not text:
        return default
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        flash(_("日期格式应为 2026-10-01。"), "error")
        return default
    if not day_in_range(day):
        flash(day_range_message(), "error")
        return default
    return day


@bp.get("/insight/fraud")
@roles_required(*FRAUD_VIEWERS)
def fraud() -> ResponseReturnValue:
    """Rating fraud signals of a date range, each with the ratings behind it (for review;
    nothing here changes a score)."""
    hall = current_hall()
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    first = _day("from", today.replace(day=1))
    last = _day("to", today)
    if last < first or (last - first).days > 366:
        flash(_("统计区间须从开始日期到结束日期，且不超过一年。"), "error")
        first, last = today.replace(day=1), today
    review = fraud_review(db.session, hall, first, last)
    return render_template("admin/fraud.html", review=review, labels=FRAUD_LABELS, hall=hall)


CHART_VIEWERS = ("leader", "duty", "unit")
register_nav("admin.charts", _l("图表分析"), CHART_VIEWERS, 76)


@bp.get("/insight/charts")
@roles_required(*CHART_VIEWERS)
def charts() -> ResponseReturnValue:
    """Satisfaction by hour × weekday (a window, a person or the hall) and each unit's
    monthly trend as server-side SVG (pygal), legible when printed."""
    hall = current_hall()
    today = to_local(utcnow(), hall_zone(hall.timezone)).date()
    first = _day("from", (today.replace(day=1) - dt.timedelta(days=62)).replace(day=1))
    last = _day("to", today)
    if last < first or (last - first).days > 366:
        flash(_("统计区间须从开始日期到结束日期，且不超过一年。"), "error")
        first, last = today.replace(day=1), today
    unit_id = viewer_unit_id()
    # A unit viewer reads their own unit only (SPEC 10): its windows, and a person's
    # ratings only at one of them.
    own_unit = () if unit_id is None else (Window.unit_id == unit_id,)
    windows = [
        w.code
        for w in db.session.scalars(
            select(Window).where(Window.hall_id == hall.id, *own_unit).order_by(Window.code)
        )
    ]
    window = (request.args.get("window") or "")[:32]
    staff_no = (request.args.get("staff_no") or "")[:32].strip()
    if window and window not in windows:
        flash(_("本中心没有代码为“%(code)s”的窗口。", code=window), "error")
        window = ""
    heat = None
    if unit_id is None or window:
        # A unit viewer sees the heat map of a chosen window of their unit, never the hall.
        heat = heat_map(
            db.session, hall, first, last, window=window or None, staff_no=staff_no or None
        )
    trends = unit_trends(db.session, hall, (last.year, last.month), 6, unit_id=unit_id)
    return render_template(
        "admin/charts.html",
        hall=hall,
        heat=heat,
        weekdays=WEEKDAYS,
        windows=windows,
        window=window,
        staff_no=staff_no,
        first=first,
        last=last,
        trends=[(t, Markup(trend_svg(t))) for t in trends],
    )
