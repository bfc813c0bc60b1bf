"""Bad-review work orders in the back office (差评工单, SPEC 4.3 and the loop of SPEC 11).

Duty officers (and admins) call back, verify and rectify; the window's unit (a unit
viewer of that unit, or an admin on its behalf) appeals; a leader (or an admin) other
than the verifying officer decides the appeal; leadership reads everything, a unit
viewer its own unit's orders only. The work itself is done by
:mod:`kiosk.services.workorders` and :mod:`kiosk.services.appeals`, which write the
audit log; :mod:`kiosk.services.badreviews` gives the report per unit and period.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from admin.lists import export_of, filter_context, list_filter, page_of, wants_export, xlsx_download
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Unit, utcnow
from kiosk.rules.calendar import Period
from kiosk.rules.settings import hall_settings
from kiosk.services import listing
from kiosk.services.appeals import decide_appeal, file_appeal
from kiosk.services.badreviews import loop_report
from kiosk.services.errors import WorkOrderError
from kiosk.services.ratings import LEVEL_LABELS
from kiosk.services.workorders import (
    STATUSES,
    WorkOrder,
    get_work_order,
    list_work_orders,
    record_callback,
    rectify,
    verify,
)

HANDLERS = ("duty",)  # admin always may
APPELLANTS = ("unit",)  # the unit of the window; admin on its behalf
DECIDERS = ("leader",)  # admin too; never the verifying officer (the service refuses)
VIEWERS = ("duty", "leader", "unit")  # a unit viewer: the orders of their own unit only
REPORT_VIEWERS = ("duty", "leader", "unit")

STATUS_LABELS = {
    "open": _l("待处理"),
    "pending": _l("待核实"),
    "upheld": _l("待整改"),
    "rectified": _l("已整改"),
    "unfounded": _l("不属实"),
    "all": _l("全部"),
}
CHANNEL_LABELS = {
    "counter": _l("窗口评价器"),
    "qr": _l("扫码评价"),
    "other": _l("其他"),
    "default": _l("默认好评"),  # SPEC 4.2: never valid for scoring
}
OUTCOME_LABELS = {
    "reached": _l("已联系上"),
    "unreached": _l("未联系上"),
    "impossible": _l("无法回访"),
}
APPEAL_LABELS = {
    "pending": _l("待审核"),
    "approved": _l("申诉成立"),
    "refused": _l("申诉不成立"),
}

register_nav("admin.workorders", _l("差评工单"), VIEWERS)
register_nav("admin.workorder_report", _l("差评处置统计"), REPORT_VIEWERS)
register_nav("admin.ratings", _l("评价记录"), VIEWERS, 45)


def _labels() -> dict[str, object]:
    role = current_user.role
    return {
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "level_labels": LEVEL_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "appeal_labels": APPEAL_LABELS,
        "can_handle": role in ("admin", *HANDLERS),
        "can_appeal": role in ("admin", *APPELLANTS),
        "can_decide": role in ("admin", *DECIDERS),
    }


def _order_or_404(rating_id: str) -> WorkOrder:
    try:
        return get_work_order(
            db.session, current_hall(), rating_id, utcnow(), unit_id=viewer_unit_id()
        )
    except WorkOrderError:
        abort(404)


def _order_cells(order: WorkOrder) -> list[object]:
    return [
        order.rating_id,
        order.rated_at.strftime("%Y-%m-%d %H:%M:%S"),
        order.staff_no,
        order.staff_name,
        order.window_name or "",
        str(LEVEL_LABELS[order.level]),
        "、".join(order.reasons),
        str(STATUS_LABELS[order.status]),
        order.deadline_day.isoformat() if order.status != "unfounded" else "",
        _("是") if order.overdue else "",
        order.review_note or "",
        order.rectification_note or "",
    ]


def _order_headers() -> list[str]:
    return [
        _("编号"),
        _("评价时间"),
        _("工号"),
        _("姓名"),
        _("窗口"),
        _("评价"),
        _("原因"),
        _("状态"),
        _("整改期限"),
        _("已逾期"),
        _("核实说明"),
        _("整改说明"),
    ]


@bp.get("/workorders")
@roles_required(*VIEWERS)
def workorders() -> ResponseReturnValue:
    """The list of work orders; open ones first, overdue ones marked; filtered, paged and
    exported like every growing list."""
    status = request.args.get("status", "open")
    if status not in (*STATUSES, "open", "all"):
        status = "open"
    hall = current_hall()
    flt = list_filter()
    where = listing.conditions(
        db.session, hall, listing.RATINGS, flt, viewer_unit_id=viewer_unit_id()
    )
    orders = list_work_orders(
        db.session,
        hall,
        utcnow(),
        None if status == "all" else status,
        unit_id=viewer_unit_id(),
        where=where,
    )
    if wants_export():
        rows = (_order_cells(o) for o in orders[: listing.EXPORT_MAX_ROWS])
        return xlsx_download("workorders", _("差评工单"), _order_headers(), rows)
    page = listing.page_of(orders, flt.page)
    return render_template(
        "admin/workorders/list.html",
        orders=page.rows,
        page=page,
        status=status,
        hall=hall,
        **filter_context(hall, flt),
        **_labels(),
    )


@bp.get("/workorders/<rating_id>")
@roles_required(*VIEWERS)
def workorder(rating_id: str) -> ResponseReturnValue:
    """One work order with its callback, verification, rectification and appeal forms."""
    return render_template(
        "admin/workorders/detail.html", order=_order_or_404(rating_id), **_labels()
    )


def _done(rating_id: str, message: str) -> ResponseReturnValue:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.workorder", rating_id=rating_id))


def _refused(rating_id: str, exc: WorkOrderError, form: str) -> ResponseReturnValue:
    """Show the order again with the message beside the form, and what was typed."""
    db.session.rollback()
    if exc.code == "not_found":
        abort(404)
    order = _order_or_404(rating_id)
    return (
        render_template(
            "admin/workorders/detail.html",
            order=order,
            typed=request.form,
            error_form=form,
            error=exc.message,
            **_labels(),
        ),
        403 if exc.code == "forbidden" else 400,
    )


@bp.get("/ratings")
@roles_required(*VIEWERS)
def ratings() -> ResponseReturnValue:
    """Every rating of the hall, paged, searchable, filtered and exported."""
    hall = current_hall()
    flt = list_filter()
    if wants_export():
        return export_of(listing.RATINGS, flt, _("评价记录"))
    page = page_of(listing.RATINGS, flt)
    zone = hall_zone(hall.timezone)
    rows = [(rating, person, to_local(rating.rated_at, zone)) for rating, person in page.rows]
    return render_template(
        "admin/ratings.html", rows=rows, page=page, **filter_context(hall, flt), **_labels()
    )


@bp.post("/workorders/<rating_id>/verify")
@roles_required(*HANDLERS)
def workorder_verify(rating_id: str) -> ResponseReturnValue:
    """Record the verdict (属实 / 不属实) with a note."""
    try:
        verify(
            db.session,
            current_hall(),
            rating_id,
            request.form.get("verdict", ""),
            request.form.get("note"),
            current_user.id,
            utcnow(),
        )
    except WorkOrderError as exc:
        return _refused(rating_id, exc, "verify")
    return _done(rating_id, _("已记录核实结果。"))


@bp.post("/workorders/<rating_id>/rectify")
@roles_required(*HANDLERS)
def workorder_rectify(rating_id: str) -> ResponseReturnValue:
    """Close an upheld order with its cause and action (the time is now)."""
    try:
        rectify(
            db.session,
            current_hall(),
            rating_id,
            request.form.get("note"),
            current_user.id,
            utcnow(),
            cause=request.form.get("rectification_cause"),
            action=request.form.get("rectification_action"),
        )
    except WorkOrderError as exc:
        return _refused(rating_id, exc, "rectify")
    return _done(rating_id, _("已记录整改情况，工单关闭。"))


def _called_at(text: str | None) -> dt.datetime | None:
    """The typed call time (``YYYY-MM-DDTHH:MM``, hall-local); empty means now."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > 32:
        raise WorkOrderError(_("回访时间的格式应为 2026-11-26 10:30。"))
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise WorkOrderError(_("回访时间的格式应为 2026-11-26 10:30。")) from None
    if value.tzinfo is not None:
        # The form's field is the hall's local time; an offset is not something it sends.
        raise WorkOrderError(_("回访时间的格式应为 2026-11-26 10:30。"))
    return value


@bp.post("/workorders/<rating_id>/callback")
@roles_required(*HANDLERS)
def workorder_callback(rating_id: str) -> ResponseReturnValue:
    """Record a callback to the citizen (回访)."""
    answer = request.form.get("satisfied", "")
    satisfied = {"yes": True, "no": False}.get(answer)
    try:
        if answer not in ("", "yes", "no"):
            raise WorkOrderError(_("请选择群众是否满意。"))
        order = record_callback(
            db.session,
            current_hall(),
            rating_id,
            outcome=request.form.get("outcome", ""),
            note=request.form.get("note"),
            called_at=_called_at(request.form.get("called_at")),
            satisfied=satisfied,
            user_id=current_user.id,
            now=utcnow(),
        )
    except WorkOrderError as exc:
        return _refused(rating_id, exc, "callback")
    if order.status == "upheld" and satisfied is False:
        return _done(rating_id, _("已记录回访。群众仍不满意，整改已重新打开。"))
    return _done(rating_id, _("已记录回访。"))


@bp.post("/workorders/<rating_id>/appeal")
@roles_required(*APPELLANTS)
def workorder_appeal(rating_id: str) -> ResponseReturnValue:
    """The unit's appeal with its statement."""
    _order_or_404(rating_id)  # a unit viewer sees only its own unit's orders
    try:
        file_appeal(
            db.session,
            current_hall(),
            rating_id,
            request.form.get("statement"),
            current_user,
            utcnow(),
        )
    except WorkOrderError as exc:
        return _refused(rating_id, exc, "appeal")
    return _done(rating_id, _("申诉已提交，等待大厅领导审核。"))


@bp.post("/workorders/<rating_id>/appeal/decide")
@roles_required(*DECIDERS)
def workorder_appeal_decide(rating_id: str) -> ResponseReturnValue:
    """A leader's decision on the appeal."""
    try:
        order = decide_appeal(
            db.session,
            current_hall(),
            rating_id,
            request.form.get("decision", ""),
            request.form.get("note"),
            current_user,
            utcnow(),
        )
    except WorkOrderError as exc:
        return _refused(rating_id, exc, "decide")
    if order.review == "unfounded":
        return _done(rating_id, _("申诉成立，该差评改为不属实，不计分。"))
    return _done(rating_id, _("申诉不成立，差评维持原核实结果。"))


def _current_period(now_local: dt.datetime) -> str:
    return f"{now_local.year:04d}-B{(now_local.month + 1) // 2}"


@bp.get("/workorders/report")
@roles_required(*REPORT_VIEWERS)
def workorder_report() -> ResponseReturnValue:
    """The loop's figures per unit for a period (default: the current one)."""
    hall = current_hall()
    now = utcnow()
    default = _current_period(to_local(now, hall_zone(hall.timezone)))
    period = (request.args.get("period") or default).strip()[:16]
    error = None
    try:
        Period.parse(period)
        report = loop_report(db.session, hall, period, now)
    except (ValueError, WorkOrderError):
        error = _("统计期应写成 2026-B5 的形式（年份 2000–2099，B1 至 B6）。")
        period = default
        report = loop_report(db.session, hall, period, now)
    units = report.units
    if current_user.role == "unit":
        own = [u for u in units if u[1].unit == _own_unit_code()]
        units = own
    return render_template(
        "admin/workorders/report.html",
        hall=hall,
        report=report,
        units=units,
        show_hall=current_user.role != "unit",
        hall_callback_days=hall_settings(hall.settings).callback_workdays,
        period=period,
        error=error,
    ), (400 if error else 200)


def _own_unit_code() -> str | None:
    unit = db.session.get(Unit, viewer_unit_id() or -1)
    return unit.code if unit is not None else None
