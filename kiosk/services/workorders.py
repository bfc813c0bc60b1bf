"""Bad-review work orders (差评工单, SPEC 4.3) and their 好差评 loop (SPEC 11).

Every bad review is a work order on its own rating row: the duty officer calls the
citizen back (回访, each call a :class:`~kiosk.models.RatingCallback`, the first due by
the end of the ``callback_workdays``-th workday), verifies it (``upheld`` or
``unfounded``, with a note), and an upheld one is closed with its cause and action
(整改), due by the end of the 5th hall workday after the rating day; a follow-up call in
which the citizen is still unhappy reopens it. The window's unit may appeal (申诉,
:mod:`kiosk.services.appeals`). Every step is written through the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.orm import Session, aliased

from kiosk.localtime import hall_zone, to_local, to_storage
from kiosk.models import (
    CALLBACK_OUTCOMES,
    REVIEW_VERDICTS,
    Assignment,
    Hall,
    Rating,
    RatingAppeal,
    RatingCallback,
    ServiceSession,
    Staff,
    Unit,
    User,
    Window,
)
from kiosk.rules.badreview import appeal_deadline, callback_due
from kiosk.rules.calendar import rectification_deadline
from kiosk.rules.seating import Assignment as Seat
from kiosk.rules.seating import holding_on
from kiosk.rules.settings import calendar_from_settings, loop_terms
from kiosk.services import audit, push
from kiosk.services.errors import WorkOrderError
from kiosk.services.rulefile import rules_in_force

NOTE_MAX = 1000
EARLIEST_CALL = dt.datetime(2000, 1, 1)
STATUSES = ("pending", "upheld", "rectified", "unfounded")
OPEN_STATUSES = ("pending", "upheld")


@dataclass(frozen=True, slots=True)
class Callback:
    """One recorded callback; times naive hall-local."""

    called_at: dt.datetime
    outcome: str
    note: str
    satisfied: bool | None
    called_by: str | None


@dataclass(frozen=True, slots=True)
class Appeal:
    """The unit's appeal of a bad review; times naive hall-local."""

    statement: str
    filed_at: dt.datetime
    filed_by: str | None
    decision: str | None
    decision_note: str | None
    decided_at: dt.datetime | None
    decided_by: str | None

    @property
    def status(self) -> str:
        """``pending`` (待审核), ``approved`` or ``refused``."""
        return self.decision or "pending"


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
    unit_code: str | None = None
    unit_name: str | None = None
    reviewed_by_id: int | None = None
    callback_due: dt.datetime | None = None  # as ``deadline``: that day's 24:00
    appeal_deadline: dt.datetime | None = None
    rectification_cause: str | None = None
    rectification_action: str | None = None
    reopened_count: int = 0
    callbacks: tuple[Callback, ...] = ()
    appeal: Appeal | None = None

    @property
    def callback_due_day(self) -> dt.date | None:
        """The last day (to its 24:00) of the first callback's term."""
        return None if self.callback_due is None else self.callback_due.date() - dt.timedelta(1)

    @property
    def appeal_deadline_day(self) -> dt.date | None:
        """The last day (to its 24:00) of the unit's appeal window."""
        if self.appeal_deadline is None:
            return None
        return self.appeal_deadline.date() - dt.timedelta(days=1)

    @property
    def first_callback_at(self) -> dt.datetime | None:
        """When the citizen was first called back (any outcome); None before then."""
        return min((c.called_at for c in self.callbacks), default=None)

    @property
    def callback_overdue(self) -> bool:
        """No callback yet and its due time has passed."""
        return not self.callbacks and self.callback_due is not None and self.now > self.callback_due

    @property
    def callback_late(self) -> bool:
        """The first callback came after its due time."""
        first = self.first_callback_at
        return first is not None and self.callback_due is not None and first > self.callback_due

    @property
    def can_appeal(self) -> bool:
        """Upheld (rectified or not), no appeal yet, and the appeal window still open."""
        return (
            self.review == "upheld"
            and self.appeal is None
            and self.appeal_deadline is not None
            and self.now <= self.appeal_deadline
        )

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
            Unit.code,
            Unit.name,
        )
        .join(Staff, Staff.id == Rating.staff_id)
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .outerjoin(Unit, Unit.id == Window.unit_id)
        .outerjoin(reviewer, reviewer.id == Rating.reviewed_by)
        .where(
            Rating.hall_id == hall.id,
            Rating.level.in_(sorted(rules_in_force().bad_levels)),
        )
    )


def _order(row: Row[Any], hall: Hall, now_local: dt.datetime) -> WorkOrder:
    rating, staff_no, staff_name, window_code, window_name, display, username = row[:7]
    unit_code, unit_name = row[7:9]
    zone = hall_zone(hall.timezone)
    rated_local = to_local(rating.rated_at, zone)
    calendar = calendar_from_settings(hall.settings or {})
    terms = loop_terms(hall.settings, rules_in_force().rectification_workdays)
    deadline = rectification_deadline(rated_local.date(), calendar, terms.rectification_workdays)
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
        unit_code=unit_code,
        unit_name=unit_name,
        reviewed_by_id=rating.reviewed_by,
        callback_due=callback_due(rated_local, calendar, terms),
        appeal_deadline=appeal_deadline(rated_local, calendar, terms),
        rectification_cause=rating.rectification_cause,
        rectification_action=rating.rectification_action,
        reopened_count=rating.reopened_count or 0,
    )


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        uid: display or username
        for uid, display, username in session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(sorted(ids)))
        )
    }


def _attach_loop(session: Session, hall: Hall, orders: list[WorkOrder]) -> list[WorkOrder]:
    """Give each order its callbacks (oldest first) and its appeal, in two queries."""
    if not orders:
        return orders
    pks = [o.rating_pk for o in orders]
    zone = hall_zone(hall.timezone)
    calls = session.scalars(
        select(RatingCallback)
        .where(RatingCallback.rating_id.in_(pks))
        .order_by(RatingCallback.called_at, RatingCallback.id)
    ).all()
    appeals = {
        a.rating_id: a
        for a in session.scalars(select(RatingAppeal).where(RatingAppeal.rating_id.in_(pks)))
    }
    names = _user_names(
        session,
        {c.called_by for c in calls if c.called_by}
        | {a.filed_by for a in appeals.values() if a.filed_by}
        | {a.decided_by for a in appeals.values() if a.decided_by},
    )
    by_rating: dict[int, list[Callback]] = {}
    for call in calls:
        by_rating.setdefault(call.rating_id, []).append(
            Callback(
                called_at=to_local(call.called_at, zone),
                outcome=call.outcome,
                note=call.note,
                satisfied=call.satisfied,
                called_by=names.get(call.called_by) if call.called_by else None,
            )
        )
    result = []
    for order in orders:
        row = appeals.get(order.rating_pk)
        appeal = None
        if row is not None:
            appeal = Appeal(
                statement=row.statement,
                filed_at=to_local(row.filed_at, zone),
                filed_by=names.get(row.filed_by) if row.filed_by else None,
                decision=row.decision,
                decision_note=row.decision_note,
                decided_at=to_local(row.decided_at, zone) if row.decided_at else None,
                decided_by=names.get(row.decided_by) if row.decided_by else None,
            )
        result.append(
            replace(order, callbacks=tuple(by_rating.get(order.rating_pk, ())), appeal=appeal)
        )
    return result


def load_orders(
    session: Session,
    hall: Hall,
    now: dt.datetime,
    *,
    rating_id: str | None = None,
    first: dt.datetime | None = None,
    last: dt.datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[WorkOrder]:
    """Every work order of the hall (or the one ``rating_id``), rated in ``[first, last)``
    (naive UTC) when given, with windows, units, callbacks and appeals filled in;
    ``where`` narrows the ratings read (the list filter of :mod:`kiosk.services.listing`)."""
    query = _query(hall).where(*where)
    if rating_id is not None:
        query = query.where(Rating.rating_id == rating_id)
    if first is not None:
        query = query.where(Rating.rated_at >= first)
    if last is not None:
        query = query.where(Rating.rated_at < last)
    now_local = to_local(now, hall_zone(hall.timezone))
    orders = [_order(row, hall, now_local) for row in session.execute(query).all()]
    return _attach_loop(session, hall, _fill_windows(session, hall, orders))


def _unit_code(session: Session, unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    return session.scalar(select(Unit.code).where(Unit.id == unit_id)) or ""


def list_work_orders(
    session: Session,
    hall: Hall,
    now: dt.datetime,
    status: str | None = None,
    unit_id: int | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[WorkOrder]:
    """The hall's work orders; ``status`` is one of :data:`STATUSES`, ``"open"`` or None (all).

    ``unit_id`` (a unit viewer's unit) keeps only the orders of that unit's windows.
    Open orders come first, soonest deadline first; closed ones follow, newest first.
    ``now`` is naive UTC. ``where`` narrows the ratings read (the back office's list
    filter of :mod:`kiosk.services.listing`: staff, unit, window, dates).
    """
    if status is not None and status not in (*STATUSES, "open"):
        raise WorkOrderError(_("未知的工单状态：%(s)s", s=status))
    orders = load_orders(session, hall, now, where=where)
    unit_code = _unit_code(session, unit_id)
    if unit_code is not None:
        orders = [o for o in orders if o.unit_code == unit_code]
    if status == "open":
        orders = [o for o in orders if o.is_open]
    elif status is not None:
        orders = [o for o in orders if o.status == status]
    open_orders = sorted((o for o in orders if o.is_open), key=lambda o: (o.deadline, o.rated_at))
    closed = sorted((o for o in orders if not o.is_open), key=lambda o: o.rated_at, reverse=True)
    return open_orders + closed


def get_work_order(
    session: Session, hall: Hall, rating_id: str, now: dt.datetime, unit_id: int | None = None
) -> WorkOrder:
    """One work order by its rating id; raises :class:`WorkOrderError` when there is none
    (or, with ``unit_id``, when it is not of that unit's windows)."""
    orders = load_orders(session, hall, now, rating_id=rating_id)
    unit_code = _unit_code(session, unit_id)
    if not orders or (unit_code is not None and orders[0].unit_code != unit_code):
        raise WorkOrderError(_("本大厅没有编号为 %(id)s 的差评。", id=rating_id), "not_found")
    return orders[0]


def _fill_windows(session: Session, hall: Hall, orders: list[WorkOrder]) -> list[WorkOrder]:
    """Give a window to orders whose rating came without a counter session (imported ones):
    the window the staff member was assigned to on the rating day (a later assignment holds).
    """
    missing = {o.staff_no for o in orders if o.window_code is None}
    if not missing:
        return orders
    spans: dict[str, list[Seat]] = {}
    names: dict[str, tuple[str, str, str]] = {}
    for staff_no, start, end, code, name, ucode, uname in session.execute(
        select(
            Staff.staff_no,
            Assignment.start_date,
            Assignment.end_date,
            Window.code,
            Window.name,
            Unit.code,
            Unit.name,
        )
        .join(Assignment, Assignment.staff_id == Staff.id)
        .join(Window, Window.id == Assignment.window_id)
        .join(Unit, Unit.id == Window.unit_id)
        .where(Staff.hall_id == hall.id, Staff.staff_no.in_(sorted(missing)))
    ):
        spans.setdefault(staff_no, []).append(Seat(code, start, end))
        names[code] = (name, ucode, uname)
    filled = []
    for order in orders:
        if order.window_code is None:
            held = holding_on(spans.get(order.staff_no, ()), order.rated_at.date())
            if held is not None:
                name, ucode, uname = names[held.window]
                order = replace(
                    order,
                    window_code=held.window,
                    window_name=name,
                    unit_code=ucode,
                    unit_name=uname,
                )
        filled.append(order)
    return filled


def _note(note: str | None, missing: str) -> str:
    note = (note or "").strip()
    if not note:
        raise WorkOrderError(missing)
    if len(note) > NOTE_MAX:
        raise WorkOrderError(_("说明不能超过 %(n)d 个字。", n=NOTE_MAX))
    return note


def _optional_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise WorkOrderError(_("说明不能超过 %(n)d 个字。", n=NOTE_MAX))
    return note or None


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
    *,
    cause: str | None,
    action: str | None,
) -> WorkOrder:
    """Close an upheld order at ``now`` with its cause and the action taken (SPEC 11 整改);
    ``note`` is optional. The caller commits."""
    cause = _note(cause, _("请填写差评原因分析。"))
    action = _note(action, _("请填写整改措施。"))
    note = _optional_note(note)
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
        .values(
            rectified_at=now,
            rectification_note=note,
            rectification_cause=cause,
            rectification_action=action,
        )
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
        after={
            "rectified_at": now,
            "rectification_cause": cause,
            "rectification_action": action,
            "rectification_note": note,
        },
        reason=action,
    )
    return get_work_order(session, hall, rating_id, now)


def _call_time(
    called_at: dt.datetime | None, order: WorkOrder, now_local: dt.datetime
) -> dt.datetime:
    """The call's hall-local time: not before the rating, not in the future (a minute's slack)."""
    if called_at is None:
        return now_local
    if called_at.tzinfo is not None:
        raise WorkOrderError(_("回访时间的格式应为 2026-11-26 10:30。"))
    if called_at < EARLIEST_CALL or called_at.year > 2099:
        raise WorkOrderError(_("回访时间须在 2000 年至 2099 年之间。"))
    if called_at < order.rated_at:
        raise WorkOrderError(_("回访时间不能早于评价时间。"))
    if called_at > now_local + dt.timedelta(minutes=1):
        raise WorkOrderError(_("回访时间不能晚于现在。"))
    return called_at


def record_callback(
    session: Session,
    hall: Hall,
    rating_id: str,
    *,
    outcome: str,
    note: str | None,
    called_at: dt.datetime | None,
    satisfied: bool | None,
    user_id: int | None,
    now: dt.datetime,
) -> WorkOrder:
    """Record a callback (回访) of the order (SPEC 11); the caller commits.

    ``called_at`` is the hall-local time of the call (None: now). ``outcome`` is
    ``reached`` (``note`` says what was said), ``unreached`` or ``impossible`` (no
    contact was given; ``note`` gives the reason). ``satisfied`` is the citizen's answer
    to a follow-up after the rectification: False reopens a rectified order.
    """
    if outcome not in CALLBACK_OUTCOMES:
        raise WorkOrderError(_("请选择回访结果：已联系上、未联系上或无法回访。"))
    if outcome == "reached":
        text = _note(note, _("请填写回访情况（群众说了什么）。"))
    elif outcome == "impossible":
        text = _note(note, _("无法回访须写明原因。"))
    else:
        text = _optional_note(note) or ""
    if satisfied is not None and outcome != "reached":
        raise WorkOrderError(_("只有联系上群众时才能记录其是否满意。"))
    order = get_work_order(session, hall, rating_id, now)
    zone = hall_zone(hall.timezone)
    local = _call_time(called_at, order, to_local(now, zone))
    at_utc = to_storage(local, zone)
    session.add(
        RatingCallback(
            rating_id=order.rating_pk,
            called_at=at_utc,
            outcome=outcome,
            note=text,
            satisfied=satisfied,
            called_by=user_id,
            recorded_at=now,
        )
    )
    audit.record(
        session,
        action="workorder.callback",
        object_type="rating",
        object_id=rating_id,
        user_id=user_id,
        hall_id=hall.id,
        before=None,
        after={"called_at": at_utc, "outcome": outcome, "note": text, "satisfied": satisfied},
        reason=text or None,
    )
    if satisfied is False and order.status == "rectified":
        _reopen(session, hall, order, text, user_id)
    session.flush()
    return get_work_order(session, hall, rating_id, now)


def _reopen(session: Session, hall: Hall, order: WorkOrder, why: str, user_id: int | None) -> None:
    """The citizen is still unhappy after the rectification: it is open again (SPEC 11)."""
    rating = session.get(Rating, order.rating_pk)
    assert rating is not None  # the order was just read from it
    before = {
        "rectified_at": rating.rectified_at,
        "rectification_cause": rating.rectification_cause,
        "rectification_action": rating.rectification_action,
        "rectification_note": rating.rectification_note,
    }
    result = session.execute(
        update(Rating)
        .where(Rating.id == order.rating_pk, Rating.rectified_at.is_not(None))
        .values(
            rectified_at=None,
            rectification_note=None,
            rectification_cause=None,
            rectification_action=None,
            reopened_count=Rating.reopened_count + 1,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise WorkOrderError(
            _("工单 %(id)s 已被他人改动，请刷新后重试。", id=order.rating_id), "conflict"
        )
    audit.record(
        session,
        action="workorder.reopen",
        object_type="rating",
        object_id=order.rating_id,
        user_id=user_id,
        hall_id=hall.id,
        before=before,
        after={"rectified_at": None, "reopened_count": order.reopened_count + 1},
        reason=why,
    )
