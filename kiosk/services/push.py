"""The provincial push (SPEC 11): what is pending, the records sent, the platform's answer.

The outbox is :class:`kiosk.models.PushDelivery`, one row per rating once the platform
has answered for it. A rating is **pending** when it has no row, or its row's
``version`` is below the rating's ``push_version`` (the rating changed since: a verdict,
an appeal). Nothing is written when a rating is stored, so the rating POST pays nothing;
a change that must be sent again goes through :func:`mark_changed`, which raises
``push_version`` in one statement.

Every read and write here is a set-based Core statement (one select per batch of at most
100, one upsert per answer). A delivery row is written only from the platform's answer,
so a process killed at any instant leaves each rating either pending (sent again, and
the platform answers it as a duplicate) or delivered because the platform said so.
The caller (``push run``) commits after each answer; services never commit.
"""

from __future__ import annotations

import datetime as dt
import http.client
import importlib
import json
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import gettext as _
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, aliased

from kiosk.localtime import hall_zone, to_aware, to_local
from kiosk.models import (
    Assignment,
    Case,
    Hall,
    PushDelivery,
    PushStatus,
    Rating,
    ServiceSession,
    Staff,
    Unit,
    Window,
)
from kiosk.rules.push_profiles import PROFILES, Profile, RatingFacts
from kiosk.rules.seating import Assignment as Seat
from kiosk.rules.seating import holding_on
from kiosk.services import audit
from kiosk.services.errors import PushError, Refused

BATCH_MAX = 100  # SPEC 11: batches of at most 100 records
REASON_MAX = 1000  # a platform's reason is kept, up to this many characters
ANSWER_MAX_BYTES = 4 * 1024 * 1024  # a larger answer is not one to a batch of 100


class PlatformUnavailable(Refused):
    """The platform gave no usable answer (any status but 200, a body that is not the
    answer, a timeout, a refused or dropped connection): the batch stays pending."""

    def __init__(self, message: str) -> None:
        super().__init__("platform_unavailable", message)


# ------------------------------------------------------------------ profiles


def profile_named(name: str) -> Profile:
    """The record profile ``PUSH_PROFILE`` names: one of :data:`PROFILES` (``national``), or
    ``package.module:function`` for a province's own profile outside this code base."""
    if name in PROFILES:
        return PROFILES[name]
    module_name, _, attribute = name.partition(":")
    if not attribute:
        known = ", ".join(sorted(PROFILES))
        raise PushError(f'unknown push profile "{name}" (known: {known}; or module:function)')
    try:
        profile = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise PushError(f'push profile "{name}" cannot be loaded: {exc}') from exc
    if not callable(profile):
        raise PushError(f'push profile "{name}" is not a function')
    return profile


# ------------------------------------------------------------------ pending


def mark_changed(session: Session, rating_pks: Iterable[int]) -> None:
    """Make these ratings pending again: something the push sends has changed (a review
    verdict, an appeal making it ``unfounded``). Sent again under the same id."""
    pks = sorted(set(rating_pks))
    if pks:
        session.execute(
            update(Rating)
            .where(Rating.id.in_(pks))
            .values(push_version=Rating.push_version + 1)
            .execution_options(synchronize_session=False)
        )


def _pending_condition(delivery: Any) -> Any:
    return or_(delivery.rating_pk.is_(None), delivery.version < Rating.push_version)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record of a batch: the rating's key, the version sent, and the record."""

    rating_pk: int
    rating_id: str
    version: int
    rated_at: dt.datetime  # naive UTC, the batch cursor
    record: dict[str, Any]


Cursor = tuple[dt.datetime, int]


# Core tables: the batch statements are built once (building an ORM select per batch
# cost more than running it).
_R = Rating.__table__
_D = PushDelivery.__table__
_W = Window.__table__
_U = Unit.__table__
_PENDING = or_(_D.c.rating_pk.is_(None), _D.c.version < _R.c.push_version)
# Before any stored instant: the cursor of a pass's first batch.
_START: Cursor = (dt.datetime(1900, 1, 1), 0)


_RATING_COLUMNS = (
    "id",
    "rating_id",
    "push_version",
    "rated_at",
    "level",
    "channel",
    "case_no",
    "reasons",
    "comment",
    "staff_id",
    "session_id",
    "hall_id",
)


def _build_batch_select() -> Select[Any]:
    # The pending ratings first, over ratings and deliveries alone: an index walk of
    # ix_ratings_hall_rated_at from the cursor with a primary-key probe per rating, which
    # no planner estimate turns into a sort of the hall (with the details joined in the
    # same select, PostgreSQL started from staff and sorted the whole hall, 600 ms a
    # batch; joining ratings again by id, it hashed the whole table).
    pending = (
        select(*(_R.c[name] for name in _RATING_COLUMNS))
        .select_from(_R.outerjoin(_D, _D.c.rating_pk == _R.c.id))
        .where(
            _R.c.hall_id == bindparam("hall_id"),
            _PENDING,
            # Row-value comparison: both backends start the index walk at the cursor.
            tuple_(_R.c.rated_at, _R.c.id)
            > tuple_(
                bindparam("after_at", type_=_R.c.rated_at.type),
                bindparam("after_id", type_=_R.c.id.type),
            ),
        )
        .order_by(_R.c.rated_at, _R.c.id)
        .limit(bindparam("limit", type_=Integer))
        .subquery("pending")
    )
    p = pending.c
    staff = Staff.__table__
    sessions = ServiceSession.__table__
    cases = Case.__table__
    joined = (
        pending.join(staff, staff.c.id == p.staff_id)
        .outerjoin(sessions, sessions.c.id == p.session_id)
        .outerjoin(_W, _W.c.id == sessions.c.window_id)
        .outerjoin(_U, _U.c.id == _W.c.unit_id)
        .outerjoin(cases, and_(cases.c.hall_id == p.hall_id, cases.c.case_no == p.case_no))
    )
    return (
        select(
            *(p[name] for name in _RATING_COLUMNS[:10]),
            staff.c.staff_no,
            staff.c.name,
            _W.c.code,
            _U.c.code,
            _U.c.org_code,
            _U.c.name,
            cases.c.matter,
        )
        .select_from(joined)
        .order_by(p.rated_at, p.id)
    )


_BATCH = _build_batch_select()
_SEATS = (
    select(Assignment.staff_id, Assignment.start_date, Assignment.end_date, Window.code)
    .join(Window, Window.id == Assignment.window_id)
    .where(Assignment.staff_id.in_(bindparam("staff_ids", expanding=True)))
)
_UNITS = (
    select(_W.c.code, _U.c.code, _U.c.org_code, _U.c.name)
    .select_from(_W.join(_U, _U.c.id == _W.c.unit_id))
    .where(_W.c.hall_id == bindparam("hall_id"))
)


def _seats(conn: Connection, staff_ids: set[int]) -> dict[int, list[Seat]]:
    """The staff members' assignments, for ratings that came without a counter session."""
    seats: dict[int, list[Seat]] = {}
    if staff_ids:
        for staff_id, start, end, code in conn.execute(_SEATS, {"staff_ids": sorted(staff_ids)}):
            seats.setdefault(staff_id, []).append(Seat(code, start, end))
    return seats


def units_by_window(session: Session, hall_id: int) -> dict[str, tuple[str, str | None, str]]:
    """Window code to (unit code, org code, unit name), for the hall's records."""
    return {
        code: (ucode, org, uname)
        for code, ucode, org, uname in session.connection().execute(_UNITS, {"hall_id": hall_id})
    }


class HallFacts(Protocol):
    """What the push needs of a hall: a :class:`Hall` row or a :class:`PushHall`."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def area_code(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PushHall:
    """A hall as a ``push run`` pass sees it (read once per pass, not once per batch)."""

    id: int
    code: str
    timezone: str
    area_code: str | None


def halls(session: Session) -> list[PushHall]:
    """Every hall, by code (each is pushed in turn)."""
    return [
        PushHall(*row)
        for row in session.execute(
            select(Hall.id, Hall.code, Hall.timezone, Hall.area_code).order_by(Hall.code)
        )
    ]


def next_batch(
    session: Session,
    hall: HallFacts,
    profile: Profile,
    after: Cursor | None = None,
    limit: int = BATCH_MAX,
    units: dict[str, tuple[str, str | None, str]] | None = None,
) -> list[Outgoing]:
    """The hall's oldest pending ratings after ``after`` (rated_at, id), as records.

    ``units`` (window code to unit code, org code, name; read here when not given) lets a
    pass read the hall's units once rather than once per batch.
    """
    conn = session.connection()
    at, pk = after or _START
    params = {"hall_id": hall.id, "after_at": at, "after_id": pk, "limit": min(limit, BATCH_MAX)}
    rows = conn.execute(_BATCH, params).all()
    zone = hall_zone(hall.timezone)
    seats = _seats(conn, {row[9] for row in rows if row[12] is None})
    if seats and units is None:
        units = units_by_window(session, hall.id)
    batch = []
    for (
        pk,
        rating_id,
        version,
        rated_at,
        level,
        channel,
        case_no,
        reasons,
        comment,
        staff_id,
        staff_no,
        staff_name,
        window_code,
        unit_code,
        org_code,
        unit_name,
        matter,
    ) in rows:
        if window_code is None:
            # An imported rating: the window the staff member held on the rating day.
            held = holding_on(seats.get(staff_id, ()), to_local(rated_at, zone).date())
            if held is not None:
                window_code = held.window
                unit_code, org_code, unit_name = (units or {}).get(held.window, (None, None, None))
        facts = RatingFacts(
            rating_id=rating_id,
            area_code=hall.area_code,
            unit_code=unit_code,
            unit_org_code=org_code,
            unit_name=unit_name,
            window_code=window_code,
            staff_no=staff_no,
            staff_name=staff_name,
            matter=matter,
            case_no=case_no,
            channel=channel,
            level=level,
            reasons=tuple(r for r in (reasons or "").split("|") if r),
            comment=comment,
            rated_at=to_aware(rated_at, zone),
        )
        batch.append(Outgoing(pk, rating_id, version, rated_at, profile(facts)))
    return batch


# ------------------------------------------------------------------ the platform


@dataclass(frozen=True)
class Answer:
    """The platform's answer to one batch: ids accepted, already held, and rejected."""

    accepted: frozenset[str]
    duplicates: frozenset[str]
    rejected: dict[str, str] = field(default_factory=dict)


def parse_answer(status: int, body: bytes) -> Answer:
    """The answer of a 200 ``{"accepted", "duplicates", "rejected": [{"id", "reason"}]}``;
    anything else raises :class:`PlatformUnavailable` (the batch is retried)."""
    if status != 200:
        raise PlatformUnavailable(f"the platform answered HTTP {status}")
    try:
        data = json.loads(body)
    except ValueError:
        raise PlatformUnavailable("the platform's answer is not JSON") from None
    if not isinstance(data, dict):
        raise PlatformUnavailable("the platform's answer is not a JSON object")
    lists = [data.get(key, []) for key in ("accepted", "duplicates", "rejected")]
    if not all(isinstance(value, list) for value in lists):
        raise PlatformUnavailable("accepted, duplicates and rejected must be lists")
    accepted, duplicates, rejected_items = lists
    if not all(isinstance(i, str) for i in (*accepted, *duplicates)):
        raise PlatformUnavailable("accepted and duplicates must list record ids")
    rejected: dict[str, str] = {}
    for item in rejected_items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise PlatformUnavailable('each rejected entry must be {"id", "reason"}')
        rejected[item["id"]] = str(item.get("reason") or "")[:REASON_MAX]
    return Answer(frozenset(accepted), frozenset(duplicates), rejected)


class PlatformClient:
    """POSTs batches to ``PUSH_URL`` over one kept-alive connection (stdlib http.client);
    any failure closes it, and the next batch opens a new one."""

    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PushError(f'PUSH_URL "{url}" is not an http(s) address')
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = kind(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """Close the kept-alive connection, if any."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def post(self, records: Sequence[dict[str, Any]]) -> Answer:
        """Send one batch and return the platform's answer (or raise PlatformUnavailable)."""
        body = json.dumps({"records": list(records)}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn = self._connection()
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read(ANSWER_MAX_BYTES + 1)
            if response.will_close:
                self.close()
        except TimeoutError:
            self.close()
            raise PlatformUnavailable(f"no answer within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise PlatformUnavailable(f"connection failed: {exc or type(exc).__name__}") from None
        if len(raw) > ANSWER_MAX_BYTES:
            self.close()
            raise PlatformUnavailable("the platform's answer is too large")
        return parse_answer(response.status, raw)


# ------------------------------------------------------------------ storing the answer


@dataclass(frozen=True)
class Outcome:
    """What one answer did: delivered and rejected counts, and the ids it left unanswered."""

    delivered: int
    rejected: int
    unanswered: tuple[str, ...]


def _build_sqlite_upsert() -> Any:
    stmt = sqlite.insert(_D)
    return stmt.on_conflict_do_update(
        index_elements=[_D.c.rating_pk],
        set_={c: stmt.excluded[c] for c in ("version", "state", "reason", "at")},
        where=_D.c.version <= stmt.excluded.version,
    )


_SQLITE_UPSERT = _build_sqlite_upsert()
# One statement for the whole answer, over arrays: a multi-row VALUES list compiles anew
# for every batch and an executemany costs a round trip per row.
_PG_UPSERT = text(
    "INSERT INTO push_deliveries (rating_pk, hall_id, version, state, reason, at) "
    "SELECT * FROM unnest(CAST(:rating_pk AS integer[]), CAST(:hall_id AS integer[]), "
    "CAST(:version AS integer[]), CAST(:state AS varchar[]), CAST(:reason AS text[]), "
    "CAST(:at AS timestamp[])) "
    "ON CONFLICT (rating_pk) DO UPDATE SET version = excluded.version, "
    "state = excluded.state, reason = excluded.reason, at = excluded.at "
    "WHERE push_deliveries.version <= excluded.version"
)
_COLUMNS = ("rating_pk", "hall_id", "version", "state", "reason", "at")


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write delivery rows in one statement; a row never goes back to an older version."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(_SQLITE_UPSERT, rows)
        return
    conn.execute(_PG_UPSERT, {c: [row[c] for row in rows] for c in _COLUMNS})
    # The commit of a delivery need not wait for the disk: a mark lost in a database
    # crash leaves the rating pending, sent again and answered as a duplicate; it can
    # never make a rating delivered that the platform did not accept.
    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


_S = PushStatus.__table__


def _set_status(session: Session, hall_id: int, **values: Any) -> None:
    """Update the hall's push status row (made on first use); two Core statements at most."""
    conn = session.connection()
    changed = conn.execute(update(_S).where(_S.c.hall_id == hall_id).values(**values))
    if changed.rowcount == 0:
        conn.execute(insert(_S).values(hall_id=hall_id, **values))


def apply_answer(
    session: Session,
    hall: HallFacts,
    batch: Sequence[Outgoing],
    answer: Answer,
    now: dt.datetime,
) -> Outcome:
    """Store what the platform said of ``batch``: accepted and duplicate records delivered,
    rejected ones kept with the reason. Ids the answer does not name stay pending; ids it
    names that were not sent are ignored (nothing is delivered that was not sent)."""
    rows = []
    unanswered = []
    rejected = 0
    for item in batch:
        base = {"rating_pk": item.rating_pk, "hall_id": hall.id, "version": item.version, "at": now}
        if item.rating_id in answer.accepted or item.rating_id in answer.duplicates:
            rows.append({**base, "state": "delivered", "reason": None})
        elif item.rating_id in answer.rejected:
            reason = answer.rejected[item.rating_id] or "rejected without a reason"
            rows.append({**base, "state": "rejected", "reason": reason})
            rejected += 1
        else:
            unanswered.append(item.rating_id)
    _upsert(session, rows)
    _set_status(session, hall.id, last_success_at=now, last_success_count=len(rows) - rejected)
    return Outcome(len(rows) - rejected, rejected, tuple(unanswered))


def record_error(session: Session, hall_id: int, message: str, now: dt.datetime) -> None:
    """Remember the push's last error for the hall (``push status``, the back office)."""
    _set_status(session, hall_id, last_error_at=now, last_error=message[:REASON_MAX])


def last_error(session: Session, hall_id: int) -> str | None:
    """The hall's last push error, as recorded."""
    return session.scalar(select(_S.c.last_error).where(_S.c.hall_id == hall_id))


# ------------------------------------------------------------------ what an officer sees


@dataclass(frozen=True)
class Rejected:
    """A record the platform rejected, with its reason; times naive hall-local."""

    rating_id: str
    reason: str
    at: dt.datetime
    rated_at: dt.datetime


@dataclass(frozen=True)
class PushState:
    """The push state of one hall (SPEC 11's ``push status``); times naive UTC."""

    hall_code: str
    area_code: str | None
    pending: int
    delivered: int
    rejected: list[Rejected]
    last_success_at: dt.datetime | None
    last_success_count: int | None
    last_error_at: dt.datetime | None
    last_error: str | None

    def as_json(self, zone_name: str) -> dict[str, Any]:
        """The SPEC 11 object: pending, delivered, rejected, last_success, last_error."""
        zone = hall_zone(zone_name)

        def when(value: dt.datetime | None) -> str | None:
            return to_aware(value, zone).isoformat(timespec="seconds") if value else None

        return {
            "pending": self.pending,
            "delivered": self.delivered,
            "rejected": [{"rating_id": r.rating_id, "reason": r.reason} for r in self.rejected],
            "last_success": when(self.last_success_at),
            "last_error": (
                {"at": when(self.last_error_at), "message": self.last_error}
                if self.last_error
                else None
            ),
        }


def push_state(session: Session, hall: HallFacts) -> PushState:
    """Counts of pending and delivered ratings, the rejected ones, last success and error."""
    delivery = aliased(PushDelivery)
    current = and_(delivery.rating_pk.is_not(None), delivery.version >= Rating.push_version)
    pending, delivered = session.execute(
        select(
            func.count().filter(_pending_condition(delivery)),
            func.count().filter(and_(current, delivery.state == "delivered")),
        )
        .select_from(Rating)
        .outerjoin(delivery, delivery.rating_pk == Rating.id)
        .where(Rating.hall_id == hall.id)
    ).one()
    zone = hall_zone(hall.timezone)
    rejected = [
        Rejected(rating_id, reason or "", to_local(at, zone), to_local(rated_at, zone))
        for rating_id, reason, at, rated_at in session.execute(
            select(Rating.rating_id, PushDelivery.reason, PushDelivery.at, Rating.rated_at)
            .join(PushDelivery, PushDelivery.rating_pk == Rating.id)
            .where(
                Rating.hall_id == hall.id,
                PushDelivery.state == "rejected",
                PushDelivery.version >= Rating.push_version,
            )
            .order_by(Rating.rated_at, Rating.id)
        )
    ]
    status = session.execute(select(_S).where(_S.c.hall_id == hall.id)).first()
    return PushState(
        hall_code=hall.code,
        area_code=hall.area_code,
        pending=int(pending or 0),
        delivered=int(delivered or 0),
        rejected=rejected,
        last_success_at=status.last_success_at if status else None,
        last_success_count=status.last_success_count if status else None,
        last_error_at=status.last_error_at if status else None,
        last_error=status.last_error if status else None,
    )


def units_without_org_code(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(code, name) of units whose records carry their unit code as ``deptCode``."""
    return [
        (code, name)
        for code, name in session.execute(
            select(Unit.code, Unit.name)
            .where(Unit.hall_id == hall.id, Unit.org_code.is_(None))
            .order_by(Unit.code)
        )
    ]


def resend(
    session: Session,
    hall: Hall,
    rating_ids: Sequence[str],
    user_id: int | None,
    now: dt.datetime,
) -> int:
    """Make rejected records pending again (after an officer fixed what the platform
    objected to); each is audited with the rejection it clears. Returns how many.

    Refuses (and changes nothing) when an id is unknown or its record is not rejected.
    """
    wanted = sorted({r for r in rating_ids if r})
    if not wanted:
        raise PushError(_("请选择要重新上报的评价。"))
    found = {
        rating_id: (pk, reason, at)
        for rating_id, pk, reason, at in session.execute(
            select(Rating.rating_id, Rating.id, PushDelivery.reason, PushDelivery.at)
            .join(PushDelivery, PushDelivery.rating_pk == Rating.id)
            .where(
                Rating.hall_id == hall.id,
                Rating.rating_id.in_(wanted),
                PushDelivery.state == "rejected",
                PushDelivery.version >= Rating.push_version,
            )
        )
    }
    missing = [r for r in wanted if r not in found]
    if missing:
        raise PushError(
            _("以下评价不是被退回的记录：%(ids)s", ids="、".join(missing[:10])), "not_found"
        )
    session.execute(
        delete(PushDelivery)
        .where(PushDelivery.rating_pk.in_([pk for pk, _, _ in found.values()]))
        .execution_options(synchronize_session=False)
    )
    for rating_id, (_pk, reason, at) in sorted(found.items()):
        audit.record(
            session,
            action="push.resend",
            object_type="rating",
            object_id=rating_id,
            user_id=user_id,
            hall_id=hall.id,
            before={"push_state": "rejected", "push_reason": reason, "push_answered_at": at},
            after={"push_state": "pending"},
            reason=reason,
        )
    return len(found)


__all__ = [
    "BATCH_MAX",
    "Answer",
    "Outcome",
    "Outgoing",
    "PlatformClient",
    "PlatformUnavailable",
    "PushError",
    "PushState",
    "apply_answer",
    "halls",
    "last_error",
    "mark_changed",
    "next_batch",
    "parse_answer",
    "profile_named",
    "push_state",
    "record_error",
    "resend",
]
