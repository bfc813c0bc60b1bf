"""The hall's set-up pages (SPEC 10): units, windows and the hall's settings of SPEC 2.

Admins change them; leaders and duty officers read them. Each POST goes through
:mod:`kiosk.services.hallsetup`, which makes the change through the hall-file importer
(so it exports as if imported) and audits it, or refuses with a message per field: the
form comes back with the message beside its field and nothing is changed. A change
redirects to the list with a message.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.context import SESSION_KEY, current_hall
from admin.forms import HallForm, first_error, select_choices
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.services import hallsetup
from kiosk.services.errors import Refused
from kiosk.services.hallsetup import ScheduleInput, SettingsInput, SetupError

READERS = ("leader", "duty")
# A form's text may be pasted from anywhere: the field takes a little more than the limit,
# so an overlong value reaches the service and is refused with its message.
SLACK = 50

register_nav("admin.units", _l("进驻单位"), READERS, 60)
register_nav("admin.windows", _l("窗口"), READERS, 61)
register_nav("admin.hall_settings", _l("中心设置"), READERS, 63)


def lock_wait() -> float:
    """Seconds a change waits for a running import (the import's own setting)."""
    return float(current_app.config["IMPORT_LOCK_WAIT"])


def form_errors(form: HallForm) -> dict[str, str]:
    """The form's own field errors by field name ("" for an expired page)."""
    errors: dict[str, str] = {}
    for name, messages in form.errors.items():
        if name == "csrf_token":
            errors[""] = first_error(form)
        elif messages:
            errors[name] = str(messages[0])
    return errors


def refused(exc: Refused) -> dict[str, str]:
    """A service refusal as field messages (a general one under "")."""
    db.session.rollback()
    if isinstance(exc, SetupError):
        return exc.fields
    return {"": exc.message}


def general_error(errors: dict[str, str]) -> None:
    """Flash what no field of the form shows (the page expired, a lock, the importer)."""
    if errors.get(""):
        flash(_("未做更改：%(why)s", why=errors[""]), "error")
    elif errors:
        flash(_("未做更改：请按提示修改标红的项目。"), "error")


# ----------------------------------------------------------------------------------- units


class UnitForm(HallForm):
    """A unit (``[[unit]]`` of the hall file): code, name and ``org_code``."""

    code = StringField(
        _l("单位代码（code）"), validators=[Length(max=hallsetup.UNIT_CODE_LEN + SLACK)]
    )
    name = StringField(
        _l("单位名称（name）"), validators=[Length(max=hallsetup.UNIT_NAME_LEN + SLACK)]
    )
    org_code = StringField(
        _l("统一社会信用代码（18位，org_code）"),
        validators=[Length(max=hallsetup.ORG_CODE_LEN + SLACK)],
    )


def sent_or_none(name: str) -> str | None:
    """A field of the posted form, or None when the form did not send it (kept as it is)."""
    return request.form.get(name) if name in request.form else None


@bp.get("/units")
@roles_required(*READERS)
def units() -> ResponseReturnValue:
    """The hall's units with their window counts."""
    hall = current_hall()
    return render_template(
        "admin/units.html",
        lines=hallsetup.unit_lines(db.session, hall),
        may_change=has_role(current_user, "admin"),
    )


@bp.route("/units/new", methods=["GET", "POST"])
@roles_required("admin")
def unit_new() -> ResponseReturnValue:
    """Add a unit."""
    hall = current_hall()
    form = UnitForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                unit = hallsetup.add_unit(
                    db.session,
                    hall,
                    code=form.code.data or "",
                    name=form.name.data or "",
                    org_code=form.org_code.data or "",
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                flash(
                    _("已添加单位 %(code)s %(name)s。", code=unit.code, name=unit.name), "success"
                )
                return redirect(url_for("admin.units"))
        else:
            errors = form_errors(form)
        general_error(errors)
    status = 400 if errors else 200
    return render_template("admin/unit_form.html", form=form, errors=errors, unit=None), status


@bp.route("/units/<code>", methods=["GET", "POST"])
@roles_required("admin")
def unit_edit(code: str) -> ResponseReturnValue:
    """Change a unit's name or ``org_code`` (its code is the key of the hall file and stays)."""
    hall = current_hall()
    try:
        unit = hallsetup.unit_by_code(db.session, hall, code)
    except SetupError:
        abort(404)
    data = None
    if request.method == "GET":
        data = {"code": unit.code, "name": unit.name, "org_code": unit.org_code or ""}
    form = UnitForm(data=data)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            old_name = unit.name
            try:
                hallsetup.edit_unit(
                    db.session,
                    hall,
                    code=unit.code,
                    name=form.name.data or "",
                    org_code=sent_or_none("org_code"),
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                if old_name != (form.name.data or "").strip():
                    message = _(
                        "已将单位 %(code)s 更名为 %(name)s。", code=code, name=form.name.data
                    )
                else:
                    message = _("已更新单位 %(code)s。", code=code)
                flash(message, "success")
                return redirect(url_for("admin.units"))
        else:
            errors = form_errors(form)
        general_error(errors)
    form.code.data = unit.code
    status = 400 if errors else 200
    return render_template("admin/unit_form.html", form=form, errors=errors, unit=unit), status


# --------------------------------------------------------------------------------- windows


class WindowForm(HallForm):
    """A window (``[[window]]`` of the hall file): code, name, unit and handles_cases."""

    code = StringField(
        _l("窗口编号（code）"), validators=[Length(max=hallsetup.WINDOW_CODE_LEN + SLACK)]
    )
    name = StringField(
        _l("窗口名称（name）"), validators=[Length(max=hallsetup.WINDOW_NAME_LEN + SLACK)]
    )
    unit = SelectField(_l("所属单位（unit）"), validate_choice=False)
    handles_cases = BooleanField(_l("承办办件（handles_cases）"))


def _window_form(hall: Any, data: dict[str, Any] | None = None) -> WindowForm:
    form = WindowForm(data=data)
    form.unit.choices = select_choices(
        [("", "—")]
        + [(u.code, f"{u.code} {u.name}") for u in hallsetup.unit_lines(db.session, hall)]
    )
    return form


@bp.get("/windows")
@roles_required(*READERS)
def windows() -> ResponseReturnValue:
    """The hall's windows with their units."""
    hall = current_hall()
    return render_template(
        "admin/windows.html",
        lines=hallsetup.window_lines(db.session, hall),
        may_change=has_role(current_user, "admin"),
    )


@bp.route("/windows/new", methods=["GET", "POST"])
@roles_required("admin")
def window_new() -> ResponseReturnValue:
    """Add a window."""
    hall = current_hall()
    form = _window_form(hall, {"handles_cases": True} if request.method == "GET" else None)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                window = hallsetup.add_window(
                    db.session,
                    hall,
                    code=form.code.data or "",
                    name=form.name.data or "",
                    unit=form.unit.data or "",
                    handles_cases=bool(form.handles_cases.data),
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                flash(
                    _("已添加窗口 %(code)s %(name)s。", code=window.code, name=window.name),
                    "success",
                )
                return redirect(url_for("admin.windows"))
        else:
            errors = form_errors(form)
        general_error(errors)
    status = 400 if errors else 200
    return render_template("admin/window_form.html", form=form, errors=errors, window=None), status


@bp.route("/windows/<code>", methods=["GET", "POST"])
@roles_required("admin")
def window_edit(code: str) -> ResponseReturnValue:
    """Change a window's name, unit or handles_cases (its code stays)."""
    hall = current_hall()
    try:
        window = hallsetup.window_by_code(db.session, hall, code)
    except SetupError:
        abort(404)
    data = None
    if request.method == "GET":
        data = {
            "code": window.code,
            "name": window.name,
            "unit": window.unit.code,
            "handles_cases": window.handles_cases,
        }
    form = _window_form(hall, data)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                hallsetup.edit_window(
                    db.session,
                    hall,
                    code=window.code,
                    name=form.name.data or "",
                    unit=form.unit.data or "",
                    handles_cases=bool(form.handles_cases.data),
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                flash(_("已更新窗口 %(code)s。", code=code), "success")
                return redirect(url_for("admin.windows"))
        else:
            errors = form_errors(form)
        general_error(errors)
    form.code.data = window.code
    status = 400 if errors else 200
    return render_template(
        "admin/window_form.html", form=form, errors=errors, window=window
    ), status


# --------------------------------------------------------------------------- hall settings


class SettingsForm(HallForm):
    """The CSRF token of the settings form; its fields are read by name (lists of rows)."""


def _settings_input() -> SettingsInput:
    """The settings form as sent: ``schedule-N-from`` ... rows, then the single fields.

    Nothing is cut short here: an overlong value reaches the service and is refused there
    (the request itself is bounded by ``MAX_CONTENT_LENGTH``)."""
    form = request.form
    count = min(sum(1 for k in form if k.startswith("schedule-") and k.endswith("-from")), 50)
    rows: list[tuple[int, int, ScheduleInput]] = []
    for index in range(count):
        prefix = f"schedule-{index}-"
        if form.get(prefix + "delete"):
            continue
        item = ScheduleInput(
            *(
                form.get(prefix + key, "")
                for key in ("name", "from", "to", "am-start", "am-end", "pm-start", "pm-end")
            )
        )
        if item.blank():
            continue
        # The order (1 first) decides which schedule applies where two hold a day.
        order = form.get(prefix + "order", "").strip()
        rank = int(order) if order.isascii() and order.isdigit() and len(order) < 4 else 999
        rows.append((rank, index, item))
    return SettingsInput(
        schedules=tuple(item for _rank, _index, item in sorted(rows, key=lambda r: r[:2])),
        grace_minutes=form.get("grace_minutes", ""),
        debounce_seconds=form.get("debounce_seconds", ""),
        closed_days=form.get("closed_days", ""),
        extra_workdays=form.get("extra_workdays", ""),
        reasons=form.get("reasons", ""),
        default_after_days=sent_or_none("default_after_days"),
        callback_workdays=sent_or_none("callback_workdays"),
        appeal_workdays=sent_or_none("appeal_workdays"),
        area_code=sent_or_none("area_code"),
    )


def _shown(view: hallsetup.SettingsView) -> dict[str, Any]:
    return {
        "schedules": list(view.schedules),
        "grace_minutes": str(view.grace_minutes),
        "debounce_seconds": str(view.debounce_seconds),
        "closed_days": "\n".join(view.closed_days),
        "extra_workdays": "\n".join(view.extra_workdays),
        "reasons": "\n".join(view.reasons),
        "default_after_days": str(view.default_after_days),
        "callback_workdays": str(view.callback_workdays),
        "appeal_workdays": str(view.appeal_workdays),
        "area_code": view.area_code,
    }


class NewHallForm(HallForm):
    """A new hall (``[hall]`` of the hall file): code, name and time zone."""

    code = StringField(
        _l("中心代码（code）"), validators=[Length(max=hallsetup.HALL_CODE_LEN + SLACK)]
    )
    name = StringField(
        _l("中心名称（name）"), validators=[Length(max=hallsetup.HALL_NAME_LEN + SLACK)]
    )
    timezone = StringField(_l("时区（timezone）"), validators=[Length(max=64 + SLACK)])


@bp.route("/hall/new", methods=["GET", "POST"])
@roles_required("admin")
def hall_new() -> ResponseReturnValue:
    """Create a hall, so a new database is set up in the browser alone (an admin of no
    hall only: an admin of a hall has theirs)."""
    if current_user.hall_id is not None:
        abort(403)
    form = NewHallForm(data={"timezone": "Asia/Shanghai"} if request.method == "GET" else None)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                hall = hallsetup.create_hall(
                    db.session,
                    code=form.code.data or "",
                    name=form.name.data or "",
                    timezone=form.timezone.data or "",
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                session[SESSION_KEY] = hall.code
                flash(_("已建立 %(name)s，请核对作息时间等设置。", name=hall.name), "success")
                return redirect(url_for("admin.hall_settings"))
        else:
            errors = form_errors(form)
        general_error(errors)
    status = 400 if errors else 200
    return render_template("admin/hall_new.html", form=form, errors=errors), status


@bp.route("/hall", methods=["GET", "POST"])
@roles_required(*READERS)
def hall_settings() -> ResponseReturnValue:
    """The hall's settings of SPEC 2; admins change them, others read."""
    if has_role(current_user, "admin") and not hallsetup.any_hall(db.session):
        return redirect(url_for("admin.hall_new"))
    hall = current_hall()
    may_change = has_role(current_user, "admin")
    form = SettingsForm()
    errors: dict[str, str] = {}
    shown = _shown(hallsetup.settings_view(db.session, hall))
    if request.method == "POST":
        if not may_change:
            abort(403)
        sent = _settings_input()
        if form.validate_on_submit():
            try:
                hallsetup.update_settings(
                    db.session, hall, sent, user_id=current_user.id, lock_wait=lock_wait()
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                flash(_("已保存中心设置。"), "success")
                for name in hallsetup.unused_schedules(hall.settings):
                    flash(
                        _(
                            "作息时间“%(name)s”的日期都已被排在前面的作息时间包含，不会生效；"
                            "如需生效，请把它的顺序调到前面。",
                            name=name,
                        ),
                        "info",
                    )
                return redirect(url_for("admin.hall_settings"))
        else:
            errors = form_errors(form)
        general_error(errors)
        # Shown in the order they were checked in, so each message sits beside its row.
        shown.update(
            schedules=list(sent.schedules),
            grace_minutes=sent.grace_minutes,
            debounce_seconds=sent.debounce_seconds,
            closed_days=sent.closed_days,
            extra_workdays=sent.extra_workdays,
            reasons=sent.reasons,
        )
        for key, value in (*sent.loop_days().items(), ("area_code", sent.area_code)):
            if value is not None:
                shown[key] = value
    status = 400 if errors else 200
    return (
        render_template(
            "admin/hall_settings.html",
            form=form,
            errors=errors,
            shown=shown,
            hall=hall,
            may_change=may_change,
            loop_ranges=hallsetup.LOOP_RANGES,
        ),
        status,
    )


@bp.get("/hall/hall.toml")
@roles_required(*READERS)
def hall_file() -> ResponseReturnValue:
    """The hall's hall.toml as it is now (imports back unchanged)."""
    hall = current_hall()
    return Response(
        hallsetup.export_hall_file(db.session, hall),
        mimetype="application/toml",
        headers={"Content-Disposition": f"attachment; filename={hall.code}-hall.toml"},
    )
