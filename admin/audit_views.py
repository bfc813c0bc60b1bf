"""The audit log page (admins; leaders read it too): who changed what, when, before,
after and why; filtered, paged and exported like every growing list."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin.auth import roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.lists import list_filter, wants_export, xlsx_download
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.services.auditlog import ACTION_TEXT, audit_export_rows, audit_headers, audit_page
from kiosk.services.texts import language

register_nav("admin.audit_log", _l("审计日志"), ("leader",), 90)


@bp.get("/audit")
@roles_required("leader")
def audit_log() -> ResponseReturnValue:
    """A read-only, filterable list of audit entries, newest first."""
    hall = current_hall()
    flt = list_filter()
    action = (request.args.get("action") or "")[:64] or None
    if wants_export():
        rows = audit_export_rows(
            db.session,
            hall,
            action=action,
            start=flt.start,
            end=flt.end,
            q=flt.q or None,
            language=language(),
        )
        return xlsx_download("audit", _("审计日志"), audit_headers(), rows)
    page = audit_page(
        db.session,
        hall,
        page=flt.page,
        action=action,
        object_type=(request.args.get("object_type") or "")[:64] or None,
        start=flt.start,
        end=flt.end,
        q=flt.q or None,
        language=language(),
    )
    return render_template(
        "admin/audit.html",
        page=page,
        flt=flt,
        action=action or "",
        object_type=request.args.get("object_type", "")[:64],
        action_text=ACTION_TEXT,
    )
