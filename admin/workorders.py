"""Bad-review work orders in the back office (差评工单, SPEC 4.3).

Duty officers (and admins) verify and rectify; leadership may read. The work itself is
done by :mod:`kiosk.services.workorders`, which writes the audit log.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from admin.lists import export_of, filter_context, list_filter, page_of, wants_export, xlsx_download
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, Rating, utcnow
from kiosk.services import listing
from kiosk.services.errors import WorkOrderError
from kiosk.services.ratings import LEVEL_LABELS
from kiosk.services.workorders import (
    STATUSES,
    WorkOrder,
    get_work_order,
    list_work_orders,
    rectify,
    verify,
)

HANDLERS = ("duty",)  # admin always may
VIEWERS = ("duty", "leader", "unit")  # a unit viewer: the orders of their own unit only

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

register_nav("admin.workorders", _l("差评工单"), VIEWERS)
register_nav("admin.ratings", _l("评价记录"), VIEWERS, 45)


def _labels() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "level_labels": LEVEL_LABELS,
        "can_handle": current_user.role in ("admin", *HANDLERS),
    }


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
        db.session, hall, utcnow(), None if status == "all" else status, where=where
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


def _visible_to_viewer(hall: Hall, rating_id: str) -> bool:
    """Whether a unit viewer's unit had the rated person at its counters that day (every
    other role sees every order of the hall)."""
    unit_id = viewer_unit_id()
    if unit_id is None:
        return True
    where = listing.seat_conditions(
        db.session, hall, Rating.staff_id, Rating.rated_at, unit_id=unit_id
    )
    found = db.session.scalar(
        select(Rating.id).where(
            Rating.hall_id == hall.id, Rating.rating_id == rating_id[:64], *where
        )
    )
    return found is not None


@bp.get("/workorders/<rating_id>")
@roles_required(*VIEWERS)
def workorder(rating_id: str) -> ResponseReturnValue:
    """One work order with its verification and rectification forms."""
    hall = current_hall()
    if not _visible_to_viewer(hall, rating_id):
        abort(404)
    try:
        order = get_work_order(db.session, hall, rating_id, utcnow())
    except WorkOrderError:
        abort(404)
    return render_template("admin/workorders/detail.html", order=order, **_labels())


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
    hall = current_hall()
    try:
        verify(
            db.session,
            hall,
            rating_id,
            request.form.get("verdict", ""),
            request.form.get("note"),
            current_user.id,
            utcnow(),
        )
    except WorkOrderError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(rating_id, 400)
    db.session.commit()
    flash(_("已记录核实结果。"), "success")
    return redirect(url_for("admin.workorder", rating_id=rating_id))


@bp.post("/workorders/<rating_id>/rectify")
@roles_required(*HANDLERS)
def workorder_rectify(rating_id: str) -> ResponseReturnValue:
    """Close an upheld order with the rectification note (the time is now)."""
    hall = current_hall()
    try:
        rectify(db.session, hall, rating_id, request.form.get("note"), current_user.id, utcnow())
    except WorkOrderError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(rating_id, 400)
    db.session.commit()
    flash(_("已记录整改情况，工单关闭。"), "success")
    return redirect(url_for("admin.workorder", rating_id=rating_id))


def _back(rating_id: str, status: int) -> ResponseReturnValue:
    """Show the order again with the message (and what was typed), or 404 if it is unknown."""
    try:
        order = get_work_order(db.session, current_hall(), rating_id, utcnow())
    except WorkOrderError:
        abort(404)
    return (
        render_template(
            "admin/workorders/detail.html", order=order, typed=request.form, **_labels()
        ),
        status,
    )
