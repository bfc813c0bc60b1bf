"""Service sessions, terminal keys and citizen ratings (SPEC 4.1, 4.2 and 9).

The rating POST is the hot path of the service: it runs on SQLAlchemy Core
statements over one connection (a few indexed selects and one insert) and never
loads ORM objects. The same functions serve the terminal API, the counter page
and the phone page, so every path refuses the same inputs in the same order: this
module decides that order and raises the first :class:`RatingRefused` that applies
(SPEC 9's codes); the callers only read their transport and translate a refusal.
Nothing here reads the request or commits: the caller passes the client's address,
the rate limit and readers of the post's parts, and commits what was written.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from limits import RateLimitItem, parse_many
from limits.strategies import RateLimiter
from sqlalchemy import BindParameter, Connection, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from kiosk.localtime import hall_zone, to_aware, to_local
from kiosk.models import Hall, Rating, ServiceSession, Staff, Terminal, Window, utcnow
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.settings import rating_reasons
from kiosk.services.driversql import Prepared, insert_all_columns, insert_all_columns_from
from kiosk.services.errors import RatingRefused
from kiosk.services.rulefile import rules_in_force

# The national 好差评 levels, best first (SPEC 4.1); labels are translated at render time.
LEVEL_LABELS: dict[int, Any] = {
    5: lazy_gettext("非常满意"),
    4: lazy_gettext("满意"),
    3: lazy_gettext("基本满意"),
    2: lazy_gettext("不满意"),
    1: lazy_gettext("非常不满意"),
}
LEVELS: tuple[int, ...] = (5, 4, 3, 2, 1)
COMMENT_MAX = 500
CASE_NO_MAX = 64
STAFF_NO_MAX = 32
KEY_PREFIX = "kt_"

# Readable rating ids: no 0/O, 1/I/L, so an officer can read one out over the phone.
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_ID_RANDOM_CHARS = 6
_INSERT_ATTEMPTS = 5


def bad_levels(rules: RuleSet | None = None) -> frozenset[int]:
    """Levels that are bad reviews (差评), from ``rules`` or the rule file in force."""
    return (rules or rules_in_force()).bad_levels


def misuse_window(rules: RuleSet | None = None) -> dt.timedelta:
    """How soon after the previous rating of the same terminal's sessions a new one is misuse."""
    return _seconds((rules or rules_in_force()).misuse_seconds)


@functools.lru_cache(maxsize=8)
def _seconds(seconds: Fraction) -> dt.timedelta:
    # Once per rule value, not per rating post (a Fraction to float is not free).
    return dt.timedelta(seconds=float(seconds))


@functools.lru_cache(maxsize=8)
def _parsed_limits(value: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(value))


@dataclass(frozen=True, slots=True)
class RatingLimit:
    """``RATING_RATE_LIMIT`` (e.g. ``120 per minute``) counted on the app's `limits` strategy.

    The counts live in ``RATELIMIT_STORAGE_URI``'s storage (a Redis URI is shared by every
    process of the hall), with no per-request hooks. Counter calls are counted per
    terminal key (:func:`terminal_bucket`), phone calls per client address
    (:func:`address_bucket`), the API and the phone page alike.
    """

    items: tuple[RateLimitItem, ...]
    strategy: RateLimiter

    def over(self, bucket: str) -> bool:
        """Count one rating post in ``bucket``; True when the bucket is over the limit."""
        return not all(self.strategy.hit(item, "rating", bucket) for item in self.items)

    def room(self, bucket: str) -> bool:
        """Whether one more post in ``bucket`` is within the limit, counting nothing."""
        return all(self.strategy.test(item, "rating", bucket) for item in self.items)


def rating_limit(value: object, strategy: RateLimiter) -> RatingLimit | None:
    """The limit of a ``RATING_RATE_LIMIT`` value; None when it is ``0`` or empty (off),
    so that with the limit off the hot path costs nothing."""
    text = str(value or "0").strip()
    if text == "0":
        return None
    return RatingLimit(_parsed_limits(text), strategy)


def address_bucket(address: str | None) -> str:
    """The rate-limit bucket of a client address (phone calls, failed keys)."""
    return "address:" + (address or "unknown")


def terminal_bucket(terminal: TerminalIdentity) -> str:
    """The rate-limit bucket of an authenticated terminal (its counter calls)."""
    return terminal_bucket_of(terminal.key_id)


def terminal_bucket_of(key_id: str) -> str:
    """The rate-limit bucket of the terminal with ``key_id``."""
    return "terminal:" + key_id


def too_many_requests() -> RatingRefused:
    """A ``too_many_requests`` refusal."""
    return RatingRefused("too_many_requests", _("请求过于频繁，请稍后再试。"))


def admit(limit: RatingLimit | None, bucket: str) -> None:
    """Count one rating post in ``bucket``; a ``too_many_requests`` refusal when over."""
    if limit is not None and limit.over(bucket):
        raise too_many_requests()


def admit_stored(limit: RatingLimit | None, bucket: str) -> None:
    """Count a rating post already stored in ``bucket`` (it is past refusing)."""
    if limit is not None:
        limit.over(bucket)


def hall_reasons(settings: dict[str, Any] | None) -> list[str]:
    """The hall's list of bad-review reasons, or the default list of SPEC 2."""
    return list(rating_reasons(settings))


def invalid(message: str) -> RatingRefused:
    """An ``invalid`` refusal."""
    return RatingRefused("invalid", message)


# --- terminal keys ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TerminalIdentity:
    """The terminal a request was authenticated as."""

    id: int
    hall_id: int
    window_id: int
    name: str
    key_id: str


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly issued terminal key: ``key`` is shown once, only ``key_hash`` is stored."""

    key_id: str
    key: str
    key_hash: str


def hash_secret(secret: str) -> str:
    """SHA-256 of a key's secret part.

    A fast hash is right here: the secret is 256 random bits, so there is nothing to
    brute-force, and every counter rating verifies it.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_key() -> IssuedKey:
    """A new terminal key ``kt_<key_id>.<secret>``; the key id is the public lookup part."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(key_id, f"{KEY_PREFIX}{key_id}.{secret}", hash_secret(secret))


def split_key(key: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else ``None``."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition(".")
    if not sep or len(key_id) != 16 or not secret or len(secret) > 100:
        return None
    return key_id, secret


# Statements of the hot path are built once, with bind parameters: building a statement
# and computing its cache key costs more than running it on SQLite.
_TERMINALS = Terminal.__table__
_SESSIONS = ServiceSession.__table__
_RATINGS = Rating.__table__
_HALLS = Hall.__table__
_STAFF = Staff.__table__
_WINDOWS = Window.__table__

_TERMINAL_BY_KEY_ID = select(
    _TERMINALS.c.id,
    _TERMINALS.c.hall_id,
    _TERMINALS.c.window_id,
    _TERMINALS.c.name,
    _TERMINALS.c.key_id,
    _TERMINALS.c.key_hash,
).where(_TERMINALS.c.key_id == bindparam("key_id"), _TERMINALS.c.active.is_(True))


@dataclass(frozen=True, slots=True)
class Credentials:
    """A terminal's claim: its key id, and the secret for a bearer key.

    ``secret`` is None for the counter page's signed-in session, whose key was verified
    when the page signed in.
    """

    key_id: str
    secret: str | None


def unauthorized(message: str | None = None) -> RatingRefused:
    """An ``unauthorized`` refusal."""
    return RatingRefused("unauthorized", message or _("缺少或无效的终端密钥。"))


def credentials_from_key(key: str) -> Credentials | None:
    """The credentials of a bearer key, or None when it is not a well-formed key."""
    parts = split_key(key.strip())
    return None if parts is None else Credentials(*parts)


def _key_matches(credentials: Credentials, key_hash: str | None) -> bool:
    if key_hash is None:
        return False
    if credentials.secret is None:
        return True
    return hmac.compare_digest(key_hash, hash_secret(credentials.secret))


def authenticate(conn: Connection, credentials: Credentials) -> TerminalIdentity | None:
    """The active terminal the credentials belong to, or None (one indexed select)."""
    row = conn.execute(_TERMINAL_BY_KEY_ID, {"key_id": credentials.key_id}).first()
    if row is None or not _key_matches(credentials, row.key_hash):
        return None
    return TerminalIdentity(row.id, row.hall_id, row.window_id, row.name, row.key_id)


# --- service sessions --------------------------------------------------------------------


def token_for(secret_key: str | bytes, public_id: str) -> str:
    """The rating token of a session: an HMAC of its random public id under the app secret.

    Why derived rather than stored: the database keeps only the token's SHA-256, yet the
    terminal may fetch the session's QR code again (SPEC 9), which needs the token. The
    public id is 128 random bits and the HMAC output 256 bits, so the token is as
    unguessable as a random one to anyone without the app's secret key.
    """
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    digest = hmac.new(key, b"rating-token:" + public_id.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """SHA-256 of a rating token, the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A service session just opened at a counter."""

    public_id: str
    token: str
    expires_at: dt.datetime  # aware, hall local time
    staff_no: str
    staff_name: str


def client_tag(secret_key: str | bytes, address: str | None) -> str | None:
    """A keyed hash (16 hex digits) of a client address, or None without one.

    The fraud signals (SPEC 12) compare the address a QR rating came from with other
    ratings' and with the terminal's that opened the session; a keyed hash compares as
    well as the address, and the address itself is never stored.
    """
    if not address:
        return None
    return _client_tag(secret_key, address)


@functools.lru_cache(maxsize=4096)
def _client_tag(secret_key: str | bytes, address: str) -> str:
    # Once per address and key, not per rating post: a hall's clients are a few hundred.
    key = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(key, b"client-address:" + address.encode(), hashlib.sha256).hexdigest()[:16]


def open_session(
    conn: Connection,
    terminal: TerminalIdentity,
    staff_no: str,
    case_no: str | None,
    *,
    ttl_seconds: int,
    secret_key: str | bytes,
    now: dt.datetime,
    opened_from: str | None = None,
) -> OpenedSession:
    """Open a session at the terminal's window for a staff member of its hall; the caller
    commits.

    Raises :class:`RatingRefused` (``invalid``) for an unknown staff number or a bad case
    number.
    """
    staff_no = staff_no.strip()
    if not staff_no or len(staff_no) > STAFF_NO_MAX:
        raise invalid(_("请填写工号。"))
    if case_no is not None:
        case_no = case_no.strip() or None
        if case_no is not None and len(case_no) > CASE_NO_MAX:
            raise invalid(_("办件编号不能超过 %(n)d 个字符。", n=CASE_NO_MAX))
    row = conn.execute(
        select(Staff.id, Staff.name, Hall.timezone)
        .join(Hall, Hall.id == Staff.hall_id)
        .where(Staff.hall_id == terminal.hall_id, Staff.staff_no == staff_no)
    ).first()
    if row is None:
        raise invalid(_("工号 %(no)s 不是本大厅的工作人员。", no=staff_no))
    public_id = secrets.token_urlsafe(16)
    token = token_for(secret_key, public_id)
    expires_at = now + dt.timedelta(seconds=int(ttl_seconds))
    conn.execute(
        insert(ServiceSession).values(
            public_id=public_id,
            hall_id=terminal.hall_id,
            window_id=terminal.window_id,
            staff_id=row.id,
            terminal_id=terminal.id,
            case_no=case_no,
            token_hash=token_hash(token),
            opened_at=now,
            expires_at=expires_at,
            opened_from=opened_from,
        )
    )
    conn.execute(update(Terminal).where(Terminal.id == terminal.id).values(last_seen=now))
    return OpenedSession(
        public_id, token, to_aware(expires_at, hall_zone(row.timezone)), staff_no, row.name
    )


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the pages need to know about a session."""

    id: int
    public_id: str
    hall_id: int
    hall_code: str
    hall_name: str
    timezone: str
    staff_id: int
    staff_no: str
    staff_name: str
    window_id: int
    window_name: str
    terminal_id: int | None
    case_no: str | None
    expires_at: dt.datetime
    token_hash: str
    rated: bool
    # Not read on the rating hot path (a JSON column to decode); see hall_settings().
    settings: dict[str, Any] | None = None
    last_terminal_rating: dt.datetime | None = None

    def state(self, now: dt.datetime) -> str:
        """``rated``, ``expired`` or ``open`` (the order of SPEC 9's precedence)."""
        if self.rated:
            return "rated"
        if now >= self.expires_at:
            return "expired"
        return "open"

    def reasons(self) -> list[str]:
        """The hall's bad-review reasons."""
        return hall_reasons(self.settings)


_SESSION_COLUMNS = (
    _SESSIONS.c.id,
    _SESSIONS.c.public_id,
    _SESSIONS.c.hall_id,
    _HALLS.c.code.label("hall_code"),
    _HALLS.c.name.label("hall_name"),
    _HALLS.c.timezone,
    _SESSIONS.c.staff_id,
    _STAFF.c.staff_no,
    _STAFF.c.name.label("staff_name"),
    _SESSIONS.c.window_id,
    _WINDOWS.c.name.label("window_name"),
    _SESSIONS.c.terminal_id,
    _SESSIONS.c.case_no,
    _SESSIONS.c.expires_at,
    _SESSIONS.c.token_hash,
)
_SESSION_JOINS = (
    _SESSIONS.join(_HALLS, _HALLS.c.id == _SESSIONS.c.hall_id)
    .join(_STAFF, _STAFF.c.id == _SESSIONS.c.staff_id)
    .join(_WINDOWS, _WINDOWS.c.id == _SESSIONS.c.window_id)
)


# Whether the outer query's session has its rating (on the unique session_id).
_SESSION_RATED = select(_RATINGS.c.id).where(_RATINGS.c.session_id == _SESSIONS.c.id).exists()


def _session_select(where: Any) -> Any:
    """One indexed select: the session, its hall, staff and window, and whether it was rated."""
    return (
        select(*_SESSION_COLUMNS, _SESSION_RATED.label("rated"))
        .select_from(_SESSION_JOINS)
        .where(where)
    )


_SESSION_BY_TOKEN_HASH = _session_select(_SESSIONS.c.token_hash == bindparam("token_hash"))
_SESSION_BY_PUBLIC_ID = _session_select(_SESSIONS.c.public_id == bindparam("public_id"))
_RATING_OF_SESSION = select(_RATINGS.c.id).where(_RATINGS.c.session_id == bindparam("session_id"))
# The hot path's insert, at the driver level (every column bound, scalar defaults filled).
_INSERT_RATING = Prepared(insert_all_columns(_RATINGS.insert()))


def _terminal_ratings(since_included: bool) -> Any:
    """The misuse rule's look-up (SPEC 4.2): the times of the ratings, of either channel
    but not default ones, of sessions opened by the terminal of the outer query's session,
    in its hall, after the ``since`` bind (or at it, when ``since_included``).

    It walks the hall's ratings of the last few seconds on the (hall_id, rated_at) index
    to those of this terminal's sessions: a handful of rows however long the history.
    """
    previous = _RATINGS.alias("previous")
    previous_session = _SESSIONS.alias("previous_session")
    since: BindParameter[Any] = bindparam("since")
    after = previous.c.rated_at >= since if since_included else previous.c.rated_at > since
    return (
        select(previous.c.rated_at)
        .select_from(
            previous.join(previous_session, previous_session.c.id == previous.c.session_id)
        )
        .where(
            previous.c.hall_id == _SESSIONS.c.hall_id,
            after,
            previous_session.c.terminal_id == _SESSIONS.c.terminal_id,
            # A default rating is no citizen's tap: it makes no later one misuse.
            previous.c.channel != "default",
        )
    )


def _rating_context_select() -> Any:
    """The rating hot path's one select: the session as in :func:`_session_select`, plus
    the terminal of the request's key id (outer-joined on the unique key id) and the time
    of the latest rating, of either channel, of a session opened by the same terminal."""
    terminal = _TERMINALS.alias("key_terminal")
    recent = _terminal_ratings(since_included=True)
    last_rating = recent.order_by(recent.selected_columns[0].desc()).limit(1).scalar_subquery()
    return (
        select(
            *(_SESSION_COLUMNS),
            _SESSION_RATED.label("rated"),
            last_rating.label("last_terminal_rating"),
            terminal.c.id.label("t_id"),
            terminal.c.hall_id.label("t_hall_id"),
            terminal.c.window_id.label("t_window_id"),
            terminal.c.name.label("t_name"),
            terminal.c.key_hash.label("t_key_hash"),
        )
        .select_from(
            _SESSION_JOINS.outerjoin(
                terminal,
                and_(terminal.c.key_id == bindparam("key_id"), terminal.c.active.is_(True)),
            )
        )
        .where(_SESSIONS.c.token_hash == bindparam("token_hash"))
    )


_RATING_CONTEXT = Prepared(_rating_context_select())


def _rating_at_once_insert(counter: bool, secret: bool) -> Any:
    """The rating hot path's one statement (:func:`_store_at_once`): insert the rating of
    the session of ``token_hash`` where every check a good rating must pass holds.

    In its WHERE: the session is open (``expires_at`` after ``now``) and not rated, its
    hall has the guessed code and time zone (the rating id and its local date were made
    from them), and for a ``counter`` rating the key id's terminal is active, opened this
    session and, with a ``secret``, has that key's hash. The misuse flag is the
    :func:`_rating_context_select`'s rule as an EXISTS: a rating, not a default one, of a
    session of the same terminal after ``since``. No row is written when any check fails.
    """
    session = _SESSIONS
    misuse = _terminal_ratings(since_included=False).exists()
    joins = session.join(_HALLS, _HALLS.c.id == session.c.hall_id)
    checks = [
        session.c.token_hash == bindparam("token_hash"),
        session.c.expires_at > bindparam("now"),
        _HALLS.c.code == bindparam("hall_code"),
        _HALLS.c.timezone == bindparam("timezone"),
        ~_SESSION_RATED,
    ]
    taken: dict[str, Any] = {
        "hall_id": session.c.hall_id,
        "session_id": session.c.id,
        "staff_id": session.c.staff_id,
        "case_no": session.c.case_no,
        "misuse": misuse,
    }
    if counter:
        joins = joins.join(_TERMINALS, _TERMINALS.c.id == session.c.terminal_id)
        checks += [_TERMINALS.c.key_id == bindparam("key_id"), _TERMINALS.c.active.is_(True)]
        if secret:
            checks.append(_TERMINALS.c.key_hash == bindparam("key_hash"))
        taken["terminal_id"] = _TERMINALS.c.id
    source = select(session.c.id).select_from(joins).where(*checks)
    return insert_all_columns_from(_RATINGS, source, taken)


# (counter, with a secret): a phone's rating, the counter page's signed-in session, a key.
_RATING_AT_ONCE = {
    kind: Prepared(_rating_at_once_insert(*kind))
    for kind in ((False, False), (True, False), (True, True))
}
# Key id (None for a phone) -> (hall code, time zone) of its last stored rating: the one
# statement must make the rating id before it knows the hall. A wrong guess (another
# hall, a renamed code) only sends that post the long way, which corrects the guess.
_HALL_OF_KEY: dict[str | None, tuple[str, str]] = {}
_HALL_GUESSES_KEPT = 4096


@dataclass(frozen=True, slots=True)
class RatingContext:
    """What a rating post needs: the session, and the terminal row of the claimed key."""

    info: SessionInfo
    terminal: TerminalIdentity | None
    key_hash: str | None


def load_rating_context(
    conn: Connection,
    token: str,
    key_id: str | None,
    now: dt.datetime | None = None,
    window: dt.timedelta | None = None,
) -> RatingContext | None:
    """The session of ``token`` with the terminal of ``key_id``; None for an unknown token.

    ``last_terminal_rating`` of the session is the latest rating of its terminal's sessions
    in the misuse ``window`` (default: the rule file's) before ``now`` (None when there is
    none that recent).
    """
    since = (now or utcnow()) - (window if window is not None else misuse_window())
    row = _RATING_CONTEXT.on(conn).first(
        conn, {"token_hash": token_hash(token), "key_id": key_id, "since": since}
    )
    if row is None:
        return None
    terminal = None
    if row["t_id"] is not None:
        terminal = TerminalIdentity(
            row["t_id"], row["t_hall_id"], row["t_window_id"], row["t_name"], key_id or ""
        )
    return RatingContext(_info_of(row), terminal, row["t_key_hash"])


_OPTIONAL_INFO_FIELDS = ("settings", "last_terminal_rating")
_INFO_FIELDS = tuple(f for f in SessionInfo.__dataclass_fields__ if f not in _OPTIONAL_INFO_FIELDS)
_HALL_SETTINGS = select(_HALLS.c.settings).where(_HALLS.c.id == bindparam("hall_id"))


def _info(row: Any) -> SessionInfo:
    return _info_of(row._mapping)


def _info_of(mapping: Mapping[str, Any]) -> SessionInfo:
    values = {name: mapping[name] for name in _INFO_FIELDS}
    values["rated"] = bool(values["rated"])
    for name in _OPTIONAL_INFO_FIELDS:
        if name in mapping:
            values[name] = mapping[name]
    return SessionInfo(**values)


def session_by_token(conn: Connection, token: str) -> SessionInfo | None:
    """The session a rating token belongs to, or ``None`` for an unknown or forged token."""
    row = conn.execute(_SESSION_BY_TOKEN_HASH, {"token_hash": token_hash(token)}).first()
    return None if row is None else _info(row)


def session_by_public_id(conn: Connection, public_id: str) -> SessionInfo | None:
    """The session with ``public_id``, or ``None``."""
    row = conn.execute(_SESSION_BY_PUBLIC_ID, {"public_id": public_id}).first()
    return None if row is None else _info(row)


# --- ratings -----------------------------------------------------------------------------


def new_rating_id(hall_code: str, local_day: dt.date) -> str:
    """A readable rating id: hall code, local date and 6 random characters (QJ-20261126-K7M2QX)."""
    number = _random_below(_ID_SPACE)
    digits = []
    for _position in range(_ID_RANDOM_CHARS):
        number, digit = divmod(number, len(_ID_ALPHABET))
        digits.append(_ID_ALPHABET[digit])
    tail = "".join(digits)
    return f"{hall_code}-{local_day:%Y%m%d}-{tail}"


_ID_SPACE = len(_ID_ALPHABET) ** _ID_RANDOM_CHARS  # 31**6, under 2**30
_RANDOM_READ = 4096
_random = threading.local()
_random_generation = [0]  # one more at each fork: a child never reuses its parent's bytes


def _random_below(limit: int) -> int:
    """A uniform random number below ``limit`` (2 to 2**32) from the OS's CSPRNG.

    The bytes are read 4 KB at a time per thread: ``os.urandom`` is a system call that
    hands the GIL to another thread, and the rating POST would otherwise make one per
    rating id. Rejection sampling keeps every value equally likely.
    """
    mask = (1 << max(1, (limit - 1).bit_length())) - 1  # so that at most half is rejected
    generation = _random_generation[0]
    pool: bytes = getattr(_random, "pool", b"")
    at: int = getattr(_random, "at", 0)
    if getattr(_random, "generation", None) != generation:
        pool, at = b"", 0
    while True:
        if at + 4 > len(pool):
            pool, at = os.urandom(_RANDOM_READ), 0
        number = int.from_bytes(pool[at : at + 4], "big") & mask
        at += 4
        if number < limit:
            break
    _random.pool, _random.at, _random.generation = pool, at, generation
    return number


def _after_fork() -> None:
    _random_generation[0] += 1


os.register_at_fork(after_in_child=_after_fork)


def unstorable(text: str) -> bool:
    """Whether a text cannot be stored as it is: a NUL character (PostgreSQL refuses it in
    text) or a lone surrogate (no UTF-8 for it), as JSON escapes or form fields may carry."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_content(
    level: int,
    reasons: Sequence[str],
    comment: str | None,
    allowed: list[str],
    bad: frozenset[int] | None = None,
) -> str | None:
    """Validate a rating's content (SPEC 4.1); returns the stored ``reasons`` text.

    Raises :class:`RatingRefused` (``invalid``) with a message naming the problem.
    """
    if level not in LEVEL_LABELS:
        raise invalid(_("评价等级必须是 1 到 5 之间的整数。"))
    chosen: list[str] = []
    for reason in reasons:
        reason = reason.strip()
        if reason not in allowed:
            raise invalid(
                _(
                    "“%(reason)s”不在本大厅的差评原因列表中（%(allowed)s）。",
                    reason=reason,
                    allowed="、".join(allowed),
                )
            )
        if reason not in chosen:
            chosen.append(reason)
    if level in (bad if bad is not None else bad_levels()):
        if not chosen:
            raise invalid(_("差评请至少选择一项原因。"))
    elif chosen:
        raise invalid(_("只有差评（不满意、非常不满意）才填写原因。"))
    if comment is not None and len(comment) > COMMENT_MAX:
        raise invalid(_("意见不能超过 %(n)d 个字。", n=COMMENT_MAX))
    if comment is not None and unstorable(comment):
        raise invalid(_("意见含有无法保存的字符（如 NUL）。"))
    return "|".join(chosen) or None


@dataclass(frozen=True, slots=True)
class StoredRating:
    """The outcome of an accepted rating: its id (whether it was flagged as misuse is on
    the stored row; the one-statement path does not read it back)."""

    rating_id: str


@dataclass(frozen=True, slots=True)
class RatingContent:
    """The fields of a rating post, as its transport read them (SPEC 9 body, phone form)."""

    token: str
    level: int
    reasons: Sequence[str] = ()
    comment: str | None = None

    def stored_comment(self) -> str | None:
        """The comment as it is stored: trimmed, None when blank."""
        return (self.comment or "").strip() or None


def _no_credentials() -> Credentials | None:
    return None


@dataclass(frozen=True, slots=True)
class RatingPost:
    """One rating post as its transport hands it over.

    ``content`` and ``credentials`` are the transport's readers of the body and of the
    terminal's claim; :func:`submit_rating` calls them at their place in SPEC 9's order, and
    a reader refuses what it cannot read with a :class:`RatingRefused` (``invalid`` for a
    malformed body, ``unauthorized`` for a malformed key). ``credentials`` returns None for
    a post that claims no terminal (a phone's). ``client_address`` is the bucket of calls
    without a valid key in the rate limit.
    """

    content: Callable[[], RatingContent]
    credentials: Callable[[], Credentials | None] = _no_credentials
    client_address: str | None = None
    client_tag: str | None = None
    """:func:`client_tag` of the posting address, stored with the rating (SPEC 12)."""


def submit_rating(
    conn: Connection,
    post: RatingPost,
    *,
    now: dt.datetime,
    limit: RatingLimit | None = None,
    rules: RuleSet | None = None,
) -> StoredRating:
    """Rate a session: with a terminal's credentials a counter rating, without a QR rating.

    The checks run in SPEC 9's order and the first that applies is raised as a
    :class:`RatingRefused`; a refusal writes nothing:

    1. a malformed claim of a terminal (``unauthorized``); a post without one is counted
       on the client address (``too_many_requests`` over the limit);
    2. wrong credentials (``unauthorized``), then the count on the terminal's key;
    3. a malformed body (``invalid``);
    4. an unknown token (``unknown_token``), another terminal than the one that opened
       the session (``wrong_terminal``), already rated, expired, invalid content.

    Every ``unauthorized`` is counted on the client address too (guessing keys costs as
    much as calls without one), and is ``too_many_requests`` once that is over the limit.
    ``limit`` None counts nothing (the limit is off, or the caller counted already). The
    unique ``ratings.session_id`` is the last guard against two concurrent ratings. The
    caller commits.

    ``rules`` is the rule file in force (default: :func:`rules_in_force`, read here). A
    caller holding a pooled ``conn`` passes it, read before it took the connection:
    reading it may need a connection of its own, and a thread must not wait for a second
    connection while it holds one (with as many threads as connections, none would come).
    """
    try:
        return _submit(conn, post, now, limit, rules or rules_in_force())
    except RatingRefused as refusal:
        if refusal.code == "unauthorized":
            admit(limit, address_bucket(post.client_address))
        raise


# The refusal order of SPEC 9 reads best as one straight list of checks, so this one
# function stays above the complexity limit rather than hide the order in helpers.
def _submit(  # noqa: C901
    conn: Connection,
    post: RatingPost,
    now: dt.datetime,
    limit: RatingLimit | None,
    rules: RuleSet,
) -> StoredRating:
    """:func:`submit_rating` but the count of refused keys."""
    credentials = post.credentials()
    if credentials is None:
        admit(limit, address_bucket(post.client_address))
    try:
        content = post.content()
    except RatingRefused:
        # A wrong key is refused before the body is judged, as on the other endpoints.
        if credentials is not None:
            known = authenticate(conn, credentials)
            if known is None:
                raise unauthorized() from None
            admit(limit, terminal_bucket(known))
        raise
    # The rule file in force is read once for the whole post (the bad levels, the misuse
    # window): each read is a look-up that the hot path need not repeat.
    window = misuse_window(rules)
    stored = _store_at_once(conn, post, credentials, content, now, limit, rules, window)
    if stored is not None:
        return stored
    context = load_rating_context(
        conn, content.token, credentials.key_id if credentials else None, now, window
    )
    terminal: TerminalIdentity | None = None
    if credentials is not None:
        if context is None:
            # No session row to read the terminal from: ask for it alone, so that a wrong
            # key is still a 401 rather than a 404.
            terminal = authenticate(conn, credentials)
            if terminal is None:
                raise unauthorized()
        elif context.terminal is None or not _key_matches(credentials, context.key_hash):
            raise unauthorized()
        else:
            terminal = context.terminal
        admit(limit, terminal_bucket(terminal))
    if context is None:
        raise RatingRefused("unknown_token", _("评价链接无效。"))
    info = context.info
    if terminal is not None and terminal.id != info.terminal_id:
        # Only the terminal that opened the session rates it at the counter (SPEC 4.2).
        raise RatingRefused("wrong_terminal", _("此终端不是开启本次服务的终端，不能在此评价。"))
    if info.rated:
        raise RatingRefused("already_rated", _("本次服务已评价。"))
    if now >= info.expires_at:
        raise RatingRefused("expired", _("评价链接已过期。"))
    level, reasons = content.level, content.reasons
    comment = content.stored_comment()
    allowed: list[str] = []
    if reasons or level in rules.bad_levels:
        allowed = hall_reasons(conn.execute(_HALL_SETTINGS, {"hall_id": info.hall_id}).scalar())
    stored_reasons = check_content(level, reasons, comment, allowed, rules.bad_levels)

    # A rating sooner than the rule's seconds after the previous rating, of either channel,
    # of a session opened by the same terminal is kept but flagged (SPEC 4.2): posting the
    # session's token without the key does not escape the rule. The session select read
    # that time; it is None when there was none within the window.
    previous = info.last_terminal_rating
    misuse = previous is not None and now - previous < window

    local_day = to_local(now, hall_zone(info.timezone)).date()
    values = {
        "hall_id": info.hall_id,
        "session_id": info.id,
        "staff_id": info.staff_id,
        "rated_at": now,
        "level": level,
        "channel": "counter" if terminal is not None else "qr",
        "case_no": info.case_no,
        "reasons": stored_reasons,
        "comment": comment,
        "misuse": misuse,
        "terminal_id": terminal.id if terminal is not None else None,
        "client_tag": post.client_tag,
    }
    for _attempt in range(_INSERT_ATTEMPTS):
        rating_id = new_rating_id(info.hall_code, local_day)
        try:
            _INSERT_RATING.on(conn).execute(conn, {"rating_id": rating_id, **values})
        except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError):
            # The failed insert ends the transaction (PostgreSQL refuses any statement after
            # it), which held only this post's reads: start a new one.
            conn.rollback()
            # Either another request rated this session first (the unique session_id), or
            # the random rating id collided: only the latter is worth another try.
            taken = conn.execute(_RATING_OF_SESSION, {"session_id": info.id}).first()
            if taken is not None:
                raise RatingRefused("already_rated", _("本次服务已评价。")) from None
            continue
        _remember_hall(credentials, info)
        return StoredRating(rating_id)
    raise RuntimeError("could not allocate a unique rating id")  # pragma: no cover


def _remember_hall(credentials: Credentials | None, info: SessionInfo) -> None:
    """Keep the hall of a stored rating as the next guess of :func:`_store_at_once`."""
    if len(_HALL_OF_KEY) >= _HALL_GUESSES_KEPT:
        _HALL_OF_KEY.clear()  # only stored ratings add keys: real terminals, so rarely
    _HALL_OF_KEY[credentials.key_id if credentials else None] = (info.hall_code, info.timezone)


def _store_at_once(
    conn: Connection,
    post: RatingPost,
    credentials: Credentials | None,
    content: RatingContent,
    now: dt.datetime,
    limit: RatingLimit | None,
    rules: RuleSet,
    window: dt.timedelta,
) -> StoredRating | None:
    """Store a good rating that passes every check in one statement; None when it does not
    qualify or the statement wrote nothing (the caller then takes the long way).

    Most ratings are good ones without reasons, by a terminal whose hall this process has
    seen. For them :data:`_RATING_AT_ONCE` makes SPEC 9's checks in its WHERE and writes
    the row :func:`_submit` would, the misuse flag included, with no select before it.
    Any post it does not store (a refusal to come, a bad review, an unknown hall, a
    terminal over its rate limit, a concurrent rating of the same session) goes through
    :func:`_submit`'s checks in their order, which find the refusal or store it.
    """
    key_id = credentials.key_id if credentials is not None else None
    guess = _HALL_OF_KEY.get(key_id)
    if guess is None:
        return None
    comment = content.stored_comment()
    try:
        # With no reasons allowed: any reason, a bad level (it needs one) or bad content
        # is refused here, and such a post goes the long way.
        reasons = check_content(content.level, content.reasons, comment, [], rules.bad_levels)
    except RatingRefused:
        return None  # refused, but maybe for something checked before the content
    bucket = None
    if credentials is not None and limit is not None:
        # The terminal's count comes after its key is proved, so only a stored rating
        # counts here; a terminal at its limit goes the long way, to its 429. (Two posts
        # of one terminal at the same instant may both pass at the last free place.)
        bucket = terminal_bucket_of(credentials.key_id)
        if not limit.room(bucket):
            return None
    hall_code, timezone = guess
    rating_id = new_rating_id(hall_code, to_local(now, hall_zone(timezone)).date())
    values = {
        "rating_id": rating_id,
        "rated_at": now,
        "level": content.level,
        "channel": "counter" if credentials is not None else "qr",
        "reasons": reasons,
        "comment": comment,
        "client_tag": post.client_tag,
        "token_hash": token_hash(content.token),
        "now": now,
        "since": now - window,
        "hall_code": hall_code,
        "timezone": timezone,
    }
    secret = credentials is not None and credentials.secret is not None
    if credentials is not None:
        values["key_id"] = key_id
        if secret:
            values["key_hash"] = hash_secret(credentials.secret)  # type: ignore[arg-type]
    statement = _RATING_AT_ONCE[(credentials is not None, secret)].on(conn)
    try:
        written = statement.count(conn, values)
    except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError):
        # A concurrent rating of the session, or a rating id taken: the long way tells.
        conn.rollback()
        return None
    if not written:
        return None
    if bucket is not None:
        admit_stored(limit, bucket)
    return StoredRating(rating_id)


def qr_token(
    conn: Connection,
    terminal: TerminalIdentity,
    public_id: str,
    *,
    secret_key: str | bytes,
    now: dt.datetime,
) -> str:
    """The rating token of an open session of the terminal's hall, for its QR code.

    Refused ``not_found`` for a session of no or another hall, then ``already_rated`` and
    ``expired``; ``expired`` too when the app's secret key changed since the session
    opened (its token cannot be derived again, so the session must start over).
    """
    info = session_by_public_id(conn, public_id)
    if info is None or info.hall_id != terminal.hall_id:
        raise RatingRefused("not_found", _("没有这个服务记录。"))
    state = info.state(now)
    if state == "rated":
        raise RatingRefused("already_rated", _("本次服务已评价。"))
    if state == "expired":
        raise RatingRefused("expired", _("评价链接已过期。"))
    token = token_for(secret_key, info.public_id)
    if token_hash(token) != info.token_hash:
        raise RatingRefused("expired", _("二维码已失效，请重新开始评价。"))
    return token


# The Flask session key under which the counter page keeps its terminal's key id (read by
# the terminal API too: the counter page's own signed-in session counts as the key).
COUNTER_SESSION_KEY = "counter_key_id"


def current_rating_limit(app: Flask | None = None) -> RatingLimit | None:
    """The app's (default: the running app's) ``RATING_RATE_LIMIT`` on its `limits`
    strategy; None when the limit is off."""
    app = app or current_app
    return rating_limit(app.config["RATING_RATE_LIMIT"], app.extensions["rating_limiter"])
