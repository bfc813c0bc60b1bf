"""Back-office accounts: creation, sign-in with lockout, and unlocking.

Lockout: after ``LOGIN_MAX_FAILURES`` wrong passwords in a row an account is locked for
``LOGIN_LOCKOUT_SECONDS``; while locked, even the right password is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import USER_ROLES, Hall, Unit, User, utcnow
from kiosk.passwords import hash_password, needs_rehash, verify_password
from kiosk.services import audit
from kiosk.services.texts import _

# Verified against when the username is unknown, so that a wrong name takes as long as a
# wrong password and the response time does not tell which usernames exist.
_DUMMY_HASH = hash_password("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A refused account change; the message says why."""


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a sign-in attempt: the user on success, else a reason code."""

    user: User | None
    reason: str | None = None  # "invalid" | "locked" | "inactive"
    locked_until: dt.datetime | None = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout_seconds: int,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Check a username and password, counting failures and locking the account when due.

    The caller commits the session: the failure counter and lock must persist.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return LoginOutcome(None, "invalid")
    if user.locked_until is not None and user.locked_until > now:
        return LoginOutcome(None, "locked", user.locked_until)
    if not verify_password(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(seconds=lockout_seconds)
            user.failed_logins = 0
            audit.record(
                session,
                action="user.locked",
                object_type="user",
                object_id=user.id,
                user_id=None,
                hall_id=user.hall_id,
                after={"locked_until": user.locked_until},
                reason=f"{max_failures} failed sign-ins in a row",
            )
            return LoginOutcome(None, "locked", user.locked_until)
        return LoginOutcome(None, "invalid")
    if not user.active:
        return LoginOutcome(None, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginOutcome(user)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("密码至少需要 %(n)d 个字符。", n=MIN_PASSWORD_LENGTH))


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    hall: Hall | None,
    unit_code: str | None = None,
    display_name: str = "",
    actor_id: int | None = None,
) -> User:
    """Create a back-office user after checking every field; nothing is added on an error."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise AccountError(_("用户名须为 1 至 64 个字符，不能含空格。"))
    if role not in USER_ROLES:
        raise AccountError(
            _("没有角色“%(role)s”（可选：%(roles)s）。", role=role, roles="、".join(USER_ROLES))
        )
    check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_("用户名“%(name)s”已被使用。", name=username))
    unit: Unit | None = None
    if role == "unit":
        if not unit_code:
            raise AccountError(_("单位查看人员须指定所属单位。"))
        if hall is None:
            raise AccountError(_("单位查看人员须属于一个服务中心。"))
    if unit_code:
        if hall is None:
            raise AccountError(_("指定单位时须同时指定服务中心（--hall）。"))
        unit = session.scalar(select(Unit).where(Unit.hall_id == hall.id, Unit.code == unit_code))
        if unit is None:
            known = ", ".join(
                session.scalars(
                    select(Unit.code).where(Unit.hall_id == hall.id).order_by(Unit.code)
                )
            )
            raise AccountError(
                _(
                    "服务中心 %(hall)s 没有单位“%(unit)s”（现有：%(known)s）。",
                    hall=hall.name,
                    unit=unit_code,
                    known=known,
                )
            )
        if role != "unit":
            raise AccountError(_("只有单位查看人员才属于某个单位。"))
    if role != "admin" and hall is None:
        raise AccountError(_("该角色的用户须属于一个服务中心。"))
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        hall_id=hall.id if hall else None,
        unit_id=unit.id if unit else None,
        active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        action="user.create",
        object_type="user",
        object_id=user.id,
        user_id=actor_id,
        hall_id=user.hall_id,
        after={"username": username, "role": role, "unit": unit_code},
    )
    return user


def unlock_user(session: Session, user: User, *, actor_id: int | None, reason: str) -> None:
    """Lift a lockout before it expires (audited)."""
    before = {"locked_until": user.locked_until, "failed_logins": user.failed_logins}
    user.locked_until = None
    user.failed_logins = 0
    audit.record(
        session,
        action="user.unlock",
        object_type="user",
        object_id=user.id,
        user_id=actor_id,
        hall_id=user.hall_id,
        before=before,
        after={"locked_until": None, "failed_logins": 0},
        reason=reason,
    )


def set_password(
    session: Session, user: User, password: str, *, actor_id: int | None, reason: str
) -> None:
    """Replace a user's password (audited; the hash itself is never logged)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    audit.record(
        session,
        action="user.password",
        object_type="user",
        object_id=user.id,
        user_id=actor_id,
        hall_id=user.hall_id,
        reason=reason,
    )


def set_active(
    session: Session, user: User, active: bool, *, actor_id: int, reason: str | None
) -> None:
    """Deactivate or reactivate an account (audited); nobody can deactivate themselves."""
    why = (reason or "").strip()
    if not why:
        raise AccountError(_("请填写原因。"))
    if user.id == actor_id and not active:
        raise AccountError(_("不能停用自己的账号。"))
    if user.active == active:
        return
    user.active = active
    audit.record(
        session,
        action="user.activate" if active else "user.deactivate",
        object_type="user",
        object_id=user.id,
        user_id=actor_id,
        hall_id=user.hall_id,
        before={"active": not active},
        after={"active": active},
        reason=why,
    )


@dataclass(frozen=True, slots=True)
class UserLine:
    """A back-office account as the users page lists it."""

    id: int
    username: str
    display_name: str
    role: str
    unit: str | None
    active: bool
    locked_until: dt.datetime | None


def users_of(session: Session, hall: Hall, now: dt.datetime | None = None) -> list[UserLine]:
    """The hall's accounts and the hall-less admins, by username."""
    now = now or utcnow()
    rows = session.execute(
        select(User, Unit.code)
        .outerjoin(Unit, Unit.id == User.unit_id)
        .where((User.hall_id == hall.id) | (User.hall_id.is_(None)))
        .order_by(User.username)
    ).all()
    return [
        UserLine(
            user.id,
            user.username,
            user.display_name,
            user.role,
            unit,
            user.active,
            user.locked_until if user.locked_until and user.locked_until > now else None,
        )
        for user, unit in rows
    ]
