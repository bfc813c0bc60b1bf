"""The bimonthly round: review a period's ranking with explanations, publish it frozen,
and hand out the notice (PDF per unit, Excel)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall, viewer_unit_id
from admin.forms import PublishForm, first_error
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, PublishedPeriod, Unit, utcnow
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.scoring import AsOfBeforePeriod
from kiosk.rules.wording import period_label
from kiosk.services import bundle, notices, publishing
from kiosk.services.badreviews import loop_report
from kiosk.services.errors import BundleError, PublishError
from kiosk.services.notice_docx import notice_docx as notice_docx_bytes
from kiosk.services.notice_pdf import notice_pdf as notice_pdf_bytes
from kiosk.services.publishing import IntegrityFailure
from kiosk.services.rulefile import rules_in_force
from kiosk.services.texts import language

register_nav("admin.periods", _l("双月考评"), ("leader", "duty", "unit"), 60)

# The input kinds a review names when they changed since a publication.
INPUT_LABELS: dict[str, Any] = {
    "hall": _l("中心设置（作息、工作日）"),
    "roster": _l("人员与窗口"),
    "punches": _l("打卡"),
    "absences": _l("请假与外出"),
    "ratings": _l("评价"),
    "cases": _l("办件"),
    "events": _l("巡查、投诉与表扬"),
    "rules": _l("规则文件"),
}


def input_labels(kinds: tuple[str, ...]) -> str:
    """The changed input kinds as one Chinese list (打卡、评价)."""
    return "、".join(str(INPUT_LABELS.get(k, k)) for k in kinds)


def _rules() -> RuleSet:
    return rules_in_force(current_app.config)


def _viewer_unit_code(hall: Hall) -> str | None:
    """The unit code a unit viewer is limited to (None: sees every unit)."""
    unit_id = viewer_unit_id()
    if unit_id is None:
        return None
    unit = db.session.get(Unit, unit_id)
    return unit.code if unit is not None and unit.hall_id == hall.id else "\0none"


def _parse_as_of(text: str | None, hall: Hall) -> dt.datetime | None:
    """A ``datetime-local`` or ISO value as an aware hall-local instant (None if empty)."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=hall_zone(hall.timezone))


@bp.get("/periods")
@roles_required("leader", "duty", "unit")
def periods() -> ResponseReturnValue:
    """Published periods, and (for leaders) the form to review the next one."""
    hall = current_hall()
    now_local = to_local(utcnow(), hall_zone(hall.timezone))
    return render_template(
        "admin/periods.html",
        published=publishing.published_list(db.session, hall),
        zone=hall_zone(hall.timezone),
        default_period=publishing.default_period(hall),
        default_as_of=now_local.strftime("%Y-%m-%dT%H:%M"),
        can_review=has_role(current_user, "leader"),
    )


@bp.get("/periods/review")
@roles_required("leader")
def review() -> ResponseReturnValue:
    """Compute a period from the current data and show the ranking with explanations."""
    hall = current_hall()
    try:
        period = publishing.parse_period(request.args.get("period"))
        as_of = _parse_as_of(request.args.get("as_of"), hall)
    except PublishError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.periods"))
    except ValueError:
        flash(_("计算时点格式应为 2026-11-05T12:00。"), "error")
        return redirect(url_for("admin.periods"))
    try:
        computation = publishing.compute(db.session, hall, period, as_of, _rules())
    except AsOfBeforePeriod:
        flash(
            _(
                "计算时点早于 %(period)s 期的第一天（%(first)s），无法计算。",
                period=period.code,
                first=period.first_day.isoformat(),
            ),
            "error",
        )
        return redirect(url_for("admin.periods"))
    previous = publishing.latest(db.session, hall, period.code)
    comparison = (
        publishing.compare(db.session, hall, computation, previous, _rules()) if previous else None
    )
    form = PublishForm(
        period=period.code,
        as_of=computation.as_of.isoformat(),
        inputs_sha256=computation.inputs_sha256,
    )
    ended = computation.as_of >= publishing.period_end(hall, period)
    return render_template(
        "admin/period_review.html",
        c=computation,
        previous=previous,
        comparison=comparison,
        input_labels=input_labels,
        # A revision is offered only when something would change (at the published
        # as_of, or because the leader chose another as_of that changes some result).
        offer_publish=previous is None
        or comparison is not None
        and (comparison.differs or bool(comparison.as_of_moved_people)),
        form=form,
        ended=ended,
        units=publishing.unit_names(db.session, hall),
    )


@bp.post("/periods/publish")
@roles_required("leader")
def publish() -> ResponseReturnValue:
    """Freeze the reviewed result (or a new revision of it, with a reason)."""
    hall = current_hall()
    form = PublishForm()
    back = url_for(
        "admin.review", period=request.form.get("period"), as_of=request.form.get("as_of")
    )
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return redirect(back)
    try:
        as_of = _parse_as_of(form.as_of.data, hall)
    except ValueError:
        flash(_("计算时点格式应为 2026-11-05T12:00。"), "error")
        return redirect(back)
    try:
        row = publishing.publish(
            db.session,
            hall,
            period_code=form.period.data,
            as_of=as_of,
            reviewed_inputs_sha256=form.inputs_sha256.data,
            reason=form.reason.data,
            user_id=current_user.id,
            rules=_rules(),
        )
    except PublishError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    if not confirmed():
        # Every check passed; the leader confirms what is about to be frozen.
        details = [
            _("考评期：%(period)s", period=row.period),
            _("版本：第 %(rev)d 版", rev=row.revision),
            _(
                "计算时点：%(when)s",
                when=publishing.as_of_local(row, hall).strftime("%Y-%m-%d %H:%M"),
            ),
        ]
        if row.reason:
            details.append(_("修订原因：%(why)s", why=row.reason))
        db.session.rollback()
        return confirm_page(
            title=_("确认发布通报"),
            message=_("发布后结果即被冻结，通报与公示屏将按此版显示；更正只能另发修订版。"),
            details=details,
            confirm_label=_("确认发布"),
            cancel_url=back,
        )
    db.session.commit()
    flash(
        _(
            "已发布%(period)s第 %(rev)d 版。",
            period=period_label(row.period, language()),
            rev=row.revision,
        ),
        "success",
    )
    return redirect(url_for("admin.published", period=row.period))


def _published_row(hall: Hall, period: str) -> PublishedPeriod:
    """The requested (``?revision=``) or current revision of a published period, or 404."""
    revision = request.args.get("revision", type=int)
    rows = publishing.revisions(db.session, hall, period)
    if not rows:
        abort(404)
    if revision is None:
        return rows[-1]
    for row in rows:
        if row.revision == revision:
            return row
    abort(404)


def _frozen(row: PublishedPeriod) -> dict[str, Any]:
    try:
        return publishing.frozen(row)
    except IntegrityFailure:
        # A stored result that fails its checksum must never be shown or sent out.
        abort(500, description="published result failed its integrity check")


@bp.get("/periods/<period>")
@roles_required("leader", "duty", "unit")
def published(period: str) -> ResponseReturnValue:
    """A published period as frozen; a unit viewer sees only their unit's staff and windows."""
    hall = current_hall()
    row = _published_row(hall, period)
    result = _frozen(row)
    unit_code = _viewer_unit_code(hall)
    units = publishing.unit_names(db.session, hall)
    grouped = publishing.individuals_by_unit(result)
    if unit_code is not None:
        grouped = {unit_code: grouped.get(unit_code, [])}
        windows = [w for w in result["windows"] if w["unit"] == unit_code]
    else:
        windows = result["windows"]
    # Explanations are shown only when the current data still give the frozen inputs:
    # then recomputing at the stored as_of reproduces exactly what was published.
    explanations: dict[str, list[str]] = {}
    changed = False
    zone = hall_zone(hall.timezone)
    computation = publishing.compute(
        db.session,
        hall,
        publishing.parse_period(row.period),
        to_local(row.as_of, zone).replace(tzinfo=zone),
        _rules(),
    )
    if computation.sha256 == row.sha256 and computation.inputs_sha256 == row.inputs_sha256:
        for people in grouped.values():
            for person in people:
                explanations[person["staff_no"]] = computation.explanation(person["staff_no"])
    else:
        changed = True
    return render_template(
        "admin/published.html",
        row=row,
        result=result,
        grouped=grouped,
        windows=windows,
        units=units,
        unit_code=unit_code,
        revisions=publishing.revisions(db.session, hall, period),
        explanations=explanations,
        changed=changed,
        published_at=to_local(row.published_at, zone),
        as_of=publishing.as_of_local(row, hall),
        can_review=has_role(current_user, "leader"),
    )


def _notice(hall: Hall, row: PublishedPeriod, unit: str | None) -> notices.Notice:
    """The 通报 of a publication for one unit or all (403/404 as the viewer may see)."""
    result = _frozen(row)
    units = publishing.unit_names(db.session, hall)
    restricted = _viewer_unit_code(hall)
    if restricted is not None and unit != restricted:
        abort(403)
    if unit is not None and unit not in units:
        abort(404)
    chosen = [(unit, units[unit])] if unit else list(units.items())
    zone = hall_zone(hall.timezone)
    prefix = notices.number_prefix(hall)
    year, serial = notices.publication_serial(db.session, hall, row)
    supersedes = ""
    if row.revision > 1:
        revisions = publishing.revisions(db.session, hall, row.period)
        previous = next(r for r in revisions if r.revision == row.revision - 1)
        supersedes = (
            notices.document_number(prefix, *notices.publication_serial(db.session, hall, previous))
            or f"第{previous.revision}版"
        )  # the notice is a Chinese document in any UI language
    loop = loop_report(db.session, hall, row.period, row.as_of, as_of=row.as_of)
    return notices.build_notice(
        hall_name=hall.name,
        result=result,
        revision=row.revision,
        published_at=to_local(row.published_at, zone),
        as_of=to_local(row.as_of, zone),
        reason=row.reason,
        sha256=row.sha256,
        units=chosen,
        unit_names=units,
        number=notices.document_number(prefix, year, serial),
        supersedes=supersedes,
        # Bad-review handling as it stood at the publication's as_of (SPEC 11).
        loop={figures.unit: figures for _name, figures in loop.units},
    )


def _notice_name(hall: Hall, row: PublishedPeriod, unit: str | None, ext: str) -> str:
    return f"notice-{hall.code}-{row.period}-r{row.revision}{'-' + unit if unit else ''}.{ext}"


@bp.get("/periods/<period>/notice.pdf")
@bp.get("/periods/<period>/notice-<unit>.pdf")
@roles_required("leader", "duty", "unit")
def notice_pdf(period: str, unit: str | None = None) -> ResponseReturnValue:
    """The notice as PDF: one unit's (with its annex), or all units' (an annex each)."""
    hall = current_hall()
    row = _published_row(hall, period)
    data = notice_pdf_bytes(_notice(hall, row, unit))
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{_notice_name(hall, row, unit, "pdf")}"'
        },
    )


@bp.get("/periods/<period>/notice.docx")
@bp.get("/periods/<period>/notice-<unit>.docx")
@roles_required("leader", "duty", "unit")
def notice_docx(period: str, unit: str | None = None) -> ResponseReturnValue:
    """The same notice as a Word file, for offices that edit it in Word or WPS."""
    hall = current_hall()
    row = _published_row(hall, period)
    data = notice_docx_bytes(_notice(hall, row, unit))
    name = _notice_name(hall, row, unit, "docx")
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/periods/<period>/result.xlsx")
@roles_required("leader", "unit")
def notice_xlsx(period: str) -> ResponseReturnValue:
    """The published result as Excel (a unit viewer gets their unit's rows only)."""
    hall = current_hall()
    row = _published_row(hall, period)
    unit = _viewer_unit_code(hall)
    year, serial = notices.publication_serial(db.session, hall, row)
    data = notices.notice_xlsx(
        hall_name=hall.name,
        result=_frozen(row),
        revision=row.revision,
        sha256=row.sha256,
        inputs_sha256=row.inputs_sha256,
        unit_names=publishing.unit_names(db.session, hall),
        number=notices.document_number(notices.number_prefix(hall), year, serial),
        unit_code=unit,
    )
    name = f"result-{hall.code}-{row.period}-r{row.revision}{'-' + unit if unit else ''}.xlsx"
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/periods/<period>/bundle.zip")
@roles_required("leader", "duty")
def bundle_zip(period: str) -> ResponseReturnValue:
    """The publication's bundle (SPEC 13), the same bytes as ``export bundle``.

    Not for unit viewers: the bundle holds every unit's punches and ratings, and a unit
    viewer reads their own unit only (SPEC 10); the office hands a disputing unit or the
    supervision office the file."""
    hall = current_hall()
    row = _published_row(hall, period)
    try:
        data = bundle.bundle_zip(db.session, hall, row)
    except BundleError as exc:
        if exc.code == "not_found":
            flash(exc.message, "error")
            return redirect(url_for("admin.published", period=row.period, revision=row.revision))
        abort(500, description="published bundle failed its integrity check")
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{bundle.bundle_name(hall, row)}"'},
    )
