"""Sign-in, sign-out, the user loader and the role check of the back office.

Roles: ``admin`` may do everything; ``leader`` reads everything and reviews and
publishes notices; ``duty`` (带班人员) runs today's hall, absences, events, corrections
and work orders; ``unit`` reads its own unit's rows only. Every view states its roles
with :func:`roles_required` (``post=`` for the roles that may change), which is checked on
the server for every request, and sends a user whose password an admin reset to
``/admin/password`` first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from admin.blueprint import bp
from kiosk.extensions import db, login_manager
from kiosk.models import User
from kiosk.services.accounts import authenticate, change_own_password, end_sessions
from kiosk.services.errors import AccountError

F = TypeVar("F", bound=Callable[..., Any])

login_manager.login_view = "admin.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The user of a session cookie's ``<id>:<session_version>``, or None when the user
    no longer exists or the sessions of that version were ended (sign-out, password
    change); cookies without a version (issued before versions existed) are refused."""
    number, _, version = str(user_id).partition(":")
    try:
        user = db.session.get(User, int(number))
        wanted = int(version)
    except (TypeError, ValueError):
        return None
    if user is None or (user.session_version or 0) != wanted:
        return None
    return user


def has_role(user: Any, *roles: str) -> bool:
    """Whether ``user`` is signed in, active and has one of ``roles`` (admin has them all)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.role == "admin" or user.role in roles


# Pages a user whose password was reset by an admin may still open: the password page
# itself (and sign-out, which needs no role).
PASSWORD_PAGE = "admin.password"


def roles_required(*roles: str, post: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """Allow a view only to signed-in, active users with one of ``roles`` (admin always);
    with ``post``, a POST (a change) needs one of those roles instead (read-only roles
    may open the page but not change anything).

    Anonymous visitors are sent to the sign-in page; others get 403. A user whose
    password was reset by an admin is sent to the password page until they choose one.
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
            if current_user.must_change_password and request.endpoint != PASSWORD_PAGE:
                flash(_("管理员已重置您的密码，请先设置新密码。"), "info")
                return redirect(url_for(PASSWORD_PAGE))
            wanted = post if post is not None and request.method == "POST" else roles
            if not has_role(current_user, *wanted):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


class LoginForm(FlaskForm):
    """The sign-in form (CSRF-protected like every form of the back office)."""

    username = StringField(_l("用户名"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(), Length(max=200)])


# Characters browsers drop or treat as separators in a URL: C0 controls, space and DEL.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")


def safe_redirect_path(target: str | None) -> str | None:
    """``target`` when it is a path of this service, else None (one check for every redirect
    that takes its target from the request: sign-in ``next=``, the language switch).

    Only a path starting with exactly one ``/`` passes. Anything with control characters,
    spaces or backslashes is refused outright rather than cleaned, because browsers drop
    tabs and newlines and read a backslash as ``/``: ``/%09/evil.example`` (decoded) and
    ``/%5Cevil.example`` (decoded) both reach another site. Once percent-decoded again,
    the value still may not begin like an address of another site, in case something
    down the line decodes it a second time.
    """
    if not target:
        return None
    if _URL_NOISE.search(target) or "\\" in target:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    decoded = _URL_NOISE.sub("", unquote(target)).replace("\\", "/")
    if decoded.startswith("//") or urlsplit(decoded).netloc:
        return None
    return target


def _address_allowed() -> bool:
    """Count one sign-in attempt of the client's address; False when it is over
    ``LOGIN_RATE_LIMIT`` (shared by every process when the limits store is shared)."""
    limit = current_app.extensions.get("login_rate_limit")
    if limit is None:
        return True
    limiter = current_app.extensions["login_limiter"]
    return bool(limiter.hit(limit, "login", request.remote_addr or "unknown"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in with username and password; repeated failures lock the account.

    Unknown usernames, wrong passwords and locked accounts get the same message and take
    as long, so the page tells an attacker nothing about which accounts exist or are
    locked.
    """
    if current_user.is_authenticated and current_user.is_active:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        if not _address_allowed():
            flash(_("登录尝试过于频繁，请稍后再试。"), "error")
            return render_template("admin/login.html", form=form), 429
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
            return redirect(safe_redirect_path(request.args.get("next")) or url_for("admin.index"))
        status = 401
        if outcome.reason == "inactive":
            # Only shown with the right password, so it reveals nothing a guesser lacks.
            flash(_("该账户已停用，请联系管理员。"), "error")
        else:
            flash(_("用户名或密码错误；连续输错多次后账户将暂时锁定。"), "error")
    elif request.method == "POST":
        status = 400
        flash(_("请填写用户名和密码（页面过期时请刷新后重试）。"), "error")
    return render_template("admin/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token, so a link elsewhere cannot sign anyone out).

    Ends every session of the account, not only this browser's: a copy of the cookie
    taken before stops working too.
    """
    if current_user.is_authenticated:
        end_sessions(db.session, int(current_user.id))
        db.session.commit()
    logout_user()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("admin.login"))


@bp.errorhandler(403)
def forbidden(error: Exception) -> ResponseReturnValue:
    """A signed-in user asked for a page their role does not allow."""
    return render_template("admin/forbidden.html"), 403


class PasswordForm(FlaskForm):
    """Change one's own password: the current one, then the new one twice."""

    current = PasswordField(
        _l("当前密码"), validators=[DataRequired(_l("此项必填。")), Length(max=200)]
    )
    new = PasswordField(_l("新密码"), validators=[DataRequired(_l("此项必填。")), Length(max=200)])
    repeat = PasswordField(
        _l("再次输入新密码"), validators=[DataRequired(_l("此项必填。")), Length(max=200)]
    )


@bp.route("/password", methods=["GET", "POST"])
@roles_required("leader", "duty", "unit")
def password() -> ResponseReturnValue:
    """The signed-in user changes their own password (forced after an admin's reset).

    Every other session of the account ends; this browser stays signed in.
    """
    form = PasswordForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                change_own_password(
                    db.session,
                    current_user,
                    current=form.current.data or "",
                    new=form.new.data or "",
                    repeat=form.repeat.data or "",
                )
            except AccountError as exc:
                db.session.rollback()
                field = getattr(form, exc.code, form.new)
                field.errors = [*field.errors, exc.message]
                status = 400
            else:
                db.session.commit()
                user = db.session.get(User, int(current_user.id))
                if user is not None:
                    login_user(user)  # the new session version: other sessions have ended
                flash(_("密码已修改；其他设备上的登录已全部退出。"), "success")
                return redirect(url_for("admin.index"))
        else:
            status = 400
    forced = bool(getattr(current_user, "must_change_password", False))
    return render_template("admin/password.html", form=form, forced=forced), status
