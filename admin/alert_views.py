"""The duty officer's alerts in the back office (SPEC 12).

``/admin/alerts`` lists the open alerts, each acknowledged with a comment (duty officers
and admins; leaders read); ``/admin/alerts/count.json`` is the tiny answer the count in
the top bar of every page asks for every few seconds (short polling: no request is held
open, so no worker thread is tied up per open page). The work is done by
:mod:`kiosk.services.alerts`, which writes the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.context import current_hall, hall_if_any
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.models import utcnow
from kiosk.rules.alerts import ALERT_CODES
from kiosk.services.alerts import (
    COMMENT_MAX,
    acknowledge,
    alert_rows,
    open_count,
    recent_acknowledgements,
)
from kiosk.services.errors import Refused

HANDLERS = ("duty",)  # admin always may
VIEWERS = ("duty", "leader")
POLL_SECONDS = 5

CODE_LABELS: dict[str, Any] = {
    "bad_burst": _l("差评集中"),
    "reader_offline": _l("指纹机离线"),
    "no_am_in": _l("上午未打卡"),
    "callback_due": _l("差评回访临期"),
    "rectify_due": _l("差评整改临期"),
    "case_due": _l("办件临期"),
}

register_nav("admin.alerts", _l("预警"), VIEWERS, 5)


@bp.app_context_processor
def alert_badge() -> dict[str, Any]:
    """``alert_badge()`` for ``admin/base.html``: the open count and where to poll it, for
    users who may see alerts; None for everyone else."""

    def badge() -> dict[str, Any] | None:
        if not has_role(current_user, *VIEWERS):
            return None
        hall = hall_if_any()
        if hall is None:
            return None
        return {
            "count": open_count(db.session, hall, utcnow()),
            "href": url_for("admin.alerts"),
            "poll": url_for("admin.alerts_count"),
            "seconds": POLL_SECONDS,
        }

    return {"alert_badge": badge, "alert_code_labels": CODE_LABELS}


@bp.get("/alerts/count.json")
@roles_required(*VIEWERS)
def alerts_count() -> ResponseReturnValue:
    """``{"count": n}``: the open alerts of the hall now (polled by every page)."""
    response = jsonify({"count": open_count(db.session, current_hall(), utcnow())})
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(errors: dict[str, str] | None = None, status: int = 200) -> ResponseReturnValue:
    hall = current_hall()
    now = utcnow()
    return (
        render_template(
            "admin/alerts.html",
            hall=hall,
            rows=alert_rows(db.session, hall, now),
            handled=recent_acknowledgements(db.session, hall),
            labels=CODE_LABELS,
            can_handle=has_role(current_user, *HANDLERS),
            errors=errors or {},
            typed=request.form if errors else {},
            comment_max=COMMENT_MAX,
            timedelta1=dt.timedelta(days=1),
        ),
        status,
    )


@bp.get("/alerts")
@roles_required(*VIEWERS)
def alerts() -> ResponseReturnValue:
    """The open alerts, then the latest acknowledgements."""
    return _page()


def _alert_id(code: str, subject: str, since: dt.datetime) -> str:
    return f"{code}|{subject}|{since.isoformat()}"


@bp.post("/alerts/acknowledge")
@roles_required(*HANDLERS)
def alerts_acknowledge() -> ResponseReturnValue:
    """Acknowledge one open alert (code, subject, since) with a comment."""
    code = request.form.get("code", "")
    subject = request.form.get("subject", "")
    try:
        since = dt.datetime.fromisoformat(request.form.get("since", ""))
    except ValueError:
        since = None
    if code not in ALERT_CODES or since is None or since.tzinfo is not None or len(subject) > 64:
        flash(_("没有这条预警。"), "error")
        return _page(status=400)
    try:
        acknowledge(
            db.session,
            current_hall(),
            code=code,
            subject=subject,
            since=since,
            comment=request.form.get("comment"),
            user_id=current_user.id,
            now=utcnow(),
        )
    except Refused as exc:
        db.session.rollback()
        return _page({_alert_id(code, subject, since): exc.message}, 400)
    db.session.commit()
    flash(_("已处理预警：%(what)s", what=CODE_LABELS[code]), "success")
    return redirect(url_for("admin.alerts"))
