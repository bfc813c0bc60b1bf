"""The back office's home page and navigation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from admin.auth import has_role, roles_required, safe_redirect_path
from admin.blueprint import bp
from admin.context import all_halls
from kiosk.config import LANGUAGES

ROLE_LABELS: dict[str, Any] = {
    "admin": _l("管理员"),
    "leader": _l("中心领导"),
    "duty": _l("带班人员"),
    "unit": _l("进驻单位"),
}

# Labels of codes the pages show; translated at render time.
LABELS: dict[str, Any] = {
    "AM_IN": _l("上午上班"),
    "AM_OUT": _l("上午下班"),
    "PM_IN": _l("下午上班"),
    "PM_OUT": _l("下午下班"),
    "on_time": _l("正常"),
    "late": _l("迟到"),
    "early": _l("早退"),
    "missing": _l("缺卡"),
    "excused": _l("已准假"),
    "pending": _l("待打卡"),
    "punched": _l("已打卡"),
    "unpunched": _l("未打卡"),
    "leave": _l("请假"),
    "out": _l("外出"),
    "spot_check": _l("巡查抽查"),
    "complaint": _l("投诉"),
    "commendation": _l("表扬"),
    "upheld": _l("属实"),
    "unfounded": _l("不属实"),
    "device": _l("指纹机"),
    "import": _l("导入"),
    "correction": _l("补录"),
    "connected": _l("在线"),
    "disconnected": _l("离线"),
    "error": _l("故障"),
    "unknown": _l("未知"),
    "absence": _l("旷工"),
    "discipline": _l("违纪"),
    "unrectified_bad_review": _l("差评未按期整改"),
    "veto": _l("被一票否决"),
    "too_few_ratings": _l("有效评价不足"),
    "too_few_duty_days": _l("在岗天数不足"),
    "below_threshold": _l("总分未达标"),
    "advanced": _l("先进个人"),
    "red_flag": _l("红旗窗口"),
}

# (endpoint, label, roles) of the navigation bar; an entry shows when its view exists
# and the user's role may open it (the view checks the role again on the server).
# ``order`` places an entry in the bar (lower first; 50 when not given).
NAV: list[tuple[str, Any, tuple[str, ...], int]] = [
    ("admin.index", _l("首页"), ("leader", "duty", "unit"), 0),
]


def register_nav(endpoint: str, label: Any, roles: tuple[str, ...], order: int = 50) -> None:
    """Add a navigation entry (other view modules call this when they are imported)."""
    if all(existing[0] != endpoint for existing in NAV):
        NAV.append((endpoint, label, roles, order))
        NAV.sort(key=lambda entry: entry[3])


@bp.app_context_processor
def navigation() -> dict[str, Any]:
    """The navigation entries the current user may open, for ``admin/base.html``."""

    def admin_nav() -> list[tuple[str, Any]]:
        views = current_app.view_functions
        return [
            (endpoint, label)
            for endpoint, label, roles, _order in NAV
            if endpoint in views and has_role(current_user, *roles)
        ]

    def role_label(role: str) -> Any:
        return ROLE_LABELS.get(role, role)

    def workorders_endpoint() -> str | None:
        """The work-order list of the back office, once that module is registered."""
        for endpoint in sorted(current_app.view_functions):
            if endpoint.startswith("admin.workorder") and "<" not in endpoint:
                rule = next(current_app.url_map.iter_rules(endpoint), None)
                if rule is not None and not rule.arguments:
                    return endpoint
        return None

    def label(code: Any) -> Any:
        return LABELS.get(str(code), code) if code is not None else ""

    # ``base.html`` asks for ``get_locale`` to set ``<html lang>``; Flask-Babel 4 does not
    # put it in the template context itself.
    def hall_choices() -> list[tuple[str, str]]:
        """(code, name) of every hall, for admins who belong to none and when there are
        several; empty otherwise (no chooser is shown)."""
        if not getattr(current_user, "is_authenticated", False) or current_user.hall_id:
            return []
        halls = all_halls()
        return [(h.code, h.name) for h in halls] if len(halls) > 1 else []

    return {
        "hall_choices": hall_choices,
        "admin_nav": admin_nav,
        "has_role": has_role,
        "role_label": role_label,
        "label": label,
        "fmt": fmt,
        "workorders_endpoint": workorders_endpoint,
        "get_locale": get_locale,
    }


def fmt(value: Any, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A date or time for a table cell; empty for None, numbers to 2 decimals."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime(pattern if isinstance(value, dt.datetime) else "%Y-%m-%d")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


@bp.get("/")
@roles_required("leader", "duty", "unit")
def index() -> ResponseReturnValue:
    """The home page: what the signed-in user can do."""
    return render_template("admin/index.html")


@bp.errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> ResponseReturnValue:
    """A form came back without a valid CSRF token (expired page or forged request)."""
    return render_template("admin/csrf_error.html"), 400


@bp.get("/lang/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Remember the visitor's language in the ``lang`` cookie the locale selector reads."""
    target = safe_redirect_path(request.args.get("next")) or url_for("admin.index")
    response = redirect(target)
    if code in LANGUAGES:
        response.set_cookie(
            "lang",
            code,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        )
    return response
