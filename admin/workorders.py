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

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.models import utcnow
from kiosk.services.errors import WorkOrderError
from kiosk.services.ratings import LEVEL_LABELS
from kiosk.services.workorders import (
    STATUSES,
    get_work_order,
    list_work_orders,
    rectify,
    verify,
)

HANDLERS = ("duty",)  # admin always may
VIEWERS = ("duty", "leader")

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


def _labels() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "channel_labels": CHANNEL_LABELS,
        "level_labels": LEVEL_LABELS,
        "can_handle": current_user.role in ("admin", *HANDLERS),
    }


@bp.get("/workorders")
@roles_required(*VIEWERS)
def workorders() -> ResponseReturnValue:
    """The list of work orders; open ones first, overdue ones marked."""
    status = request.args.get("status", "open")
    if status not in (*STATUSES, "open", "all"):
        status = "open"
    hall = current_hall()
    orders = list_work_orders(db.session, hall, utcnow(), None if status == "all" else status)
    return render_template(
        "admin/workorders/list.html", orders=orders, status=status, hall=hall, **_labels()
    )


@bp.get("/workorders/<rating_id>")
@roles_required(*VIEWERS)
def workorder(rating_id: str) -> ResponseReturnValue:
    """One work order with its verification and rectification forms."""
    try:
        order = get_work_order(db.session, current_hall(), rating_id, utcnow())
    except WorkOrderError:
        abort(404)
    return render_template("admin/workorders/detail.html", order=order, **_labels())


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
