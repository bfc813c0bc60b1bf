"""The rule file (``/admin/rules``, leaders and admins): the one in force by name and
sha256, upload a new one, see how a period's ranking would change, then adopt it.

Adopting writes a row of ``rule_adoptions`` in the database, so every process that
shares it uses the new file within a second (:mod:`kiosk.services.rulefile`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from admin.auth import roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall
from admin.forms import REQUIRED, HallForm
from admin.views import LABELS, register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import User, utcnow
from kiosk.models_rules import RuleFile
from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.scoring import AsOfBeforePeriod
from kiosk.rules.wording import period_label
from kiosk.services import rulefile, rulefiles
from kiosk.services.rulefiles import RuleFileError
from kiosk.textlimits import day_in_range

register_nav("admin.rules", _l("考评规则"), ("leader",), 88)

PART_LABELS: dict[str, Any] = {
    "satisfaction": _l("满意度"),
    "attendance": _l("考勤"),
    "workload": _l("工作量"),
    "discipline": _l("纪律"),
    "bonus": _l("加分"),
    "total": _l("总分"),
}


# What each rule value is, in words (SPEC 5.3-5.6, 4); shown beside its key.
RULE_LABELS: dict[str, Any] = {
    "bad_levels": _l("差评等级"),
    "misuse_seconds": _l("误评间隔（秒）"),
    "rectification_workdays": _l("差评整改期限（工作日）"),
    "satisfaction_max": _l("满意度满分"),
    "prior_weight": _l("满意度修正权重 m"),
    "no_ratings_score": _l("无评价时的满意度"),
    "attendance_max": _l("考勤满分"),
    "short_defect_points": _l("迟到早退（短时）每次扣分"),
    "long_defect_points": _l("迟到早退（超时）每次扣分"),
    "long_defect_minutes": _l("超时迟到早退的分钟界限"),
    "missing_punch_points": _l("缺卡每次扣分"),
    "absent_half_day_points": _l("旷工每半天扣分"),
    "workload_max": _l("工作量满分"),
    "weighted_points": _l("办件量得分"),
    "on_time_points": _l("按时办结得分"),
    "default_case_weight": _l("办件默认权重"),
    "discipline_max": _l("纪律满分"),
    "bonus_max": _l("加分上限"),
    "individual_min_ratings": _l("先进个人最少有效评价数"),
    "individual_min_duty_ratio": _l("先进个人最低在岗比例"),
    "individual_threshold": _l("先进个人最低总分"),
    "individual_quota_divisor": _l("先进个人名额（每几人一名）"),
    "window_min_ratings": _l("红旗窗口最少有效评价数"),
    "window_threshold": _l("红旗窗口最低总分"),
    "window_quota_divisor": _l("红旗窗口名额（每几个一名）"),
}


def rule_label(key: str) -> str:
    """A rule value's name in words; ``levels.N`` is the value of rating level N."""
    if key.startswith("levels."):
        return _("%(level)s 级评价的分值", level=key.partition(".")[2])
    return str(RULE_LABELS.get(key, ""))


class RuleUploadForm(HallForm):
    """A new rule file (TOML, as ``kiosk/rules/default_rules.toml``)."""

    file = FileField(_l("规则文件（TOML）"))


class AdoptForm(HallForm):
    """Adopt the candidate, with a reason."""

    reason = StringField(_l("启用原因"), validators=[DataRequired(REQUIRED), Length(max=500)])


def _in_force() -> tuple[RuleSet, str]:
    """The rule set in force and where it comes from (adopted, configured, shipped)."""
    adopted = rulefile.adopted_rules(current_app._get_current_object())  # type: ignore[attr-defined]
    if adopted is not None:
        return adopted, "adopted"
    rules = rulefile.rules_in_force(current_app.config)
    return rules, "config" if current_app.config["SCORING_RULES"] else "default"


def _user_names() -> dict[int, str]:
    return {u.id: u.display_name or u.username for u in db.session.scalars(select(User))}


def _index_page(form: RuleUploadForm, status: int = 200) -> ResponseReturnValue:
    hall = current_hall()
    zone = hall_zone(hall.timezone)
    rules, source = _in_force()
    names = _user_names()
    history = [
        (to_local(a.adopted_at, zone), f, names.get(a.adopted_by or 0, ""), a.reason or "")
        for a, f in rulefiles.adoptions(db.session)
    ]
    candidates = list(
        db.session.scalars(select(RuleFile).order_by(RuleFile.uploaded_at.desc()).limit(10))
    )
    return (
        render_template(
            "admin/rules.html",
            form=form,
            rules=rules,
            source=source,
            history=history,
            candidates=[(c, to_local(c.uploaded_at, zone)) for c in candidates],
        ),
        status,
    )


@bp.get("/rules")
@roles_required("leader")
def rules() -> ResponseReturnValue:
    """The rule file in force, the adoption history and the upload form."""
    return _index_page(RuleUploadForm())


@bp.post("/rules")
@roles_required("leader")
def rules_upload() -> ResponseReturnValue:
    """Keep an uploaded rule file once it is valid, then show what it would change."""
    hall = current_hall()
    form = RuleUploadForm()
    if not form.validate_on_submit():
        return _index_page(form, 400)
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        form.file.errors = [_("请选择要上传的规则文件。")]
        return _index_page(form, 400)
    try:
        row = rulefiles.upload(
            db.session,
            storage.read(rulefiles.MAX_RULE_FILE_BYTES + 1),
            filename=storage.filename,
            user_id=current_user.id,
            hall_id=hall.id,
        )
    except RuleFileError as exc:
        db.session.rollback()
        form.file.errors = [exc.message]
        return _index_page(form, 400)
    row_id = row.id
    db.session.commit()
    flash(_("规则文件已上传并通过校验，尚未启用；请查看排名变化后决定是否启用。"), "success")
    return redirect(url_for("admin.rules_compare", rule_file_id=row_id))


def _period(hall_zone_today: dt.date) -> tuple[Period, str | None]:
    """The period asked for (``?period=YYYY-Bn``), else the current one; and an error."""
    current = rulefiles.current_period(hall_zone_today)
    text = (request.args.get("period") or "").strip()
    if not text:
        return current, None
    try:
        period = Period.parse(text[:10])
    except ValueError:
        return current, _("考评期格式应为 2026-B5。")
    if not day_in_range(period.first_day) or period.first_day > hall_zone_today:
        return current, _("只能比较已开始的考评期。")
    return period, None


def _compare_page(row: RuleFile, adopt_form: AdoptForm, status: int = 200) -> ResponseReturnValue:
    hall = current_hall()
    zone = hall_zone(hall.timezone)
    now = to_local(utcnow(), zone)
    period, period_error = _period(now.date())
    in_force, source = _in_force()
    candidate = rulefiles.rules_of(row)
    try:
        before, after, movers = rulefiles.compare_ranking(
            db.session, hall, period, now, in_force, candidate
        )
    except AsOfBeforePeriod:
        abort(400)
    return (
        render_template(
            "admin/rules_compare.html",
            row=row,
            candidate=candidate,
            in_force=in_force,
            source=source,
            same=candidate.sha256 == in_force.sha256,
            changes=rulefiles.rule_changes(in_force, candidate),
            period=period,
            period_name=period_label(period.code),
            period_error=period_error,
            as_of=now,
            before=before,
            after=after,
            movers=movers,
            part_labels=PART_LABELS,
            rule_label=rule_label,
            labels=LABELS,
            adopt_form=adopt_form,
        ),
        status,
    )


def _rule_file(rule_file_id: int) -> RuleFile:
    row = db.session.get(RuleFile, rule_file_id)
    if row is None:
        abort(404)
    return row


@bp.get("/rules/<int:rule_file_id>")
@roles_required("leader")
def rules_compare(rule_file_id: int) -> ResponseReturnValue:
    """How the period's ranking would change under an uploaded rule file."""
    return _compare_page(_rule_file(rule_file_id), AdoptForm())


@bp.post("/rules/<int:rule_file_id>/adopt")
@roles_required("leader")
def rules_adopt(rule_file_id: int) -> ResponseReturnValue:
    """Adopt an uploaded rule file after a confirmation step (audited)."""
    hall = current_hall()
    row = _rule_file(rule_file_id)
    form = AdoptForm()
    if not form.validate_on_submit():
        return _compare_page(row, form, 400)
    in_force, _source = _in_force()
    try:
        rulefiles.adopt(
            db.session,
            row.id,
            in_force=in_force,
            user_id=current_user.id,
            hall_id=hall.id,
            reason=form.reason.data or "",
        )
    except RuleFileError as exc:
        db.session.rollback()
        form.reason.errors = [exc.message]
        return _compare_page(row, form, 409)
    name, sha = row.name, row.sha256
    if not confirmed():
        db.session.rollback()
        return confirm_page(
            title=_("确认启用规则文件"),
            message=_(
                "启用后，所有服务中心的计分、差评认定、整改期限、大屏和通报都按新规则执行；"
                "已发布的通报不变。"
            ),
            details=[
                _("现行规则：%(name)s（%(sha)s）", name=in_force.name, sha=in_force.sha256[:16]),
                _("新规则：%(name)s（%(sha)s）", name=name, sha=sha[:16]),
                _("原因：%(why)s", why=form.reason.data or ""),
            ],
            confirm_label=_("确认启用"),
            cancel_url=url_for("admin.rules_compare", rule_file_id=row.id),
        )
    db.session.commit()
    rulefile.forget_adopted()
    flash(_("已启用规则文件“%(name)s”（sha256 %(sha)s）。", name=name, sha=sha), "success")
    return redirect(url_for("admin.rules"))
