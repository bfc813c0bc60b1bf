"""Counter terminals (``/admin/terminals``, admins): register, list, revoke.

A new terminal's key is shown once, on the answer to the POST that made it (never
redirected through the session cookie, never cached), with a QR code that pairs the
evaluator pad: the code holds ``<base>/counter/pair#key=KEY``. The key travels in the
URL fragment, which browsers never send to the server, so it appears in no access log;
the pad's pairing page signs in with it as the key form does.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import current_app, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from admin.auth import roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall
from admin.forms import REQUIRED, HallForm, parse_id, select_choices
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.models import Window
from kiosk.services.terminals import NAME_MAX, TerminalError, add_terminal, revoke, terminals_of

register_nav("admin.terminals", _l("评价终端"), ("admin",), 85)


class TerminalForm(HallForm):
    """A new counter terminal: its name and the window it serves."""

    name = StringField(_l("终端名称"), validators=[DataRequired(REQUIRED), Length(max=NAME_MAX)])
    window_code = SelectField(
        _l("所在窗口（window_code）"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )


class RevokeForm(HallForm):
    """Revoke a terminal, with a reason."""

    terminal_id = HiddenField(validators=[DataRequired(REQUIRED)])
    reason = StringField(_l("停用原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


def pairing_url(key: str) -> str:
    """What the pad's QR code holds: the pairing page with the key in the fragment."""
    base = current_app.config["PUBLIC_BASE_URL"]
    path = url_for("counter.pair")
    url = str(base).rstrip("/") + path if base else url_for("counter.pair", _external=True)
    return f"{url}#key={key}"


def qr_svg(text: str) -> Markup:
    """An inline SVG QR code of ``text`` (path image: one element, scales with CSS)."""
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathFillImage,
        box_size=10,
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    # Inline in HTML: the XML declaration is not allowed there.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return Markup(svg)  # noqa: S704  (made by qrcode from a URL; holds no user markup)


def _windows(hall_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Window.code, Window.name).where(Window.hall_id == hall_id).order_by(Window.code)
    ).all()
    return [(code, f"{code} {name}") for code, name in rows]


def _page(form: TerminalForm, revoke_form: RevokeForm, status: int = 200) -> ResponseReturnValue:
    hall = current_hall()
    return (
        render_template(
            "admin/terminals.html",
            form=form,
            revoke_form=revoke_form,
            lines=terminals_of(db.session, hall),
        ),
        status,
    )


def _forms() -> tuple[TerminalForm, RevokeForm]:
    hall = current_hall()
    form = TerminalForm(prefix="new")
    form.window_code.choices = select_choices([("", _("请选择"))] + _windows(hall.id))
    return form, RevokeForm(prefix="revoke")


@bp.get("/terminals")
@roles_required("admin")
def terminals() -> ResponseReturnValue:
    """The hall's terminals and the form that registers one."""
    form, revoke_form = _forms()
    return _page(form, revoke_form)


@bp.post("/terminals")
@roles_required("admin")
def terminal_add() -> ResponseReturnValue:
    """Register a terminal; the answer shows its key and pairing QR code, this once."""
    hall = current_hall()
    form, revoke_form = _forms()
    if not form.validate_on_submit():
        return _page(form, revoke_form, 400)
    try:
        terminal, issued = add_terminal(
            db.session,
            hall,
            name=form.name.data or "",
            window_code=form.window_code.data or "",
            user_id=current_user.id,
        )
    except TerminalError as exc:
        db.session.rollback()
        getattr(form, exc.field).errors = [exc.message]
        return _page(form, revoke_form, 409 if exc.code == "conflict" else 400)
    window = db.session.get(Window, terminal.window_id)
    name = terminal.name
    db.session.commit()
    url = pairing_url(issued.key)
    response = make_response(
        render_template(
            "admin/terminal_key.html",
            name=name,
            window=window,
            key=issued.key,
            pairing_url=url,
            qr=qr_svg(url),
        ),
        201,
    )
    # The key is shown once: no copy in any cache, and the page cannot be re-fetched.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.post("/terminals/revoke")
@roles_required("admin")
def terminal_revoke() -> ResponseReturnValue:
    """Revoke a terminal, after a confirmation step; its key stops working at once."""
    hall = current_hall()
    form, revoke_form = _forms()
    if not revoke_form.validate_on_submit():
        if not revoke_form.reason.errors:
            revoke_form.reason.errors = [_("请刷新页面后重试。")]
        return _page(form, revoke_form, 400)
    try:
        terminal = revoke(
            db.session,
            hall,
            parse_id(revoke_form.terminal_id.data),
            user_id=current_user.id,
            reason=revoke_form.reason.data or "",
        )
    except TerminalError as exc:
        db.session.rollback()
        revoke_form.reason.errors = [exc.message]
        return _page(form, revoke_form, 404 if exc.code == "not_found" else 409)
    if not confirmed():
        name = terminal.name
        db.session.rollback()
        return confirm_page(
            title=_("确认停用评价终端"),
            message=_(
                "停用后该终端的密钥立即失效，已登录的评价器也将退出；停用不可撤销，需重新登记新终端。"
            ),
            details=[
                _("终端：%(name)s", name=name),
                _("原因：%(why)s", why=revoke_form.reason.data or ""),
            ],
            confirm_label=_("确认停用"),
            cancel_url=url_for("admin.terminals"),
        )
    name = terminal.name
    db.session.commit()
    flash(_("已停用终端“%(name)s”。", name=name), "success")
    return redirect(url_for("admin.terminals"))
