"""The duty roster (带班表): which officer is on duty which day; changes are audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import DutyAssignment, Hall, User
from kiosk.rules.calendar import is_workday
from kiosk.services import audit
from kiosk.services.errors import RosterError
from kiosk.services.reports import hall_settings
from kiosk.services.texts import _

DUTY_ROLES = ("duty", "leader", "admin")


@dataclass(frozen=True, slots=True)
class RosterDay:
    """One day of the roster view."""

    day: dt.date
    workday: bool
    user_id: int | None
    officer: str | None


def eligible_officers(session: Session, hall: Hall) -> list[User]:
    """Active users of the hall (or hall-less admins) who can be on duty."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.role.in_(DUTY_ROLES),
                (User.hall_id == hall.id) | (User.hall_id.is_(None)),
            )
            .order_by(User.username)
        )
    )


def roster(session: Session, hall: Hall, first: dt.date, days: int) -> list[RosterDay]:
    """``days`` consecutive days from ``first`` with their officer."""
    last = first + dt.timedelta(days=days - 1)
    assigned = {
        a.day: a
        for a in session.scalars(
            select(DutyAssignment).where(
                DutyAssignment.hall_id == hall.id,
                DutyAssignment.day >= first,
                DutyAssignment.day <= last,
            )
        )
    }
    calendar = hall_settings(hall).calendar
    result = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        entry = assigned.get(day)
        result.append(
            RosterDay(
                day,
                is_workday(day, calendar),
                entry.user_id if entry else None,
                (entry.user.display_name or entry.user.username) if entry else None,
            )
        )
    return result


def set_duty(
    session: Session,
    hall: Hall,
    *,
    day: dt.date | None,
    user_id: int | None,
    actor_id: int,
    note: str | None = None,
) -> None:
    """Put ``user_id`` on duty on ``day`` (None clears the day); audited with before/after."""
    if day is None:
        raise RosterError(_("请选择日期。"))
    officer: User | None = None
    if user_id is not None:
        officer = session.get(User, user_id)
        if officer is None or officer not in eligible_officers(session, hall):
            raise RosterError(_("所选人员不能担任本中心的带班人员。"))
    entry = session.scalar(
        select(DutyAssignment).where(DutyAssignment.hall_id == hall.id, DutyAssignment.day == day)
    )
    before = {"day": day, "user": entry.user.username} if entry else None
    if officer is None:
        if entry is None:
            return
        session.delete(entry)
        after = None
    else:
        if entry is not None and entry.user_id == officer.id:
            return
        if entry is None:
            entry = DutyAssignment(hall_id=hall.id, day=day, user_id=officer.id)
            session.add(entry)
        else:
            entry.user_id = officer.id
        after = {"day": day, "user": officer.username}
    session.flush()
    audit.record(
        session,
        action="duty.set" if officer else "duty.clear",
        object_type="duty_roster",
        object_id=day.isoformat(),
        user_id=actor_id,
        hall_id=hall.id,
        before=before,
        after=after,
        reason=(note or "").strip() or None,
    )


HANDOVER_CHOICES = ("keep", "clear", "hand")
"""What happens to a deactivated officer's future roster days: kept, cleared, handed on."""


def future_days(session: Session, hall: Hall, user_id: int, today: dt.date) -> list[dt.date]:
    """The days from ``today`` on that ``user_id`` is on the hall's duty roster."""
    return list(
        session.scalars(
            select(DutyAssignment.day)
            .where(
                DutyAssignment.hall_id == hall.id,
                DutyAssignment.user_id == user_id,
                DutyAssignment.day >= today,
            )
            .order_by(DutyAssignment.day)
        )
    )


def hand_over(
    session: Session,
    hall: Hall,
    *,
    officer: User,
    choice: str,
    to_user_id: int | None,
    today: dt.date,
    actor_id: int,
    reason: str | None,
) -> list[dt.date]:
    """Deal with ``officer``'s future roster days when the account is deactivated.

    ``keep`` leaves them (the roster then shows a deactivated officer, to be changed
    later), ``clear`` empties them, ``hand`` gives them to another active officer. Each
    day changed is audited by :func:`set_duty`; the choice itself is audited once.
    Returns the days concerned; refuses (nothing changed) an unknown choice or a
    hand-over to nobody, to the same officer or to someone who cannot be on duty.
    """
    if choice not in HANDOVER_CHOICES:
        raise RosterError(_("请选择如何处理其今后的带班日（保留、清空或移交）。"))
    days = future_days(session, hall, officer.id, today)
    target: User | None = None
    if choice == "hand":
        target = session.get(User, to_user_id) if to_user_id is not None else None
        if (
            target is None
            or target.id == officer.id
            or target not in eligible_officers(session, hall)
        ):
            raise RosterError(_("请选择接手带班的其他在岗人员。"))
    for day in days if choice != "keep" else []:
        set_duty(
            session,
            hall,
            day=day,
            user_id=target.id if target else None,
            actor_id=actor_id,
            note=reason,
        )
    audit.record(
        session,
        action="duty.handover",
        object_type="user",
        object_id=officer.id,
        user_id=actor_id,
        hall_id=hall.id,
        before={"days": [d.isoformat() for d in days]},
        after={"choice": choice, "handed_to": target.username if target else None},
        reason=(reason or "").strip() or None,
    )
    return days
