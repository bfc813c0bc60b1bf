"""Bad-review work orders (差评工单, SPEC 4.3).

Every bad review is a work order on its own rating row: the duty officer verifies it
(``upheld`` or ``unfounded``, with a note), and an upheld one is closed with a
rectification note and time, due by the end of the 5th hall workday after the rating
day. Every verification and rectification is written through the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, aliased

from kiosk.localtime import hall_zone, to_local
from kiosk.models import (
    REVIEW_VERDICTS,
    Assignment,
    Hall,
    Rating,
    ServiceSession,
    Staff,
    User,
    Window,
)
from kiosk.rules.calendar import rectification_deadline
from kiosk.rules.seating import Assignment as Seat
from kiosk.rules.seating import holding_on
from kiosk.rules.settings import calendar_from_settings
from kiosk.services import audit, push
from kiosk.services.errors import WorkOrderError
from kiosk.services.rulefile import rules_in_force

NOTE_MAX = 1000
STATUSES = ("pending", "upheld", "rectified", "unfounded")
OPEN_STATUSES = ("pending", "upheld")


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """One bad review as a work order; times are naive hall-local."""

    rating_pk: int
    rating_id: str
    rated_at: dt.datetime
    level: int
    channel: str
    reasons: tuple[str, ...]
    comment: str | None
    case_no: str | None
    misuse: bool
    staff_no: str
    staff_name: str
    window_code: str | None
    window_name: str | None
    review: str | None
    review_note: str | None
    reviewed_at: dt.datetime | None
    reviewed_by: str | None
    rectified_at: dt.datetime | None
    rectification_note: str | None
    deadline: dt.datetime  # 00:00 after the last day, i.e. that day's 24:00
    now: dt.datetime

    @property
    def status(self) -> str:
        """``pending`` (待核实), ``upheld`` (待整改), ``rectified`` or ``unfounded``."""
        if self.review is None:
            return "pending"
        if self.review == "unfounded":
            return "unfounded"
        return "rectified" if self.rectified_at is not None else "upheld"

    @property
    def is_open(self) -> bool:
        """Still needs the duty officer: not verified, or upheld and not rectified."""
        return self.status in OPEN_STATUSES

    @property
    def deadline_day(self) -> dt.date:
        """The last day of the rectification term (to its 24:00)."""
        return self.deadline.date() - dt.timedelta(days=1)

    @property
    def overdue(self) -> bool:
        """Open and past the deadline (an upheld one now gives a veto, SPEC 5.4)."""
        return self.is_open and self.now > self.deadline

    @property
    def late(self) -> bool:
        """Rectified, but after the deadline."""
        return self.rectified_at is not None and self.rectified_at > self.deadline

    @property
    def days_left(self) -> int:
        """Whole calendar days until the deadline's last day (negative when past)."""
        return (self.deadline_day - self.now.date()).days


def _query(hall: Hall):  # type: ignore[no-untyped-def]
    reviewer = aliased(User)
    return (
        select(
            Rating,
            Staff.staff_no,
            Staff.name,
            Window.code,
            Window.name,
            reviewer.display_name,
            reviewer.username,
        )
        .join(Staff, Staff.id == Rating.staff_id)
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .outerjoin(reviewer, reviewer.id == Rating.reviewed_by)
        .where(
            Rating.hall_id == hall.id,
            Rating.level.in_(sorted(rules_in_force().bad_levels)),
        )
    )


def _order(row: Row[Any], hall: Hall, now_local: dt.datetime) -> WorkOrder:
    rating, staff_no, staff_name, window_code, window_name, display, username = row
    zone = hall_zone(hall.timezone)
    rated_local = to_local(rating.rated_at, zone)
    deadline = rectification_deadline(
        rated_local.date(),
        calendar_from_settings(hall.settings or {}),
        rules_in_force().rectification_workdays,
    )
    return WorkOrder(
        rating_pk=rating.id,
        rating_id=rating.rating_id,
        rated_at=rated_local,
        level=rating.level,
        channel=rating.channel,
        reasons=tuple(r for r in (rating.reasons or "").split("|") if r),
        comment=rating.comment,
        case_no=rating.case_no,
        misuse=bool(rating.misuse),
        staff_no=staff_no,
        staff_name=staff_name,
        window_code=window_code,
        window_name=window_name,
        review=rating.review,
        review_note=rating.review_note,
        reviewed_at=to_local(rating.reviewed_at, zone) if rating.reviewed_at else None,
        reviewed_by=(display or username) if rating.reviewed_by else None,
        rectified_at=to_local(rating.rectified_at, zone) if rating.rectified_at else None,
        rectification_note=rating.rectification_note,
        deadline=deadline,
        now=now_local,
    )


def list_work_orders(
    session: Session, hall: Hall, now: dt.datetime, status: str | None = None
) -> list[WorkOrder]:
    """The hall's work orders; ``status`` is one of :data:`STATUSES`, ``"open"`` or None (all).

    Open orders come first, soonest deadline first; closed ones follow, newest first.
    ``now`` is naive UTC.
    """
    if status is not None and status not in (*STATUSES, "open"):
        raise WorkOrderError(_("未知的工单状态：%(s)s", s=status))
    now_local = to_local(now, hall_zone(hall.timezone))
    orders = _fill_windows(
        session, hall, [_order(row, hall, now_local) for row in session.execute(_query(hall)).all()]
    )
    if status == "open":
        orders = [o for o in orders if o.is_open]
    elif status is not None:
        orders = [o for o in orders if o.status == status]
    open_orders = sorted((o for o in orders if o.is_open), key=lambda o: (o.deadline, o.rated_at))
    closed = sorted((o for o in orders if not o.is_open), key=lambda o: o.rated_at, reverse=True)
    return open_orders + closed


def get_work_order(session: Session, hall: Hall, rating_id: str, now: dt.datetime) -> WorkOrder:
    """One work order by its rating id; raises :class:`WorkOrderError` when there is none."""
    row = session.execute(_query(hall).where(Rating.rating_id == rating_id)).first()
    if row is None:
        raise WorkOrderError(_("本大厅没有编号为 %(id)s 的差评。", id=rating_id), "not_found")
    return _fill_windows(
        session, hall, [_order(row, hall, to_local(now, hall_zone(hall.timezone)))]
    )[0]


def _fill_windows(session: Session, hall: Hall, orders: list[WorkOrder]) -> list[WorkOrder]:
    """Give a window to orders whose rating came without a counter session (imported ones):
    the window the staff member was assigned to on the rating day (a later assignment holds).
    """
    missing = {o.staff_no for o in orders if o.window_code is None}
    if not missing:
        return orders
    spans: dict[str, list[Seat]] = {}
    names: dict[str, str] = {}
    for staff_no, start, end, code, name in session.execute(
        select(Staff.staff_no, Assignment.start_date, Assignment.end_date, Window.code, Window.name)
        .join(Assignment, Assignment.staff_id == Staff.id)
        .join(Window, Window.id == Assignment.window_id)
        .where(Staff.hall_id == hall.id, Staff.staff_no.in_(sorted(missing)))
    ):
        spans.setdefault(staff_no, []).append(Seat(code, start, end))
        names[code] = name
    filled = []
    for order in orders:
        if order.window_code is None:
            held = holding_on(spans.get(order.staff_no, ()), order.rated_at.date())
            if held is not None:
                order = replace(order, window_code=held.window, window_name=names[held.window])
        filled.append(order)
    return filled


def _note(note: str | None, missing: str) -> str:
    note = (note or "").strip()
    if not note:
        raise WorkOrderError(missing)
    if len(note) > NOTE_MAX:
        raise WorkOrderError(_("说明不能超过 %(n)d 个字。", n=NOTE_MAX))
    return note


def verify(
    session: Session,
    hall: Hall,
    rating_id: str,
    verdict: str,
    note: str | None,
    user_id: int | None,
    now: dt.datetime,
) -> WorkOrder:
    """Record the duty officer's verdict (``upheld``/``unfounded``) on a pending order.

    The update is conditional on the order still being pending, so two officers cannot
    both verify it. The caller commits (or rolls back on a refusal).
    """
    if verdict not in REVIEW_VERDICTS:
        raise WorkOrderError(_("请选择核实结果：属实或不属实。"))
    note = _note(note, _("请填写核实说明。"))
    order = get_work_order(session, hall, rating_id, now)
    if order.status != "pending":
        raise WorkOrderError(_("工单 %(id)s 已经核实过了。", id=rating_id), "conflict")
    result = session.execute(
        update(Rating)
        .where(Rating.id == order.rating_pk, Rating.review.is_(None))
        .values(review=verdict, review_note=note, reviewed_at=now, reviewed_by=user_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Another officer verified it since it was read: the update changed nothing.
        raise WorkOrderError(_("工单 %(id)s 已经核实过了。", id=rating_id), "conflict")
    # The verdict is part of what the provincial platform holds: send the rating again.
    push.mark_changed(session, [order.rating_pk])
    audit.record(
        session,
        action="workorder.verify",
        object_type="rating",
        object_id=rating_id,
        user_id=user_id,
        hall_id=hall.id,
        before={"review": None},
        after={"review": verdict, "review_note": note, "reviewed_at": now},
        reason=note,
    )
    return get_work_order(session, hall, rating_id, now)


def rectify(
    session: Session,
    hall: Hall,
    rating_id: str,
    note: str | None,
    user_id: int | None,
    now: dt.datetime,
) -> WorkOrder:
    """Close an upheld order with a rectification note, at ``now``; the caller commits."""
    note = _note(note, _("请填写整改说明。"))
    order = get_work_order(session, hall, rating_id, now)
    if order.status != "upheld":
        raise WorkOrderError(
            _("工单 %(id)s 不是待整改状态：只有核实属实且未整改的差评才能整改。", id=rating_id)
        )
    result = session.execute(
        update(Rating)
        .where(
            Rating.id == order.rating_pk,
            Rating.review == "upheld",
            Rating.rectified_at.is_(None),
        )
        .values(rectified_at=now, rectification_note=note)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Rectified by someone else since it was read: the update changed nothing.
        raise WorkOrderError(_("工单 %(id)s 已经整改过了。", id=rating_id), "conflict")
    audit.record(
        session,
        action="workorder.rectify",
        object_type="rating",
        object_id=rating_id,
        user_id=user_id,
        hall_id=hall.id,
        before={"rectified_at": None},
        after={"rectified_at": now, "rectification_note": note},
        reason=note,
    )
    return get_work_order(session, hall, rating_id, now)
