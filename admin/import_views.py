"""Uploads of the SPEC 6 files (``/admin/imports``): admins every kind, duty officers the
everyday ones (punches, absences, events, cases).

The file goes through the same all-or-nothing importer as the command line: a bad file
is refused with every bad row shown by line and column, and nothing changes; a good one
is imported, audited (``import``, with the counts) and summed up in the message.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.context import current_hall
from admin.forms import HallForm, select_choices
from admin.views import register_nav
from kiosk.bodysize import allow_body
from kiosk.extensions import db
from kiosk.interchange import COLUMNS, ImportFailed
from kiosk.models import Hall
from kiosk.services.halls import HallNotFound
from kiosk.services.imports import ImportRefused, kinds_for_role, problem_rows, upload

register_nav("admin.imports", _l("数据导入"), ("duty",), 60)

KIND_LABELS: dict[str, Any] = {
    "hall": _l("服务中心设置（hall.toml）"),
    "roster": _l("人员名册"),
    "punches": _l("打卡记录"),
    "ratings": _l("评价记录"),
    "cases": _l("办件记录"),
    "absences": _l("请假/外出"),
    "events": _l("巡查抽查与奖惩"),
}


class ImportForm(HallForm):
    """The upload form: SPEC 10 names its fields ``kind`` and ``file``."""

    # Checked in the view against the role (a forged kind gets a message, not a 400 alone).
    kind = SelectField(_l("导入类型"), validate_choice=False)
    file = FileField(_l("文件"))


def _form(formdata: Any = ...) -> ImportForm:
    form = ImportForm() if formdata is ... else ImportForm(formdata=formdata)
    kinds = kinds_for_role(current_user.role)
    form.kind.choices = select_choices(
        [("", _("请选择"))] + [(k, str(KIND_LABELS[k])) for k in kinds]
    )
    return form


def _columns(kinds: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(kind, label, columns) for the help table; optional columns in brackets as SPEC 6."""
    rows = []
    for kind in kinds:
        if kind == "hall":
            rows.append((kind, str(KIND_LABELS[kind]), "[hall] [[schedule]] [[unit]] [[window]]"))
            continue
        required, optional = COLUMNS[kind]
        text = ", ".join([*required, *(f"[{c}]" for c in optional)])
        rows.append((kind, str(KIND_LABELS[kind]), text))
    return rows


def _page(form: ImportForm, status: int = 200, **extra: Any) -> ResponseReturnValue:
    kinds = kinds_for_role(current_user.role)
    limit = int(current_app.config["IMPORT_MAX_CONTENT_LENGTH"])
    return (
        render_template(
            "admin/imports.html",
            form=form,
            columns=_columns(kinds),
            limit_mib=f"{limit / 1024 / 1024:g}",
            **extra,
        ),
        status,
    )


@bp.route("/imports", methods=["GET", "POST"])
@roles_required("duty")
@allow_body("IMPORT_MAX_CONTENT_LENGTH")
def imports() -> ResponseReturnValue:
    """The upload form; a POST imports the file all or nothing."""
    hall: Hall = current_hall()
    form = _form()
    if request.method != "POST":
        return _page(form)
    if not form.validate_on_submit():
        return _page(form, 400)
    kind = form.kind.data or ""
    storage = form.file.data
    if kind not in kinds_for_role(current_user.role):
        # Checked on the server: the select offers only the role's kinds, a forged post
        # naming another one is refused the same way.
        known = kind in KIND_LABELS
        form.kind.errors = [_("您的角色不能导入此类数据。") if known else _("请选择导入类型。")]
        return _page(form, 403 if known else 400)
    if storage is None or not getattr(storage, "filename", ""):
        form.file.errors = [_("请选择要上传的文件。")]
        return _page(form, 400)
    data = storage.read()
    if not data:
        form.file.errors = [_("文件为空，请选择要上传的文件。")]
        return _page(form, 400)
    filename = storage.filename[:200]
    try:
        report = upload(
            db.session,
            kind=kind,
            data=data,
            role=current_user.role,
            hall_code=hall.code,
            own_hall_code=hall.code if current_user.hall_id is not None else None,
            user_id=current_user.id,
            filename=filename,
            lock_wait=float(current_app.config["IMPORT_LOCK_WAIT"]),
        )
    except ImportRefused as exc:
        db.session.rollback()
        # The hall-file check is about the file; the role and kind checks about ``kind``.
        target = form.file if data and kind == "hall" and exc.code != "forbidden" else form.kind
        target.errors = [exc.message]
        return _page(form, 403 if exc.code == "forbidden" else 400)
    except ImportFailed as exc:
        form.file.errors = [_("文件有误，未导入任何数据；请按下表逐行改正后重新上传。")]
        return _page(form, 400, problems=problem_rows(exc.problems), refused_name=filename)
    except HallNotFound as exc:
        db.session.rollback()
        form.kind.errors = [str(exc)]
        return _page(form, 400)
    flash(
        _(
            "已导入%(kind)s“%(name)s”：共 %(rows)s 行，新增 %(new)s，更新 %(updated)s，"
            "未变 %(same)s。",
            kind=str(KIND_LABELS[kind]),
            name=filename,
            rows=report.rows,
            new=report.inserted,
            updated=report.updated,
            same=report.unchanged,
        ),
        "success",
    )
    for note in report.notes:
        flash(note, "info")
    return redirect(url_for("admin.imports"))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload over the limit, refused unread: the import form again, the limit beside
    the file field (other pages of the back office keep the plain 413 answer)."""
    if request.endpoint != "admin.imports" or not has_role(current_user, "duty"):
        limit = request.max_content_length
        return (
            _("请求内容过大（上限 %(n)s 字节），未予处理。", n=limit if limit else "?") + "\n",
            413,
            {"Content-Type": "text/plain; charset=utf-8"},
        )
    form = _form(formdata=None)
    limit = int(current_app.config["IMPORT_MAX_CONTENT_LENGTH"])
    form.file.errors = [
        _(
            "文件过大（上限 %(mib)s MiB），未导入任何数据；请分成几个文件上传。",
            mib=f"{limit / 1024 / 1024:g}",
        )
    ]
    return _page(form, 413)
