"""Account administration (admins only): create users, unlock, deactivate (with the
officer's future roster days kept, cleared or handed on), reactivate, reset a password."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from admin.auth import roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall
from admin.forms import REQUIRED, parse_id, select_choices
from admin.views import ROLE_LABELS, register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import USER_ROLES, Hall, Unit, User, utcnow
from kiosk.services.accounts import (
    check_may_manage,
    create_user,
    reset_password,
    set_active,
    unlock_user,
    users_of,
)
from kiosk.services.errors import AccountError, RosterError
from kiosk.services.roster import eligible_officers, future_days, hand_over

register_nav("admin.users", _l("用户管理"), ("admin",), 95)


class NewUserForm(FlaskForm):
    """A new back-office account."""

    username = StringField(_l("用户名"), validators=[DataRequired(REQUIRED), Length(max=64)])
    display_name = StringField(_l("姓名"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("角色"), validators=[DataRequired(REQUIRED)])
    unit = SelectField(_l("单位（仅进驻单位账户）"), validators=[Optional()])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(REQUIRED), Length(max=200)])


class AccountActionForm(FlaskForm):
    """Unlock, deactivate, reactivate or reset the password of an account, with a reason;
    deactivating a duty officer also says what becomes of their future roster days."""

    user_id = StringField(validators=[DataRequired(REQUIRED)])
    action = StringField(validators=[DataRequired(REQUIRED), Length(max=16)])
    reason = StringField(_l("原因"), validators=[DataRequired(REQUIRED), Length(max=500)])
    days = StringField(validators=[Optional(), Length(max=8)])
    to_user = StringField(validators=[Optional(), Length(max=12)])


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users() -> ResponseReturnValue:
    """The hall's accounts with their state, and the forms that change them."""
    hall = current_hall()
    form = NewUserForm(prefix="new")
    form.role.choices = select_choices([(r, str(ROLE_LABELS[r])) for r in USER_ROLES])
    units = list(
        db.session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    )
    form.unit.choices = select_choices(
        [("", "—")] + [(u.code, f"{u.code} {u.name}") for u in units]
    )
    action_form = AccountActionForm(prefix="act")
    if request.method == "POST":
        kind = request.form.get("kind")
        target_form = form if kind == "create" else action_form
        if not target_form.validate_on_submit():
            flash(_("请填写所有必填项（原因必填）。"), "error")
        else:
            try:
                if kind == "create":
                    create_user(
                        db.session,
                        username=form.username.data or "",
                        password=form.password.data or "",
                        role=form.role.data or "",
                        hall=hall,
                        unit_code=form.unit.data or None,
                        display_name=form.display_name.data or "",
                        actor_id=current_user.id,
                    )
                    message = _("已创建用户。")
                else:
                    user_id = parse_id(action_form.user_id.data)
                    target = db.session.get(User, user_id) if user_id else None
                    if target is None or target.hall_id not in (hall.id, None):
                        raise AccountError(_("没有这个用户。"))
                    check_may_manage(current_user, target)
                    action = action_form.action.data
                    if action == "unlock":
                        unlock_user(
                            db.session,
                            target,
                            actor_id=current_user.id,
                            reason=action_form.reason.data or "",
                        )
                    elif action == "reset":
                        temporary = reset_password(
                            db.session,
                            target,
                            actor_id=current_user.id,
                            reason=action_form.reason.data,
                        )
                        db.session.commit()
                        # Shown once, on this answer only: never flashed (the session
                        # cookie is signed, not secret) and never stored in clear.
                        return _users_page(
                            hall, form, action_form, reset_for=target, temporary=temporary
                        )
                    elif action in ("deactivate", "activate"):
                        days = _hand_over_days(hall, target, action_form)
                        set_active(
                            db.session,
                            target,
                            action == "activate",
                            actor_id=current_user.id,
                            reason=action_form.reason.data,
                        )
                        if action == "deactivate" and not confirmed():
                            # Checked and refused nothing; kept only once confirmed.
                            db.session.rollback()
                            return _confirm_deactivation(hall, target, action_form, days)
                    else:
                        raise AccountError(_("未知的操作。"))
                    message = _("已更新用户。")
            except (AccountError, RosterError, ValueError) as exc:
                db.session.rollback()
                flash(_("未做更改：%(why)s", why=str(exc)), "error")
            else:
                db.session.commit()
                flash(message, "success")
                return redirect(url_for("admin.users"))
    return _users_page(hall, form, action_form)


def _users_page(
    hall: Hall,
    form: NewUserForm,
    action_form: AccountActionForm,
    *,
    reset_for: User | None = None,
    temporary: str | None = None,
) -> ResponseReturnValue:
    zone = hall_zone(hall.timezone)
    lines = [
        (line, to_local(line.locked_until, zone) if line.locked_until else None)
        for line in users_of(db.session, hall)
    ]
    response = render_template(
        "admin/users.html",
        form=form,
        action_form=action_form,
        lines=lines,
        reset_for=reset_for,
        temporary=temporary,
    )
    if temporary is None:
        return response
    return response, 200, {"Cache-Control": "no-store"}


def _today(hall: Hall) -> dt.date:
    return to_local(utcnow(), hall_zone(hall.timezone)).date()


def _hand_over_days(hall: Hall, target: User, action_form: AccountActionForm) -> list[dt.date]:
    """On the confirmed deactivation of a duty officer: keep, clear or hand on their
    future roster days as chosen (audited); the days concerned."""
    if action_form.action.data != "deactivate" or not target.active:
        return []
    days = future_days(db.session, hall, target.id, _today(hall))
    if not days or not confirmed():
        return days
    hand_over(
        db.session,
        hall,
        officer=target,
        choice=action_form.days.data or "",
        to_user_id=parse_id(action_form.to_user.data),
        today=_today(hall),
        actor_id=current_user.id,
        reason=action_form.reason.data,
    )
    return days


def _confirm_deactivation(
    hall: Hall, target: User, action_form: AccountActionForm, days: list[dt.date]
) -> ResponseReturnValue:
    """The confirmation page; for an officer with future roster days, it asks what to do
    with them (keep, clear, or hand to another officer)."""
    details = [
        _("账户：%(name)s", name=target.display_name or target.username),
        _("原因：%(why)s", why=action_form.reason.data or ""),
    ]
    handover = None
    if days:
        details.append(
            _(
                "该账户今后还有 %(n)d 个带班日：%(days)s",
                n=len(days),
                days="、".join(d.isoformat() for d in days[:10]) + ("…" if len(days) > 10 else ""),
            )
        )
        handover = {
            "officers": [
                (u.id, u.display_name or u.username)
                for u in eligible_officers(db.session, hall)
                if u.id != target.id
            ]
        }
    return confirm_page(
        title=_("确认停用账户"),
        message=_("停用后该账户立即不能登录后台；可由管理员重新启用。"),
        details=details,
        confirm_label=_("确认停用"),
        cancel_url=url_for("admin.users"),
        handover=handover,
    )
