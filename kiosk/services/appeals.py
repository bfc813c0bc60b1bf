"""The window unit's appeal (申诉) of a bad review (SPEC 11).

The unit whose window the bad review is of files it, with a statement, within
``[ratings] appeal_workdays`` workdays after the rating (by the end of that workday):
a unit viewer of that unit, or an admin on the unit's behalf (the audit log names who).
Only an upheld review can be appealed (a pending one is not yet held against the
window; an unfounded one needs no appeal), once. A leader (or an admin) other than the
officer who verified it decides: ``approved`` makes the review ``unfounded`` (it then
leaves scoring, as any unfounded review does, SPEC 4.3), ``refused`` leaves it as it
was. Both steps are audited. The caller commits.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kiosk.models import APPEAL_DECISIONS, Hall, Rating, RatingAppeal, Unit, User
from kiosk.services import audit, push
from kiosk.services.errors import WorkOrderError
from kiosk.services.workorders import NOTE_MAX, WorkOrder, get_work_order

FILERS = ("unit", "admin")
DECIDERS = ("leader", "admin")


def _text(value: str | None, missing: str) -> str:
    value = (value or "").strip()
    if not value:
        raise WorkOrderError(missing)
    if len(value) > NOTE_MAX:
        raise WorkOrderError(_("说明不能超过 %(n)d 个字。", n=NOTE_MAX))
    return value


def file_appeal(
    session: Session,
    hall: Hall,
    rating_id: str,
    statement: str | None,
    user: User,
    now: dt.datetime,
) -> WorkOrder:
    """File the unit's appeal of an upheld bad review; ``now`` is naive UTC."""
    statement = _text(statement, _("请填写申诉理由。"))
    if user.role not in FILERS:
        raise WorkOrderError(_("只有窗口所属单位（或管理员代为）可以申诉。"), "forbidden")
    order = get_work_order(session, hall, rating_id, now)
    if user.role == "unit":
        unit_code = session.scalar(select(Unit.code).where(Unit.id == user.unit_id))
        if unit_code is None or unit_code != order.unit_code:
            raise WorkOrderError(_("只能对本单位窗口的差评申诉。"), "forbidden")
    if order.appeal is not None:
        raise WorkOrderError(_("这条差评已经申诉过了。"), "conflict")
    if order.review != "upheld":
        raise WorkOrderError(_("只有核实属实的差评才能申诉。"))
    if not order.can_appeal:
        raise WorkOrderError(_("申诉期限已过，不能再申诉。"))
    session.add(
        RatingAppeal(rating_id=order.rating_pk, statement=statement, filed_at=now, filed_by=user.id)
    )
    audit.record(
        session,
        action="workorder.appeal",
        object_type="rating",
        object_id=rating_id,
        user_id=user.id,
        hall_id=hall.id,
        before=None,
        after={"statement": statement, "filed_at": now, "on_behalf": user.role == "admin"},
        reason=statement,
    )
    session.flush()
    return get_work_order(session, hall, rating_id, now)


def decide_appeal(
    session: Session,
    hall: Hall,
    rating_id: str,
    decision: str,
    note: str | None,
    user: User,
    now: dt.datetime,
) -> WorkOrder:
    """A leader's decision on a pending appeal; refused for the officer who verified it."""
    if decision not in APPEAL_DECISIONS:
        raise WorkOrderError(_("请选择审核结果：同意或不同意。"))
    note = _text(note, _("请填写审核意见。"))
    if user.role not in DECIDERS:
        raise WorkOrderError(_("申诉由大厅领导审核。"), "forbidden")
    order = get_work_order(session, hall, rating_id, now)
    if order.appeal is None:
        raise WorkOrderError(_("这条差评没有申诉。"), "not_found")
    if order.appeal.decision is not None:
        raise WorkOrderError(_("这条申诉已经审核过了。"), "conflict")
    if order.reviewed_by_id is not None and order.reviewed_by_id == user.id:
        raise WorkOrderError(
            _("核实这条差评的人员不能审核它的申诉，请由其他领导审核。"), "forbidden"
        )
    result = session.execute(
        update(RatingAppeal)
        .where(RatingAppeal.rating_id == order.rating_pk, RatingAppeal.decision.is_(None))
        .values(decision=decision, decision_note=note, decided_at=now, decided_by=user.id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        # Decided by another leader since it was read.
        raise WorkOrderError(_("这条申诉已经审核过了。"), "conflict")
    before = {"review": order.review}
    after: dict[str, object] = {"decision": decision, "decision_note": note, "decided_at": now}
    if decision == "approved":
        session.execute(
            update(Rating).where(Rating.id == order.rating_pk).values(review="unfounded")
        )
        # The platform holds the rating as it was: send it again under its id (SPEC 11).
        push.mark_changed(session, [order.rating_pk])
        after["review"] = "unfounded"
    audit.record(
        session,
        action="workorder.appeal_decision",
        object_type="rating",
        object_id=rating_id,
        user_id=user.id,
        hall_id=hall.id,
        before=before,
        after=after,
        reason=note,
    )
    session.flush()
    return get_work_order(session, hall, rating_id, now)
