"""The bad-review loop's report per unit and period (SPEC 11), and default ratings (SPEC 4.2).

The report counts the bad reviews rated in the period (by local date), misuse left out
(misuse is no citizen's judgement); a default rating is never bad. Its figures come from
:func:`kiosk.rules.badreview.loop_figures`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import Hall, Rating, ServiceSession, Unit
from kiosk.rules.badreview import (
    DEFAULT_RATING_LEVEL,
    LoopFacts,
    LoopFigures,
    default_rating_due,
    loop_figures,
)
from kiosk.rules.calendar import Period
from kiosk.rules.settings import default_after_days
from kiosk.services import audit
from kiosk.services.errors import WorkOrderError
from kiosk.services.workorders import WorkOrder, load_orders

NO_UNIT = ""


@dataclass(frozen=True, slots=True)
class LoopReport:
    """The period's figures per unit (with the unit's name) and for the whole hall."""

    period: Period
    units: list[tuple[str, LoopFigures]]
    hall: LoopFigures


def _facts_as_of(order: WorkOrder, as_of: dt.datetime | None) -> LoopFacts:
    """The order as it stood at ``as_of`` (naive hall-local; None: as it stands now).

    A step recorded later had not happened yet: a later callback is left out, a later
    rectification is still open, a later verdict or appeal decision not yet given.
    """
    upheld = order.review == "upheld"
    appeal = None if order.appeal is None else order.appeal.status
    calls = [c.called_at for c in order.callbacks]
    rectified = order.rectified_at
    if as_of is not None:
        calls = [c for c in calls if c <= as_of]
        if rectified is not None and rectified > as_of:
            rectified = None
        decided = None if order.appeal is None else order.appeal.decided_at
        if order.appeal is not None and order.appeal.filed_at > as_of:
            appeal = None
        elif decided is not None and decided > as_of:
            appeal = "pending"
        if appeal in (None, "pending") and order.appeal is not None:
            # An appeal approved after as_of: the review was still upheld then.
            upheld = upheld or order.appeal.decision == "approved"
        if order.reviewed_at is not None and order.reviewed_at > as_of:
            upheld = False
    return LoopFacts(
        unit=order.unit_code or NO_UNIT,
        callback_due=order.callback_due or order.deadline,
        first_callback_at=min(calls, default=None),
        rectification_due=order.deadline,
        upheld=upheld,
        rectified_at=rectified,
        appeal=appeal,
    )


def loop_report(
    session: Session,
    hall: Hall,
    period_code: str,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
) -> LoopReport:
    """The loop figures of ``period_code`` (``YYYY-Bn``) at ``now`` (naive UTC).

    With ``as_of`` (naive UTC; a notice's frozen instant) the figures are those of that
    instant: only ratings up to it, and each step only if it was taken by then.
    A bad review whose window is unknown is reported under the unit ``""``.
    """
    try:
        period = Period.parse(period_code)
    except ValueError as exc:
        raise WorkOrderError(str(exc)) from exc
    if not 2000 <= period.first_day.year <= 2099:
        raise WorkOrderError("period must be between 2000 and 2099")
    zone = hall_zone(hall.timezone)
    first, last = local_day_bounds(period.first_day, period.last_day, zone)
    if as_of is not None:
        last = min(last, as_of + dt.timedelta(microseconds=1))
    local_as_of = None if as_of is None else to_local(as_of, zone)
    facts = [
        _facts_as_of(order, local_as_of)
        for order in load_orders(session, hall, as_of or now, first=first, last=last)
        if not order.misuse
    ]
    per_unit, whole = loop_figures(facts)
    names: dict[str, str] = {
        code: name
        for code, name in session.execute(
            select(Unit.code, Unit.name).where(Unit.hall_id == hall.id)
        )
    }
    return LoopReport(
        period=period,
        units=[(names.get(f.unit, ""), f) for f in per_unit],
        hall=whole,
    )


def default_rating_id(hall: Hall, session_public_id: str) -> str:
    """The id of a session's default rating: fixed, so applying defaults twice adds nothing."""
    return f"{hall.code}-D-{session_public_id}"


def apply_default_ratings(session: Session, hall: Hall, as_of: dt.datetime) -> int:
    """Give every case session still unrated ``default_after_days`` after it opened a
    default rating (level 3, channel ``default``, rated at that instant); returns how many.

    Idempotent: a rated session (by anyone) is never touched; ``as_of`` is naive UTC.
    The caller commits.
    """
    days = default_after_days(hall.settings)
    if days <= 0:
        return 0
    opened_by = as_of - dt.timedelta(days=days)
    rated = select(Rating.id).where(Rating.session_id == ServiceSession.id).exists()
    rows = session.execute(
        select(ServiceSession.id, ServiceSession.public_id, ServiceSession.staff_id)
        .add_columns(ServiceSession.opened_at, ServiceSession.case_no)
        .where(
            ServiceSession.hall_id == hall.id,
            ServiceSession.case_no.is_not(None),
            ServiceSession.case_no != "",
            ServiceSession.opened_at <= opened_by,
            ~rated,
        )
        .order_by(ServiceSession.opened_at, ServiceSession.id)
    ).all()
    for sid, public_id, staff_id, opened_at, case_no in rows:
        due = default_rating_due(opened_at, days)
        assert due is not None  # days > 0
        session.add(
            Rating(
                hall_id=hall.id,
                rating_id=default_rating_id(hall, public_id),
                session_id=sid,
                staff_id=staff_id,
                rated_at=due,
                level=DEFAULT_RATING_LEVEL,
                channel="default",
                case_no=case_no,
                misuse=False,
            )
        )
    if rows:
        audit.record(
            session,
            action="ratings.defaults",
            object_type="hall",
            object_id=hall.code,
            user_id=None,
            hall_id=hall.id,
            before=None,
            after={"count": len(rows), "as_of": as_of, "default_after_days": days},
            reason=None,
        )
    session.flush()
    return len(rows)
