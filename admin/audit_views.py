"""The audit log page (admins only): who changed what, when, before, after and why."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.services.auditlog import ACTION_TEXT, audit_page
from kiosk.services.texts import language

register_nav("admin.audit_log", _l("审计日志"), ("admin",), 90)


@bp.get("/audit")
@roles_required("admin")
def audit_log() -> ResponseReturnValue:
    """A read-only, filterable list of audit entries, newest first."""
    hall = current_hall()
    page = audit_page(
        db.session,
        hall,
        page=request.args.get("page", 1, type=int) or 1,
        action=request.args.get("action") or None,
        object_type=request.args.get("object_type") or None,
        language=language(),
    )
    return render_template(
        "admin/audit.html",
        page=page,
        action=request.args.get("action", ""),
        object_type=request.args.get("object_type", ""),
        action_text=ACTION_TEXT,
    )
