"""The open alerts of a hall at an instant (SPEC 12), and their acknowledgement.

Loads, set-based and bounded by the instant, what :mod:`kiosk.rules.alerts` needs: the
day's ratings per window, the readers' seen spans, today's roster with its AM_IN punches
and excuses, open bad reviews and open cases; then the rules say which alerts are open.
Everything is read "as of" the instant (a punch stored after it, a case completed after
it, an acknowledgement given after it do not count), so the same data give the same
open set for any instant, now or past.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_aware, to_local, to_storage
from kiosk.models import (
    Absence,
    AlertAck,
    Assignment,
    Case,
    Device,
    Hall,
    Punch,
    PunchVoid,
    Rating,
    RatingCallback,
    ServiceSession,
    Staff,
    User,
    Window,
)
from kiosk.models_devices import DeviceSeen
from kiosk.rules.alerts import (
    ALERT_CODES,
    Alert,
    DueItem,
    RatingPoint,
    RosterPerson,
    open_alerts,
)
from kiosk.rules.alerts import (
    DeviceSeen as Seen,
)
from kiosk.rules.attendance import EARLIEST_BEFORE_A0, Excuse
from kiosk.rules.badreview import callback_due, end_of_workday_term
from kiosk.rules.seating import Assignment as Seat
from kiosk.rules.seating import holding_on
from kiosk.rules.settings import alert_thresholds, calendar_from_settings, loop_terms
from kiosk.services import audit
from kiosk.services.errors import Invalid
from kiosk.services.rulefile import rules_in_force
from kiosk.textlimits import max_length

COMMENT_MAX = 500


class AlertError(Invalid):
    """An acknowledgement that cannot be recorded."""


def _window_of(
    session: Session, staff_days: set[tuple[int, dt.date]]
) -> dict[tuple[int, dt.date], str]:
    """The window code each (staff id, local day) was assigned to, one query."""
    if not staff_days:
        return {}
    seats: dict[int, list[Seat]] = defaultdict(list)
    ids = sorted({staff for staff, _ in staff_days})
    for staff_id, start, end, code in session.execute(
        select(Assignment.staff_id, Assignment.start_date, Assignment.end_date, Window.code)
        .join(Window, Window.id == Assignment.window_id)
        .where(Assignment.staff_id.in_(ids))
    ):
        seats[staff_id].append(Seat(code, start, end))
    found = {}
    for staff_id, day in staff_days:
        held = holding_on(seats.get(staff_id, ()), day)
        if held is not None:
            found[(staff_id, day)] = held.window
    return found


def _ratings(
    session: Session, hall: Hall, since: dt.datetime, now: dt.datetime, bad: frozenset[int]
) -> list[RatingPoint]:
    """Ratings of ``[since, now]`` (naive UTC) with their window (the session's, else the
    staff member's window on the rating day, for imported ratings)."""
    zone = hall_zone(hall.timezone)
    rows = session.execute(
        select(
            Rating.staff_id,
            Rating.rated_at,
            Rating.level,
            Rating.misuse,
            Rating.review,
            Rating.channel,
            Window.code,
        )
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .where(Rating.hall_id == hall.id, Rating.rated_at >= since, Rating.rated_at <= now)
    ).all()
    local = [(row, to_local(row.rated_at, zone)) for row in rows]
    windows = _window_of(session, {(r.staff_id, at.date()) for r, at in local if r.code is None})
    points = []
    for row, at in local:
        window = row.code or windows.get((row.staff_id, at.date()))
        if window is None:
            continue
        valid = not row.misuse and row.review != "unfounded" and row.channel != "default"
        points.append(RatingPoint(window, at, valid, row.level in bad))
    return points


def _devices(session: Session, hall: Hall, now: dt.datetime) -> list[Seen]:
    """The hall's readers with their last sighting at or before ``now``."""
    zone = hall_zone(hall.timezone)
    seen = (
        select(
            DeviceSeen.device_id,
            func.max(case((DeviceSeen.last_seen > now, now), else_=DeviceSeen.last_seen)).label(
                "seen"
            ),
        )
        .where(DeviceSeen.first_seen <= now)
        .group_by(DeviceSeen.device_id)
        .subquery()
    )
    result = []
    for name, created, retired, last_seen, spans_seen in session.execute(
        select(Device.name, Device.created_at, Device.retired_at, Device.last_seen, seen.c.seen)
        .outerjoin(seen, seen.c.device_id == Device.id)
        .where(Device.hall_id == hall.id)
    ):
        # A reader with no span yet (spans began with issue 15) falls back to its last
        # reported sighting, when that is not after the instant asked about.
        last = spans_seen or (last_seen if last_seen is not None and last_seen <= now else None)
        result.append(
            Seen(
                name,
                to_local(created, zone),
                to_local(last, zone) if last is not None else None,
                to_local(retired, zone) if retired is not None else None,
            )
        )
    return result


def _roster(session: Session, hall: Hall, now: dt.datetime) -> list[RosterPerson]:
    """Today's rostered staff with their punches up to ``now`` and the day's excuses."""
    zone = hall_zone(hall.timezone)
    today = to_local(now, zone).date()
    ids = [
        staff_id
        for (staff_id,) in session.execute(
            select(Assignment.staff_id)
            .join(Staff, Staff.id == Assignment.staff_id)
            .where(
                Staff.hall_id == hall.id,
                Assignment.start_date <= today,
                or_(Assignment.end_date.is_(None), Assignment.end_date >= today),
            )
            .distinct()
        )
    ]
    if not ids:
        return []
    day_start, day_stop = local_day_bounds(today, today, zone)
    opens = day_start - EARLIEST_BEFORE_A0  # AM_IN's range never starts before 22:00 the eve
    punches: dict[int, list[dt.datetime]] = defaultdict(list)
    for staff_id, at in session.execute(
        select(Punch.staff_id, Punch.punched_at)
        .join(Staff, Staff.id == Punch.staff_id)
        .outerjoin(PunchVoid, PunchVoid.punch_id == Punch.id)
        .where(
            Staff.hall_id == hall.id,
            Punch.punched_at >= opens,
            Punch.punched_at <= now,
            # A void recorded after the instant asked about did not exist yet.
            or_(PunchVoid.id.is_(None), PunchVoid.voided_at > now),
        )
    ):
        punches[staff_id].append(to_local(at, zone))
    excuses: dict[int, list[Excuse]] = defaultdict(list)
    for staff_id, kind, start, end in session.execute(
        select(Absence.staff_id, Absence.kind, Absence.start, Absence.end)
        .join(Staff, Staff.id == Absence.staff_id)
        .where(
            Staff.hall_id == hall.id,
            Absence.start < day_stop,
            Absence.end >= day_start,
            # A withdrawn absence excuses nothing, from the instant it was withdrawn.
            or_(Absence.withdrawn_at.is_(None), Absence.withdrawn_at > now),
        )
    ):
        excuses[staff_id].append(Excuse(kind, to_local(start, zone), to_local(end, zone)))
    numbers = {
        staff_id: staff_no
        for staff_id, staff_no in session.execute(
            select(Staff.id, Staff.staff_no).where(Staff.id.in_(ids))
        )
    }
    return [
        RosterPerson(numbers[i], tuple(punches.get(i, ())), tuple(excuses.get(i, ()))) for i in ids
    ]


def _bad_review_items(
    session: Session, hall: Hall, now: dt.datetime, bad: frozenset[int]
) -> list[DueItem]:
    """Callbacks and rectifications of bad reviews still open at ``now``.

    The rectification is due at the end of the rule file's ``rectification_workdays``-th
    workday after the rating day (SPEC 4.3), the first callback at the end of the
    ``[ratings] callback_workdays``-th (SPEC 11); a callback is done once one is recorded
    (any outcome, ``impossible`` with its reason included) at or before ``now``.
    """
    zone = hall_zone(hall.timezone)
    calendar = calendar_from_settings(hall.settings or {})
    # The loop's own terms (kiosk.rules.badreview), so an alert and the work order's
    # page never disagree on when something is due.
    terms = loop_terms(hall.settings or {}, rules_in_force().rectification_workdays)
    verified = and_(
        Rating.review.is_not(None), or_(Rating.reviewed_at.is_(None), Rating.reviewed_at <= now)
    )
    rectified = and_(Rating.rectified_at.is_not(None), Rating.rectified_at <= now)
    called_back = (
        select(RatingCallback.id)
        .where(RatingCallback.rating_id == Rating.id, RatingCallback.called_at <= now)
        .exists()
    )
    rows = session.execute(
        select(
            called_back.label("called_back"),
            Rating.rating_id,
            Rating.staff_id,
            Rating.rated_at,
            Rating.review,
            Rating.reviewed_at,
            Staff.staff_no,
            Window.code,
        )
        .join(Staff, Staff.id == Rating.staff_id)
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .where(
            Rating.hall_id == hall.id,
            Rating.level.in_(sorted(bad)),
            Rating.channel != "default",
            Rating.rated_at <= now,
            ~rectified,
            ~and_(verified, Rating.review == "unfounded"),
        )
    ).all()
    local = [(row, to_local(row.rated_at, zone)) for row in rows]
    windows = _window_of(session, {(r.staff_id, at.date()) for r, at in local if r.code is None})
    items = []
    for row, at in local:
        window = row.code or windows.get((row.staff_id, at.date()))
        common: dict[str, Any] = {
            "subject": row.rating_id,
            "window": window,
            "staff_no": row.staff_no,
            "rating_id": row.rating_id,
        }
        items.append(
            DueItem(
                "callback_due",
                due=callback_due(at, calendar, terms),
                done=bool(row.called_back),
                **common,
            )
        )
        items.append(
            DueItem(
                "rectify_due",
                due=end_of_workday_term(at, terms.rectification_workdays, calendar),
                **common,
            )
        )
    return items


def _case_items(session: Session, hall: Hall, now: dt.datetime, horizon_days: int) -> list[DueItem]:
    """Cases accepted and not completed at ``now`` that are due within the horizon."""
    zone = hall_zone(hall.timezone)
    query = (
        select(Case.case_no, Case.due_at, Staff.staff_no)
        .join(Staff, Staff.id == Case.staff_id)
        .where(
            Case.hall_id == hall.id,
            Case.accepted_at <= now,
            Case.due_at <= now + dt.timedelta(days=horizon_days),
        )
    )
    # Two index seeks on (hall_id, completed_at) rather than one OR that scans the table.
    rows = [
        *session.execute(query.where(Case.completed_at.is_(None))),
        *session.execute(query.where(Case.completed_at > now)),
    ]
    return [
        DueItem(
            "case_due",
            subject=case_no,
            due=to_local(due_at, zone),
            staff_no=staff_no,
            case_no=case_no,
        )
        for case_no, due_at, staff_no in rows
    ]


def _acknowledged(
    session: Session, hall: Hall, now: dt.datetime
) -> list[tuple[str, str, dt.datetime]]:
    zone = hall_zone(hall.timezone)
    return [
        (code, subject, to_local(since, zone))
        for code, subject, since in session.execute(
            select(AlertAck.code, AlertAck.subject, AlertAck.since).where(
                AlertAck.hall_id == hall.id, AlertAck.acked_at <= now
            )
        )
    ]


def hall_alerts(
    session: Session, hall: Hall, now: dt.datetime, *, include_acknowledged: bool = False
) -> list[Alert]:
    """The alerts of ``hall`` open at ``now`` (naive UTC); times in the result are local.

    ``include_acknowledged`` keeps the acknowledged ones too (they are still "open" by the
    data, only handled).
    """
    zone = hall_zone(hall.timezone)
    settings = hall.settings or {}
    thresholds = alert_thresholds(settings)
    calendar = calendar_from_settings(settings)
    bad = rules_in_force().bad_levels
    now_local = to_local(now, zone)
    day_start, _ = local_day_bounds(now_local.date(), now_local.date(), zone)
    span = dt.timedelta(minutes=thresholds.burst_minutes)
    # The warning of a due item opens at most due_workdays workdays ahead; holidays can
    # stretch that, so look twice as far in calendar days, plus the Spring Festival.
    horizon = 2 * thresholds.due_workdays + 14
    return open_alerts(
        now=now_local,
        calendar=calendar,
        thresholds=thresholds,
        ratings=_ratings(session, hall, day_start - span, now, bad),
        devices=_devices(session, hall, now),
        roster=_roster(session, hall, now),
        due=[
            *_bad_review_items(session, hall, now, bad),
            *_case_items(session, hall, now, horizon),
        ],
        acknowledged=() if include_acknowledged else _acknowledged(session, hall, now),
    )


def as_json(alert: Alert, hall: Hall) -> dict[str, Any]:
    """One alert in the SPEC 12 shape: ``code``, the subject's keys, ``since`` (ISO with
    offset); plus ``staff`` (the list of a ``no_am_in``) and ``due`` of a ``*_due``."""
    zone = hall_zone(hall.timezone)
    item: dict[str, Any] = {"code": alert.code}
    for key in ("window", "staff_no", "device", "rating_id", "case_no"):
        value = getattr(alert, key)
        if value is not None:
            item[key] = value
    if alert.staff:
        item["staff"] = list(alert.staff)
    if alert.due is not None:
        item["due"] = to_aware(to_storage(alert.due, zone), zone).isoformat()
    item["since"] = to_aware(to_storage(alert.since, zone), zone).isoformat()
    return item


def since_utc(alert: Alert, hall: Hall) -> dt.datetime:
    """The alert's ``since`` as stored (naive UTC)."""
    return to_storage(alert.since, hall_zone(hall.timezone))


def acknowledge(
    session: Session,
    hall: Hall,
    *,
    code: str,
    subject: str,
    since: dt.datetime,
    comment: str | None,
    user_id: int | None,
    now: dt.datetime,
) -> AlertAck:
    """Acknowledge the open alert ``(code, subject, since)`` (``since`` naive UTC) with a
    comment, audited. Refused when the comment is empty or too long, or the alert is not
    open (any more) at ``now``. The caller commits."""
    comment = (comment or "").strip()
    if not comment:
        raise AlertError(_("请填写处理说明。"))
    if len(comment) > COMMENT_MAX:
        raise AlertError(_("处理说明不能超过 %(n)d 个字。", n=COMMENT_MAX))
    if code not in ALERT_CODES or len(subject) > max_length(AlertAck.subject):
        raise AlertError(_("没有这条预警。"), "not_found")
    wanted = (code, subject, since)
    match = next(
        (
            a
            for a in hall_alerts(session, hall, now)
            if (a.code, a.subject, since_utc(a, hall)) == wanted
        ),
        None,
    )
    if match is None:
        raise AlertError(_("这条预警已处理或已解除。"), "conflict")
    ack = AlertAck(
        hall_id=hall.id,
        code=code,
        subject=subject,
        since=since,
        comment=comment,
        acked_by=user_id,
        acked_at=now,
    )
    session.add(ack)
    session.flush()
    audit.record(
        session,
        action="alert.acknowledge",
        object_type="alert",
        object_id=ack.id,
        user_id=user_id,
        hall_id=hall.id,
        before={"code": code, "subject": subject, "since": since, "acknowledged": False},
        after={
            "code": code,
            "subject": subject,
            "since": since,
            "acknowledged": True,
            "comment": comment,
        },
        reason=comment,
    )
    return ack


@dataclass(frozen=True, slots=True)
class AckLine:
    """An acknowledgement for the list of handled alerts."""

    code: str
    subject: str
    since: dt.datetime
    comment: str
    by: str
    at: dt.datetime


def recent_acknowledgements(session: Session, hall: Hall, limit: int = 50) -> list[AckLine]:
    """The hall's latest acknowledgements, newest first (times local)."""
    zone = hall_zone(hall.timezone)
    rows = session.execute(
        select(AlertAck, User.display_name, User.username)
        .outerjoin(User, User.id == AlertAck.acked_by)
        .where(AlertAck.hall_id == hall.id)
        .order_by(AlertAck.acked_at.desc(), AlertAck.id.desc())
        .limit(limit)
    )
    return [
        AckLine(
            ack.code,
            ack.subject,
            to_local(ack.since, zone),
            ack.comment,
            display or username or "",
            to_local(ack.acked_at, zone),
        )
        for ack, display, username in rows
    ]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An open alert for the back office: the alert, its stored ``since``, and names."""

    alert: Alert
    since_utc: dt.datetime
    window_name: str | None
    staff: tuple[tuple[str, str], ...]
    """(staff_no, name) of the person or people it is about."""
    overdue: bool


def alert_rows(session: Session, hall: Hall, now: dt.datetime) -> list[AlertRow]:
    """The open alerts of ``hall`` at ``now`` with the names a page shows."""
    found = hall_alerts(session, hall, now)
    numbers = {a.staff_no for a in found if a.staff_no} | {n for a in found for n in a.staff}
    names: dict[str, str] = {}
    if numbers:
        names = {
            number: name
            for number, name in session.execute(
                select(Staff.staff_no, Staff.name).where(
                    Staff.hall_id == hall.id, Staff.staff_no.in_(sorted(numbers))
                )
            )
        }
    windows = {
        code: name
        for code, name in session.execute(
            select(Window.code, Window.name).where(Window.hall_id == hall.id)
        )
    }
    now_local = to_local(now, hall_zone(hall.timezone))
    rows = []
    for alert in found:
        people = alert.staff or ((alert.staff_no,) if alert.staff_no else ())
        rows.append(
            AlertRow(
                alert,
                since_utc(alert, hall),
                windows.get(alert.window) if alert.window else None,
                tuple((n, names.get(n, "")) for n in people),
                alert.due is not None and now_local > alert.due,
            )
        )
    return rows


def open_count(session: Session, hall: Hall, now: dt.datetime) -> int:
    """How many alerts of ``hall`` are open (and not acknowledged) at ``now``."""
    return len(hall_alerts(session, hall, now))
