"""Fingerprint readers (``/admin/devices``, admins): add, map a page, enrol a finger
through the running listener, live status, remove.

An enrolment is handed to the listener as a ``device_jobs`` row; its page asks for the
job's state every second with a short request (``/admin/devices/jobs/<id>.json``),
never holding one open. The list's status comes from the readers' rows and the
listener's status file (``instance/devices/status.json``), as the clock screen's does.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin.auth import roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall
from admin.forms import REQUIRED, HallForm, parse_id, select_choices
from admin.views import register_nav
from devices.held import read_status
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Device, DeviceJob, Staff
from kiosk.services import reader_admin
from kiosk.services.reader_admin import MAX_PAGE, ReaderError

register_nav("admin.devices", _l("指纹机"), ("admin",), 86)

STAGE_TEXT: dict[str, Any] = {
    "pending": _l("等待监听程序接收任务……"),
    "press": _l("请工作人员在指纹机上按压手指"),
    "lift": _l("请抬起手指"),
    "again": _l("请再按一次同一手指"),
    "done": _l("录入成功"),
    "duplicate": _l("该指纹已录入，未做更改"),
    "mismatch": _l("两次按压不是同一手指，录入失败"),
    "full": _l("指纹库已满，录入失败"),
    "timeout": _l("录入超时，已取消"),
    "cancelled": _l("录入已取消"),
    "error": _l("录入失败（指纹机或线路故障）"),
}
STATE_TEXT: dict[str, Any] = {
    "pending": _l("等待中"),
    "running": _l("进行中"),
    "done": _l("已完成"),
    "failed": _l("失败"),
    "cancelled": _l("已取消"),
}


class ReaderForm(HallForm):
    """A new reader, as ``devices add`` takes it."""

    name = StringField(_l("名称"), validators=[DataRequired(REQUIRED), Length(max=64)])
    port = StringField(_l("串口（port）"), validators=[DataRequired(REQUIRED), Length(max=300)])
    baud = IntegerField(
        _l("波特率（baud）"),
        default=57600,
        validators=[InputRequired(REQUIRED), NumberRange(min=9600, max=115200)],
    )
    address = StringField(
        _l("模块地址（address）"), default="FFFFFFFF", validators=[Optional(), Length(max=10)]
    )
    password = IntegerField(
        _l("模块密码（password）"),
        default=0,
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=0xFFFFFFFF)],
    )


class MapForm(HallForm):
    """Map a template page already on the module to a staff member."""

    device_id = SelectField(
        _l("指纹机"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )
    page = IntegerField(
        _l("模板页号（page）"),
        validators=[InputRequired(REQUIRED), NumberRange(min=0, max=MAX_PAGE)],
    )
    staff_no = SelectField(
        _l("工作人员（staff_no）"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )


class EnrolForm(HallForm):
    """Enrol a finger through the running listener."""

    device_id = SelectField(
        _l("指纹机"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )
    staff_no = SelectField(
        _l("工作人员（staff_no）"), validators=[DataRequired(REQUIRED)], validate_choice=False
    )
    timeout = IntegerField(
        _l("每次按压等待（秒）"),
        default=30,
        validators=[InputRequired(REQUIRED), NumberRange(min=5, max=600)],
    )


class RemoveForm(HallForm):
    """Remove (or retire) a reader."""

    device_id = HiddenField(validators=[DataRequired(REQUIRED)])


class CancelForm(HallForm):
    """Cancel an enrolment (the CSRF token alone: the job is in the address)."""


def _held() -> dict[str, Any]:
    data = read_status(current_app.instance_path) or {}
    devices = data.get("devices")
    return devices if isinstance(devices, dict) else {}


def _forms() -> dict[str, HallForm]:
    hall = current_hall()
    devices = [
        (str(d.id), d.name)
        for d in db.session.scalars(
            select(Device)
            .where(Device.hall_id == hall.id, Device.retired_at.is_(None))
            .order_by(Device.name)
        )
    ]
    staff = [
        (s.staff_no, f"{s.staff_no} {s.name}")
        for s in db.session.scalars(
            select(Staff).where(Staff.hall_id == hall.id).order_by(Staff.staff_no)
        )
    ]
    map_form, enrol_form = MapForm(prefix="map"), EnrolForm(prefix="enrol")
    for form in (map_form, enrol_form):
        form.device_id.choices = select_choices([("", _("请选择"))] + devices)
        form.staff_no.choices = select_choices([("", _("请选择"))] + staff)
    return {
        "add_form": ReaderForm(prefix="add"),
        "map_form": map_form,
        "enrol_form": enrol_form,
        "remove_form": RemoveForm(prefix="remove"),
    }


def _lines() -> list[reader_admin.ReaderLine]:
    return reader_admin.readers_of(
        db.session,
        current_hall(),
        stale_seconds=float(current_app.config["CLOCK_READER_STALE_SECONDS"]),
        held=_held(),
    )


def _page(forms: dict[str, HallForm], status: int = 200) -> ResponseReturnValue:
    hall = current_hall()
    zone = hall_zone(hall.timezone)
    lines = _lines()
    seen = {line.id: to_local(line.last_seen, zone) if line.last_seen else None for line in lines}
    return (
        render_template(
            "admin/devices.html", lines=lines, seen=seen, state_text=STATE_TEXT, **forms
        ),
        status,
    )


@bp.get("/devices")
@roles_required("admin")
def devices() -> ResponseReturnValue:
    """The hall's readers with their live state, and the forms that change them."""
    return _page(_forms())


def _refused(forms: dict[str, HallForm], form_name: str, exc: ReaderError) -> ResponseReturnValue:
    db.session.rollback()
    form = forms[form_name]
    field = getattr(form, exc.field, None) or form.device_id  # type: ignore[attr-defined]
    field.errors = [exc.message]
    status = {"not_found": 404, "conflict": 409}.get(exc.code, 400)
    return _page(forms, status)


@bp.post("/devices")
@roles_required("admin")
def device_add() -> ResponseReturnValue:
    """Register a reader; a running listener starts polling it within seconds."""
    hall = current_hall()
    forms = _forms()
    form: ReaderForm = forms["add_form"]  # type: ignore[assignment]
    if not form.validate_on_submit():
        return _page(forms, 400)
    try:
        device = reader_admin.add_reader(
            db.session,
            hall,
            name=form.name.data or "",
            port=form.port.data or "",
            baud=int(form.baud.data or 0),
            address=form.address.data or "",
            password=int(form.password.data or 0),
            user_id=current_user.id,
        )
    except ReaderError as exc:
        return _refused(forms, "add_form", exc)
    name = device.name
    db.session.commit()
    flash(_("已登记指纹机“%(name)s”；监听程序将在数秒内开始轮询。", name=name), "success")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/map")
@roles_required("admin")
def device_map() -> ResponseReturnValue:
    """Map a page already on the module to a staff member."""
    hall = current_hall()
    forms = _forms()
    form: MapForm = forms["map_form"]  # type: ignore[assignment]
    if not form.validate_on_submit():
        return _page(forms, 400)
    try:
        reader_admin.map_page(
            db.session,
            hall,
            device_id=parse_id(form.device_id.data),
            page=int(form.page.data if form.page.data is not None else -1),
            staff_no=form.staff_no.data or "",
            user_id=current_user.id,
        )
    except ReaderError as exc:
        return _refused(forms, "map_form", exc)
    db.session.commit()
    flash(
        _("已将第 %(page)s 页对应到工号 %(no)s。", page=form.page.data, no=form.staff_no.data),
        "success",
    )
    return redirect(url_for("admin.devices"))


@bp.post("/devices/enroll")
@roles_required("admin")
def device_enroll() -> ResponseReturnValue:
    """Hand an enrol job to the running listener; the job's page follows it."""
    hall = current_hall()
    forms = _forms()
    form: EnrolForm = forms["enrol_form"]  # type: ignore[assignment]
    if not form.validate_on_submit():
        return _page(forms, 400)
    try:
        job = reader_admin.start_enrolment(
            db.session,
            hall,
            device_id=parse_id(form.device_id.data),
            staff_no=form.staff_no.data or "",
            timeout=float(form.timeout.data or 0),
            stale_seconds=float(current_app.config["CLOCK_READER_STALE_SECONDS"]),
            user_id=current_user.id,
        )
    except ReaderError as exc:
        return _refused(forms, "enrol_form", exc)
    job_id = job.id
    db.session.commit()
    flash(_("录入任务已交给监听程序，请工作人员按照指纹机和考勤屏的提示按压手指。"), "success")
    return redirect(url_for("admin.device_job", job_id=job_id))


def _job_state(job: DeviceJob) -> dict[str, Any]:
    stage = job.stage if job.state != "pending" else "pending"
    final = job.state not in ("pending", "running")
    return {
        "id": job.id,
        "state": job.state,
        "state_text": str(STATE_TEXT.get(job.state, job.state)),
        "stage": job.stage,
        "text": _("录入成功（第 %(page)s 页）", page=job.page)
        if job.state == "done"
        else str(STAGE_TEXT.get(stage or "press", STAGE_TEXT["error"])),
        "page": job.page,
        "final": final,
        "detail": job.detail if final and job.state != "done" else None,
    }


def _job(job_id: int) -> DeviceJob:
    try:
        return reader_admin.job_of(db.session, current_hall(), job_id)
    except ReaderError:
        abort(404)


@bp.get("/devices/jobs/<int:job_id>")
@roles_required("admin")
def device_job(job_id: int) -> ResponseReturnValue:
    """One enrolment as it goes: the page asks for its state every second."""
    job = _job(job_id)
    device = db.session.get(Device, job.device_id)
    staff = db.session.get(Staff, job.staff_id)
    return render_template(
        "admin/device_job.html",
        job=job,
        state=_job_state(job),
        device=device,
        staff=staff,
        cancel_form=CancelForm(),
    )


@bp.get("/devices/jobs/<int:job_id>.json")
@roles_required("admin")
def device_job_state(job_id: int) -> ResponseReturnValue:
    """The job's state now (a short request; the page polls it)."""
    response = jsonify(_job_state(_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/devices/jobs/<int:job_id>/cancel")
@roles_required("admin")
def device_job_cancel(job_id: int) -> ResponseReturnValue:
    """Cancel an open enrolment."""
    form = CancelForm()
    if not form.validate_on_submit():
        flash(_("页面已过期，请刷新后重试。"), "error")
        return redirect(url_for("admin.device_job", job_id=job_id))
    try:
        reader_admin.cancel_enrolment(db.session, current_hall(), job_id, user_id=current_user.id)
    except ReaderError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        status = 404 if exc.code == "not_found" else 409
        if status == 404:
            return exc.message, 404
        return redirect(url_for("admin.device_job", job_id=job_id))
    db.session.commit()
    flash(_("已取消录入任务。"), "success")
    return redirect(url_for("admin.device_job", job_id=job_id))


@bp.get("/devices/status.json")
@roles_required("admin")
def devices_status() -> ResponseReturnValue:
    """Each reader's live state for the list's short poll."""
    hall = current_hall()
    zone = hall_zone(hall.timezone)
    rows = [
        {
            "id": line.id,
            "name": line.name,
            "state": line.state,
            "alive": line.alive,
            "last_seen": to_local(line.last_seen, zone).strftime("%Y-%m-%d %H:%M:%S")
            if line.last_seen
            else None,
            "punches_today": line.punches_today,
            "unrecognised": line.unrecognised,
            "backlog": line.backlog,
        }
        for line in _lines()
    ]
    response = jsonify(devices=rows)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/devices/remove")
@roles_required("admin")
def device_remove() -> ResponseReturnValue:
    """Remove a reader after a confirmation step (retired when it took punches)."""
    hall = current_hall()
    forms = _forms()
    form: RemoveForm = forms["remove_form"]  # type: ignore[assignment]
    if not form.validate_on_submit():
        return _page(forms, 400)
    device = db.session.get(Device, parse_id(form.device_id.data) or 0)
    name = device.name if device is not None else ""
    try:
        retired = reader_admin.remove_reader(
            db.session, hall, parse_id(form.device_id.data), user_id=current_user.id
        )
    except ReaderError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _page(forms, 404 if exc.code == "not_found" else 409)
    if not confirmed():
        db.session.rollback()
        return confirm_page(
            title=_("确认移除指纹机"),
            message=_(
                "移除后监听程序不再轮询该指纹机，其页号对应关系一并删除；"
                "已有的打卡记录保留（该指纹机改为“已停用”）。"
            ),
            details=[_("指纹机：%(name)s", name=name)],
            confirm_label=_("确认移除"),
            cancel_url=url_for("admin.devices"),
        )
    db.session.commit()
    if retired:
        flash(_("指纹机“%(name)s”已停用，其打卡记录保留。", name=name), "success")
    else:
        flash(_("已移除指纹机“%(name)s”。", name=name), "success")
    return redirect(url_for("admin.devices"))
