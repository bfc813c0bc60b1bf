"""The provincial push in the back office (省平台上报, SPEC 11): what is pending, what the
platform rejected and why, the last success and the last error; an officer resends
rejected records once what the platform objected to is fixed.

Duty officers (and admins) resend; leadership may read. The work is done by
:mod:`kiosk.services.push`, which audits every resend.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Rating, utcnow
from kiosk.services import push
from kiosk.services.errors import PushError
from kiosk.textlimits import max_length

HANDLERS = ("duty",)  # admin always may
VIEWERS = ("duty", "leader")
# A page lists at most this many rejected records; more are resent from ``push status``.
RESEND_MAX = 500

register_nav("admin.push_state", _l("省平台上报"), VIEWERS, order=60)


def _page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    hall = current_hall()
    state = push.push_state(db.session, hall)
    zone = hall_zone(hall.timezone)
    return (
        render_template(
            "admin/push.html",
            hall=hall,
            state=state,
            last_success=to_local(state.last_success_at, zone) if state.last_success_at else None,
            last_error_at=to_local(state.last_error_at, zone) if state.last_error_at else None,
            units_without_org_code=push.units_without_org_code(db.session, hall),
            can_resend=current_user.role in ("admin", *HANDLERS),
            error=error,
            chosen=set(request.form.getlist("rating_id")),
        ),
        status,
    )


@bp.get("/push")
@roles_required(*VIEWERS)
def push_state() -> ResponseReturnValue:
    """Pending count, rejected records with the platform's reasons, last success and error."""
    return _page()


@bp.post("/push/resend")
@roles_required(*HANDLERS)
def push_resend() -> ResponseReturnValue:
    """Make the chosen rejected records pending again (``push run`` sends them next)."""
    chosen = request.form.getlist("rating_id")
    limit = max_length(Rating.__table__.c.rating_id)
    if len(chosen) > RESEND_MAX or any(len(r) > limit for r in chosen):
        return _page(400, _("所选记录过多或编号无效。"))
    try:
        count = push.resend(db.session, current_hall(), chosen, current_user.id, utcnow())
    except PushError as exc:
        db.session.rollback()
        return _page(400, exc.message)
    db.session.commit()
    flash(_("已将 %(n)d 条评价重新列入待上报，下次上报时发送。", n=count), "success")
    return redirect(url_for("admin.push_state"))
