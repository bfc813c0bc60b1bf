"""The duty officer's forms: attendance corrections, absences and events.

Each POST goes through :mod:`kiosk.services.records`, which checks the input, writes the
change and its audit entry together, or refuses with a message and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from admin.auth import has_role, roles_required
from admin.blueprint import bp
from admin.confirm import confirm_page, confirmed
from admin.context import current_hall
from admin.forms import (
    AbsenceForm,
    AddPunchForm,
    EventForm,
    EventWithdrawForm,
    VoidPunchForm,
    WithdrawForm,
    first_error,
    parse_day,
    select_choices,
)
from admin.lists import export_of, filter_context, list_filter, page_of, wants_export
from admin.views import register_nav
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, utcnow
from kiosk.services import listing, records
from kiosk.services.errors import RecordError
from kiosk.services.reports import attendance_records

register_nav("admin.corrections", _l("考勤更正"), ("duty",), 20)
register_nav("admin.punches", _l("打卡记录"), ("duty", "leader", "unit"), 25)
register_nav("admin.absences", _l("外出与请假"), ("duty", "leader", "unit"), 30)
register_nav("admin.events", _l("巡查与奖惩"), ("duty", "leader", "unit"), 40)


def _today_local() -> dt.date:
    hall = current_hall()
    return to_local(utcnow(), hall_zone(hall.timezone)).date()


def _published_warning(day: dt.date) -> None:
    """Tell the officer when a change falls in an already published period."""
    code = records.published_period_of(db.session, current_hall(), day)
    if code:
        flash(
            _(
                "%(period)s 期已发布通报：此更正不会改变已发布结果，需由领导发布修订版。",
                period=code,
            ),
            "info",
        )


@bp.route("/corrections", methods=["GET", "POST"])
@roles_required("duty")
def corrections() -> ResponseReturnValue:
    """One person's punches of one day, with forms to add a punch or void one."""
    hall = current_hall()
    choices = records.staff_choices(db.session, hall)
    add_form = AddPunchForm(prefix="add")
    add_form.staff_no.choices = select_choices(choices)
    void_form = VoidPunchForm(prefix="void")
    staff_no = request.values.get("staff_no") or (choices[0][0] if choices else "")
    day = _today_local()
    if request.values.get("day"):
        try:
            day = parse_day(request.values.get("day"))
        except ValueError as exc:
            flash(str(exc), "error")

    if request.method == "POST":
        action = request.form.get("action")
        form = add_form if action == "add" else void_form
        if form.validate_on_submit():
            try:
                if action == "add":
                    punch = records.add_correction_punch(
                        db.session,
                        hall,
                        staff_no=add_form.staff_no.data or "",
                        local_time=add_form.punched_at.data,
                        reason=add_form.reason.data,
                        user_id=current_user.id,
                    )
                    staff_no = punch.staff.staff_no
                    day = (add_form.punched_at.data or dt.datetime.now()).date()
                    message = _("已补录打卡。")
                else:
                    void = records.void_punch(
                        db.session,
                        hall,
                        punch_id=void_form.punch_id.data,
                        reason=void_form.reason.data,
                        user_id=current_user.id,
                    )
                    message = _("已作废该打卡记录。")
            except RecordError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                if action != "add" and not confirmed():
                    # The checks passed; nothing is kept until the officer confirms.
                    punch = void.punch
                    details = [
                        _("工作人员：%(who)s", who=f"{punch.staff.staff_no} {punch.staff.name}"),
                        _(
                            "打卡时间：%(at)s",
                            at=to_local(punch.punched_at, hall_zone(hall.timezone)).strftime(
                                "%Y-%m-%d %H:%M:%S"
                            ),
                        ),
                        _("原因：%(why)s", why=void.reason),
                    ]
                    db.session.rollback()
                    return confirm_page(
                        title=_("确认作废打卡记录"),
                        message=_("作废后该打卡不再计入考勤（原始记录保留，操作记入审计日志）。"),
                        details=details,
                        confirm_label=_("确认作废"),
                        cancel_url=url_for(
                            "admin.corrections", staff_no=staff_no, day=day.isoformat()
                        ),
                    )
                db.session.commit()
                flash(message, "success")
                _published_warning(day)
                return redirect(
                    url_for("admin.corrections", staff_no=staff_no, day=day.isoformat())
                )
        else:
            flash(first_error(form), "error")

    person = None
    lines: list[records.PunchLine] = []
    day_record = None
    if staff_no:
        try:
            person = records.staff_by_no(db.session, hall, staff_no)
        except RecordError as exc:
            flash(exc.message, "error")
        else:
            lines = records.punches_on(db.session, hall, person, day)
            found = attendance_records(db.session, hall, day, day, staff_id=person.id).records
            day_record = found[0].record if found else None
    if request.method == "GET":
        add_form.staff_no.data = staff_no
        if add_form.punched_at.data is None:
            add_form.punched_at.data = dt.datetime.combine(day, dt.time(8, 30))
    return render_template(
        "admin/corrections.html",
        add_form=add_form,
        void_form=void_form,
        choices=choices,
        staff_no=staff_no,
        person=person,
        day=day,
        lines=lines,
        day_record=day_record,
    )


LIST_ROLES = ("duty", "leader", "unit")  # read; changes: duty officers (and admins)
CHANGE_ROLES = ("duty",)


def _list_context(hall: Hall, flt: listing.ListFilter) -> dict[str, object]:
    return {**filter_context(hall, flt), "can_edit": has_role(current_user, *CHANGE_ROLES)}


@bp.route("/absences", methods=["GET", "POST"])
@roles_required(*LIST_ROLES, post=CHANGE_ROLES)
def absences() -> ResponseReturnValue:
    """Register out-of-office trips and leave; withdraw one entered by mistake (kept,
    marked withdrawn); the registrations paged, searchable and exported."""
    hall = current_hall()
    form = AbsenceForm(prefix="abs")
    form.staff_no.choices = select_choices(records.staff_choices(db.session, hall))
    withdraw_form = WithdrawForm(prefix="wd")
    if request.method == "POST":
        action = request.form.get("action")
        target = form if action == "add" else withdraw_form
        if target.validate_on_submit():
            try:
                if action == "add":
                    records.add_absence(
                        db.session,
                        hall,
                        staff_no=form.staff_no.data or "",
                        kind=form.kind.data or "",
                        start=form.start.data,
                        end=form.end.data,
                        note=form.note.data,
                        user_id=current_user.id,
                    )
                    message = _("已登记。")
                    touched = form.start.data.date() if form.start.data else None
                else:
                    withdrawn = records.withdraw_absence(
                        db.session,
                        hall,
                        absence_id=withdraw_form.absence_id.data,
                        reason=withdraw_form.reason.data,
                        user_id=current_user.id,
                    )
                    message = _("已撤销该登记（记录保留并标注为已撤销）。")
                    touched = to_local(withdrawn.start, hall_zone(hall.timezone)).date()
            except RecordError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(message, "success")
                if touched:
                    _published_warning(touched)
                return redirect(url_for("admin.absences"))
        else:
            flash(first_error(target), "error")
    flt = list_filter()
    if wants_export():
        return export_of(listing.ABSENCES, flt, _("外出与请假"))
    zone = hall_zone(hall.timezone)
    page = page_of(listing.ABSENCES, flt)
    rows = [
        (absence, person, to_local(absence.start, zone), to_local(absence.end, zone))
        for absence, person in page.rows
    ]
    return render_template(
        "admin/absences.html",
        form=form,
        withdraw_form=withdraw_form,
        rows=rows,
        page=page,
        zone=zone,
        **_list_context(hall, flt),
    )


def _withdraw_event(hall: Hall, form: EventWithdrawForm) -> ResponseReturnValue:
    """Withdraw an event, after the confirmation step (a veto is lifted by it)."""
    try:
        event = records.withdraw_event(
            db.session,
            hall,
            event_id=form.event_id.data,
            reason=form.reason.data,
            user_id=current_user.id,
        )
    except RecordError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.events"))
    at = to_local(event.at, hall_zone(hall.timezone))
    if not confirmed():
        details = [
            _("编号：%(id)s", id=event.event_id),
            _("工作人员：%(who)s", who=f"{event.staff.staff_no} {event.staff.name}"),
            _("分值：%(points)s", points=event.points),
            _("撤销原因：%(why)s", why=event.withdraw_reason),
        ]
        db.session.rollback()
        return confirm_page(
            title=_("确认撤销记录"),
            message=_(
                "撤销后该记录不再计分"
                "（带一票否决的，不再否决）；记录本身保留并标注为已撤销，操作记入审计日志。"
            ),
            details=details,
            confirm_label=_("确认撤销"),
            cancel_url=url_for("admin.events"),
        )
    db.session.commit()
    flash(_("已撤销该记录（记录保留并标注为已撤销）。"), "success")
    _published_warning(at.date())
    return redirect(url_for("admin.events"))


@bp.route("/events", methods=["GET", "POST"])
@roles_required(*LIST_ROLES, post=CHANGE_ROLES)
def events() -> ResponseReturnValue:
    """Record spot checks, complaints and commendations (points and veto flag), withdraw
    one recorded by mistake; the records paged, searchable and exported."""
    hall = current_hall()
    form = EventForm(prefix="ev")
    form.staff_no.choices = select_choices(records.staff_choices(db.session, hall))
    withdraw_form = EventWithdrawForm(prefix="wd")
    if request.method == "POST" and request.form.get("action") == "withdraw":
        if withdraw_form.validate_on_submit():
            return _withdraw_event(hall, withdraw_form)
        flash(first_error(withdraw_form), "error")
    elif request.method == "POST":
        if form.validate_on_submit():
            try:
                recorded = records.add_event(
                    db.session,
                    hall,
                    staff_no=form.staff_no.data or "",
                    kind=form.kind.data or "",
                    at=form.at.data,
                    points=form.points.data,
                    veto=bool(form.veto.data),
                    category=form.category.data,
                    note=form.note.data,
                    user_id=current_user.id,
                )
            except RecordError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                if recorded.veto and not confirmed():
                    details = [
                        _(
                            "工作人员：%(who)s",
                            who=f"{recorded.staff.staff_no} {recorded.staff.name}",
                        ),
                        _("分值：%(points)s", points=recorded.points),
                        _("说明：%(note)s", note=recorded.note or "—"),
                    ]
                    db.session.rollback()
                    return confirm_page(
                        title=_("确认记录一票否决"),
                        message=_(
                            "此事项带一票否决：本人及其所在窗口本期不能评为先进个人、红旗窗口。"
                        ),
                        details=details,
                        confirm_label=_("确认记录"),
                        cancel_url=url_for("admin.events"),
                    )
                db.session.commit()
                flash(_("已记录。"), "success")
                if form.at.data:
                    _published_warning(form.at.data.date())
                return redirect(url_for("admin.events"))
        else:
            flash(first_error(form), "error")
    flt = list_filter()
    if wants_export():
        return export_of(listing.EVENTS, flt, _("巡查与奖惩"))
    zone = hall_zone(hall.timezone)
    page = page_of(listing.EVENTS, flt)
    rows = [(event, person, to_local(event.at, zone)) for event, person in page.rows]
    return render_template(
        "admin/events.html",
        form=form,
        withdraw_form=withdraw_form,
        rows=rows,
        page=page,
        zone=zone,
        **_list_context(hall, flt),
    )


@bp.get("/punches")
@roles_required(*LIST_ROLES)
def punches() -> ResponseReturnValue:
    """Every punch of the hall (voided ones marked), paged, searchable and exported."""
    hall = current_hall()
    flt = list_filter()
    if wants_export():
        return export_of(listing.PUNCHES, flt, _("打卡记录"))
    zone = hall_zone(hall.timezone)
    page = page_of(listing.PUNCHES, flt)
    rows = [
        (punch, person, void, to_local(punch.punched_at, zone)) for punch, person, void in page.rows
    ]
    return render_template("admin/punches.html", rows=rows, page=page, **_list_context(hall, flt))
