"""Back-office accounts: creation, sign-in with lockout, and unlocking.

Lockout: after ``LOGIN_MAX_FAILURES`` wrong passwords in a row an account is locked for
``LOGIN_LOCKOUT_SECONDS``; while locked, even the right password is refused. The count is
kept by the database (one atomic update per attempt), so parallel attempts cannot outrun
it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from kiosk.models import USER_ROLES, Hall, Unit, User, utcnow
from kiosk.passwords import hash_password, needs_rehash, verify_password
from kiosk.services import audit
from kiosk.services.errors import AccountError
from kiosk.services.texts import _

# Verified against when the username is unknown, so that a wrong name takes as long as a
# wrong password and the response time does not tell which usernames exist.
_DUMMY_HASH = hash_password("not-a-real-password")

MIN_PASSWORD_LENGTH = 8


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

    Each attempt on a known account is counted *before* its password is checked, in one
    ``UPDATE ... SET failed_logins = failed_logins + 1 ... RETURNING`` whose result
    decides (committed at once): of any number of parallel attempts at most
    ``max_failures`` reach the password check, and the one that fails as the last allowed
    locks the account. Unknown and locked accounts are verified against a dummy hash so
    that all three answers take as long. The caller commits the outcome.
    """
    now = now or utcnow()
    user_id = session.scalar(select(User.id).where(User.username == username.strip()))
    if user_id is None:
        verify_password(_DUMMY_HASH, password)
        return LoginOutcome(None, "invalid")
    attempt = count_attempt(session, user_id, now)
    if attempt is None or attempt > max_failures:
        # Locked, or the allowance is used up by attempts still being checked.
        verify_password(_DUMMY_HASH, password)
        return LoginOutcome(None, "locked")
    user = session.get(User, user_id)
    if user is None:  # deleted between the two statements
        verify_password(_DUMMY_HASH, password)
        return LoginOutcome(None, "invalid")
    if not verify_password(user.password_hash, password):
        if attempt < max_failures:
            return LoginOutcome(None, "invalid")
        user.locked_until = now + dt.timedelta(seconds=lockout_seconds)
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
    user.failed_logins = 0
    user.locked_until = None
    if not user.active:
        return LoginOutcome(None, "inactive")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return LoginOutcome(user)


def count_attempt(session: Session, user_id: int, now: dt.datetime) -> int | None:
    """Count one sign-in attempt atomically and commit; the attempt's number, or None
    when the account is locked.

    A lock that has run out is lifted by the same statement and the count starts again
    at 1. Every right-hand side reads the row as it was, on SQLite and PostgreSQL alike.

    The one commit of the services (they leave transactions to the request or command
    otherwise): the count must hold even when the password check that follows is slow or
    the request dies, and a parallel attempt must see it at once. Left uncommitted, the
    row stays locked by this transaction (PostgreSQL) or the file's write lock is held
    (SQLite) through the password hash, serialising every sign-in behind it, and an
    attempt whose request fails would not be counted at all.
    """
    unlocked = or_(User.locked_until.is_(None), User.locked_until <= now)
    number = session.execute(
        update(User)
        .where(User.id == user_id, unlocked)
        .values(
            failed_logins=case(
                (User.locked_until.is_(None), func.coalesce(User.failed_logins, 0) + 1),
                else_=1,
            ),
            locked_until=None,
        )
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)
    ).scalar()
    session.commit()  # at once, on purpose: see the docstring
    return number


def end_sessions(session: Session, user_id: int) -> None:
    """End every session of the user, on every device (sign-out, password change).

    The session version is part of the id in each cookie (``User.get_id``); raising it
    in the database makes every cookie issued before refuse to load the user.
    """
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=func.coalesce(User.session_version, 0) + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


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


def check_may_manage(actor: User, target: User) -> None:
    """Refuse a change of ``target`` by ``actor`` that goes above the actor's reach.

    An admin of one hall may not unlock, deactivate, reactivate, reset or edit an admin of
    all halls (one with no hall): that account is above the hall's.
    """
    if target.role == "admin" and target.hall_id is None and actor.hall_id is not None:
        raise AccountError("an admin of one hall cannot change an admin of all halls")


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
    """Replace a user's password (audited; the hash itself is never logged).

    Every open session of the user ends, on every device; a forced change is done.
    """
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.must_change_password = False
    session.flush()
    end_sessions(session, user.id)
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


MAX_PASSWORD_LENGTH = 200
# Letters and digits that cannot be mistaken for one another when read off a screen.
_TEMP_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
TEMP_PASSWORD_LENGTH = 12


def change_own_password(
    session: Session, user: User, *, current: str, new: str, repeat: str
) -> None:
    """The signed-in user replaces their own password (audited).

    Refused, nothing changed, when the current password is wrong, the two new ones
    differ, the new one is too short or too long, or it equals the current one. Every
    other session of the user ends (the caller signs this one in again).
    """
    if not verify_password(user.password_hash, current):
        raise AccountError(_("当前密码不正确。"), "current")
    if new != repeat:
        raise AccountError(_("两次输入的新密码不一致。"), "repeat")
    if len(new) > MAX_PASSWORD_LENGTH:
        raise AccountError(_("密码不能超过 %(n)d 个字符。", n=MAX_PASSWORD_LENGTH), "new")
    try:
        check_password_strength(new)
    except AccountError as exc:
        raise AccountError(exc.message, "new") from None
    if new == current:
        raise AccountError(_("新密码不能与当前密码相同。"), "new")
    forced = bool(user.must_change_password)
    set_password(
        session,
        user,
        new,
        actor_id=user.id,
        reason="forced change after reset" if forced else "changed by the user",
    )


def reset_password(session: Session, user: User, *, actor_id: int, reason: str | None) -> str:
    """Give ``user`` a temporary password that must be changed at the next sign-in.

    Returns the temporary password (shown once to the admin, never stored in clear);
    every session of the user ends; audited without the password. Nobody resets their
    own password this way (they change it on the password page).
    """
    why = (reason or "").strip()
    if not why:
        raise AccountError(_("请填写原因。"))
    if user.id == actor_id:
        raise AccountError(_("不能重置自己的密码，请在“修改密码”页面修改。"))
    temporary = "".join(secrets.choice(_TEMP_ALPHABET) for _ in range(TEMP_PASSWORD_LENGTH))
    user.password_hash = hash_password(temporary)
    user.failed_logins = 0
    user.locked_until = None
    user.must_change_password = True
    session.flush()
    end_sessions(session, user.id)
    audit.record(
        session,
        action="user.password.reset",
        object_type="user",
        object_id=user.id,
        user_id=actor_id,
        hall_id=user.hall_id,
        before={"must_change_password": False},
        after={"must_change_password": True},
        reason=why,
    )
    return temporary
