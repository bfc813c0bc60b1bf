"""Sign-in, sign-out, the user loader and the role check of the back office.

Roles: ``admin`` may do everything; ``leader`` reviews and publishes notices; ``duty``
(带班人员) runs today's hall, absences, events, corrections and work orders; ``unit``
reads its own unit's staff only. Every view states its roles with
:func:`roles_required`, which is checked on the server for every request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.services.accounts import authenticate
from kiosk.extensions import db, login_manager
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, User

F = TypeVar("F", bound=Callable[..., Any])

login_manager.login_view = "admin.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user of a session cookie, or None when it no longer exists."""
    try:
        return db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None


def has_role(user: Any, *roles: str) -> bool:
    """Whether ``user`` is signed in, active and has one of ``roles`` (admin has them all)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.role == "admin" or user.role in roles


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow a view only to signed-in, active users with one of ``roles`` (admin always).

    Anonymous visitors are sent to the sign-in page; others get 403.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.is_active:
                # A deactivated account loses its open sessions at the next request.
                logout_user()
                return login_manager.unauthorized()
            if not has_role(current_user, *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


class LoginForm(FlaskForm):
    """The sign-in form (CSRF-protected like every form of the back office)."""

    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str | None:
    """A same-site path to go back to after sign-in; anything else is dropped."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _local_text(user: User, instant: Any) -> str:
    """A stored instant as the user's hall-local ``YYYY-MM-DD HH:MM`` for messages."""
    zone_name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    if user.hall_id is not None:
        hall = db.session.get(Hall, user.hall_id)
        if hall is not None:
            zone_name = hall.timezone
    return to_local(instant, hall_zone(zone_name)).strftime("%Y-%m-%d %H:%M")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in with username and password; repeated failures lock the account."""
    if current_user.is_authenticated and current_user.is_active:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        outcome = authenticate(
            db.session,
            form.username.data or "",
            form.password.data or "",
            max_failures=int(current_app.config["LOGIN_MAX_FAILURES"]),
            lockout_seconds=int(current_app.config["LOGIN_LOCKOUT_SECONDS"]),
        )
        db.session.commit()
        if outcome.user is not None:
            login_user(outcome.user)
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.index"))
        status = 401
        if outcome.reason == "locked" and outcome.locked_until is not None:
            user = db.session.scalar(
                db.select(User).where(User.username == (form.username.data or "").strip())
            )
            until = _local_text(user, outcome.locked_until) if user else ""
            flash(_("登录失败次数过多，账户已锁定至 %(until)s。", until=until), "error")
        elif outcome.reason == "inactive":
            flash(_("该账户已停用，请联系管理员。"), "error")
        else:
            flash(_("用户名或密码错误。"), "error")
    elif request.method == "POST":
        status = 400
        flash(_("请填写用户名和密码（页面过期时请刷新后重试）。"), "error")
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token, so a link elsewhere cannot sign anyone out)."""
    logout_user()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("admin.login"))


@bp.errorhandler(403)
def forbidden(error: Exception) -> ResponseReturnValue:
    """A signed-in user asked for a page their role does not allow."""
    return render_template("admin/forbidden.html"), 403
