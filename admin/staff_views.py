"""The staff pages (SPEC 10): the list, a new person, one person's page and their photo.

Admins change; leaders and duty officers read every person; a unit viewer reads the
people who sat at a window of their unit. Each POST goes through
:mod:`kiosk.services.staffing`, which writes the change as roster rows through the roster
importer (so it exports as if imported) and audits it, or refuses with a message per
field: the form comes back with the message beside its field and nothing is changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField, StringField
from wtforms.validators import Length

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.context import current_hall, viewer_unit_id
from admin.forms import HallForm, parse_id, select_choices
from admin.setup_views import SLACK, form_errors, general_error, lock_wait, refused
from admin.views import register_nav
from kiosk.bodysize import allow_body
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import utcnow
from kiosk.services import staffing
from kiosk.services.errors import Refused
from kiosk.services.hallsetup import SetupError

READERS = ("leader", "duty", "unit")

register_nav("admin.staff", _l("工作人员"), READERS, 62)


def _today() -> dt.date:
    return to_local(utcnow(), hall_zone(current_hall().timezone)).date()


def _window_choices(hall: Any) -> list[Any]:
    return select_choices([("", "—")] + staffing.window_choices(db.session, hall))


class NewStaffForm(HallForm):
    """A new person and their first assignment (a roster row of SPEC 6)."""

    staff_no = StringField(
        _l("工号（staff_no）"), validators=[Length(max=staffing.STAFF_NO_LEN + SLACK)]
    )
    name = StringField(_l("姓名（name）"), validators=[Length(max=staffing.NAME_LEN + SLACK)])
    window_code = SelectField(_l("窗口（window_code）"), validate_choice=False)
    start_date = StringField(_l("起始日期（start_date）"), validators=[Length(max=40)])
    end_date = StringField(_l("截止日期（end_date，可不填）"), validators=[Length(max=40)])


class MoveForm(HallForm):
    """Move to another window from a date."""

    window_code = SelectField(_l("调往窗口（window_code）"), validate_choice=False)
    start_date = StringField(_l("调岗日期（start_date）"), validators=[Length(max=40)])


class LeaveForm(HallForm):
    """End the assignment: the person leaves after ``end_date``."""

    end_date = StringField(_l("离岗日期（end_date，当天仍在岗）"), validators=[Length(max=40)])


class PhotoForm(HallForm):
    """The CSRF token of the photo upload (the file is read from ``photo``)."""


@bp.get("/staff")
@roles_required(*READERS)
def staff() -> ResponseReturnValue:
    """The hall's staff: search by number or name, filter by unit and window, paged."""
    hall = current_hall()
    args = request.args
    page = parse_id(args.get("page")) or 1
    result = staffing.staff_page(
        db.session,
        hall,
        today=_today(),
        q=args.get("q", "")[: staffing.SEARCH_MAX],
        unit=args.get("unit", "")[:64],
        window=args.get("window", "")[:64],
        page=page,
        only_unit_id=viewer_unit_id(),
    )
    return render_template(
        "admin/staff.html",
        result=result,
        q=args.get("q", "")[: staffing.SEARCH_MAX],
        unit=args.get("unit", "")[:64],
        window=args.get("window", "")[:64],
        units=staffing.unit_choices(db.session, hall),
        windows=staffing.window_choices(db.session, hall),
        may_change=has_role(current_user, "admin"),
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@roles_required("admin")
def staff_new() -> ResponseReturnValue:
    """Add a person with a first assignment."""
    hall = current_hall()
    form = NewStaffForm()
    form.window_code.choices = _window_choices(hall)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                person = staffing.add_staff(
                    db.session,
                    hall,
                    staff_no=form.staff_no.data or "",
                    name=form.name.data or "",
                    window_code=form.window_code.data or "",
                    start_date=form.start_date.data or "",
                    end_date=form.end_date.data or "",
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
            except Refused as exc:
                errors = refused(exc)
            else:
                db.session.commit()
                flash(
                    _("已添加工作人员 %(no)s %(name)s。", no=person.staff_no, name=person.name),
                    "success",
                )
                return redirect(url_for("admin.staff"))
        else:
            errors = form_errors(form)
        general_error(errors)
    status = 400 if errors else 200
    return render_template("admin/staff_new.html", form=form, errors=errors), status


def _visible_person(hall: Any, staff_no: str) -> staffing.PersonView:
    """The person of the page, or 404 (also for a unit viewer's person of another unit)."""
    try:
        person = staffing.person_view(db.session, hall, staff_no, _today())
    except SetupError:
        abort(404)
    unit_id = viewer_unit_id()
    if unit_id is not None and unit_id not in person.unit_ids:
        abort(404)
    return person


def _person_page(
    hall: Any,
    staff_no: str,
    move_form: MoveForm,
    leave_form: LeaveForm,
    errors: dict[str, str],
    which: str = "",
) -> ResponseReturnValue:
    person = _visible_person(hall, staff_no)
    month_error = None
    try:
        first = staffing.parse_month(request.args.get("month"), _today())
    except ValueError as exc:
        month_error = str(exc)
        first = _today().replace(day=1)
    month = staffing.person_month(db.session, hall, person.staff_no, first)
    status = 400 if errors or month_error else 200
    return (
        render_template(
            "admin/person.html",
            person=person,
            month=month,
            month_value=first.strftime("%Y-%m"),
            month_error=month_error,
            move_form=move_form,
            leave_form=leave_form,
            photo_form=PhotoForm(),
            errors=errors,
            which=which,
            may_change=has_role(current_user, "admin"),
            max_mb=staffing.PHOTO_MAX_BYTES // (1024 * 1024),
            today=_today(),
        ),
        status,
    )


def _forms(hall: Any) -> tuple[MoveForm, LeaveForm]:
    move_form = MoveForm(prefix="move")
    move_form.window_code.choices = _window_choices(hall)
    return move_form, LeaveForm(prefix="leave")


@bp.get("/staff/<staff_no>")
@roles_required(*READERS)
def person(staff_no: str) -> ResponseReturnValue:
    """One person: assignment history, a month of punches and slots, the photo."""
    hall = current_hall()
    move_form, leave_form = _forms(hall)
    return _person_page(hall, staff_no, move_form, leave_form, {})


@bp.post("/staff/<staff_no>")
@roles_required("admin")
def person_change(staff_no: str) -> ResponseReturnValue:
    """Move the person to another window from a date, or end their assignment."""
    hall = current_hall()
    _visible_person(hall, staff_no)
    move_form, leave_form = _forms(hall)
    action = request.form.get("action")
    form: HallForm = move_form if action == "move" else leave_form
    errors: dict[str, str] = {}
    if action not in ("move", "leave"):
        abort(400)
    if form.validate_on_submit():
        try:
            if action == "move":
                staffing.move_staff(
                    db.session,
                    hall,
                    staff_no=staff_no,
                    window_code=move_form.window_code.data or "",
                    start_date=move_form.start_date.data or "",
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
                message = _(
                    "已调岗：%(no)s 自 %(day)s 起在 %(w)s 窗口。",
                    no=staff_no,
                    day=move_form.start_date.data,
                    w=move_form.window_code.data,
                )
            else:
                staffing.end_assignment(
                    db.session,
                    hall,
                    staff_no=staff_no,
                    end_date=leave_form.end_date.data or "",
                    user_id=current_user.id,
                    lock_wait=lock_wait(),
                )
                message = _(
                    "已登记离岗：%(no)s 在岗至 %(day)s。", no=staff_no, day=leave_form.end_date.data
                )
        except Refused as exc:
            errors = refused(exc)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("admin.staff"))
    else:
        errors = form_errors(form)
    # Fields are named by their column; on this page they carry their form's prefix.
    errors = {(f"{action}-{k}" if k else k): v for k, v in errors.items()}
    general_error(errors)
    return _person_page(hall, staff_no, move_form, leave_form, errors, action or "")


@bp.post("/staff/<staff_no>/photo")
@roles_required("admin")
@allow_body(staffing.PHOTO_MAX_BYTES + 256 * 1024)
def person_photo(staff_no: str) -> ResponseReturnValue:
    """Upload the person's photo (checked by decoding it, resized, audited)."""
    hall = current_hall()
    person = _visible_person(hall, staff_no)
    move_form, leave_form = _forms(hall)
    form = PhotoForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        upload = request.files.get("photo")
        try:
            staffing.save_photo(
                db.session,
                hall,
                staff_no=person.staff_no,
                data=upload.read(staffing.PHOTO_MAX_BYTES + 1) if upload else b"",
                user_id=current_user.id,
            )
        except Refused as exc:
            errors = refused(exc)
        else:
            db.session.commit()
            flash(_("已更新 %(name)s 的照片。", name=person.name), "success")
            return redirect(url_for("admin.person", staff_no=person.staff_no))
    else:
        errors = form_errors(form)
    general_error(errors)
    return _person_page(hall, staff_no, move_form, leave_form, errors, "photo")


@bp.get("/staff/<staff_no>/photo.jpg")
@roles_required(*READERS)
def person_photo_file(staff_no: str) -> ResponseReturnValue:
    """The person's stored photo (a JPEG the service made), for their page."""
    hall = current_hall()
    _visible_person(hall, staff_no)
    photo = staffing.photo_of(db.session, hall, staff_no)
    if photo is None:
        abort(404)
    response = Response(photo.content, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
