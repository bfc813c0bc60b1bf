"""The back office's home page and navigation."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from admin import bp
from admin.auth import has_role, roles_required

ROLE_LABELS: dict[str, Any] = {
    "admin": _l("管理员"),
    "leader": _l("中心领导"),
    "duty": _l("带班人员"),
    "unit": _l("进驻单位"),
}

# (endpoint, label, roles) of the navigation bar; an entry shows when its view exists
# and the user's role may open it (the view checks the role again on the server).
NAV: list[tuple[str, Any, tuple[str, ...]]] = [
    ("admin.index", _l("首页"), ("leader", "duty", "unit")),
]


def register_nav(endpoint: str, label: Any, roles: tuple[str, ...]) -> None:
    """Add a navigation entry (other view modules call this when they are imported)."""
    if all(existing[0] != endpoint for existing in NAV):
        NAV.append((endpoint, label, roles))


@bp.app_context_processor
def navigation() -> dict[str, Any]:
    """The navigation entries the current user may open, for ``admin/base.html``."""

    def admin_nav() -> list[tuple[str, Any]]:
        views = current_app.view_functions
        return [
            (endpoint, label)
            for endpoint, label, roles in NAV
            if endpoint in views and has_role(current_user, *roles)
        ]

    def role_label(role: str) -> Any:
        return ROLE_LABELS.get(role, role)

    # ``base.html`` asks for ``get_locale`` to set ``<html lang>``; Flask-Babel 4 does not
    # put it in the template context itself.
    return {
        "admin_nav": admin_nav,
        "has_role": has_role,
        "role_label": role_label,
        "get_locale": get_locale,
    }


@bp.get("/")
@roles_required("leader", "duty", "unit")
def index() -> ResponseReturnValue:
    """The home page: what the signed-in user can do."""
    return render_template("admin/index.html")


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> ResponseReturnValue:
    """A form came back without a valid CSRF token (expired page or forged request)."""
    return render_template("admin/csrf_error.html"), 400
