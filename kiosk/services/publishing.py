"""The bimonthly round: compute a period, review it, publish it frozen (通报).

Publishing stores, in an append-only ``published_periods`` row: the ``as_of`` instant,
the rule file's sha256, a sha256 of the scorer's inputs (:func:`inputs_digest`), the
SPEC 5.7 output JSON and the sha256 of that JSON text. Everything shown for a published
period afterwards (pages, notices, Excel, the hall display) is read from that frozen
JSON, never recomputed. A correction after publication becomes a new revision, which
needs a reason and is audited; an identical result is not published twice. The input
files themselves are frozen with it for the publication bundle (:mod:`kiosk.services.bundle`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, to_aware, to_local, to_storage
from kiosk.models import Hall, PublishedPeriod, Unit, User, utcnow
from kiosk.rules.calendar import Period
from kiosk.rules.explain import explain_lines
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.scoring import PeriodData, ScoreResult, score_period, to_spec_json
from kiosk.rules.wording import period_label
from kiosk.services import audit, bundle
from kiosk.services.errors import PublishError
from kiosk.services.scoring import load_period_data
from kiosk.services.texts import _, language

MAX_REASON = 1000


class IntegrityFailure(RuntimeError):
    """A stored result no longer matches its sha256 (tampering or corruption)."""


# --------------------------------------------------------------------------- digests


def _plain(value: Any) -> Any:
    """A JSON-ready, unambiguous form of the scorer's input values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _canonical_rows(rows: Any) -> list[Any]:
    """Rows in a fixed order whatever order the database returned them in."""
    plain = [_plain(row) for row in rows]
    return sorted(plain, key=lambda row: json.dumps(row, ensure_ascii=False, sort_keys=True))


def _rating_rows(data: PeriodData) -> list[Any]:
    # The channel matters to scoring only when it is `default` (SPEC 4.2); leaving the
    # others out keeps the digests of periods published before the channel was read.
    return _canonical_rows(r if r.channel == "default" else tuple(r)[:7] for r in data.ratings)


def _payload(data: PeriodData) -> dict[str, Any]:
    return {
        "hall": _plain(data.hall),
        "period": data.period.code,
        "staff": _canonical_rows(data.staff),
        "windows": _canonical_rows(data.windows),
        "punches": _canonical_rows(data.punches),
        "absences": _canonical_rows(data.absences),
        "ratings": _rating_rows(data),
        "cases": _canonical_rows(data.cases),
        "events": _canonical_rows(data.events),
    }


def _sha(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def inputs_digest(data: PeriodData) -> str:
    """sha256 of everything the scorer reads for a period (``as_of`` is stored apart).

    Two computations with the same digest read the same punches, absences, ratings,
    cases, events, roster, windows and hall settings.
    """
    return _sha(_payload(data))


INPUT_KINDS = ("hall", "roster", "punches", "absences", "ratings", "cases", "events")
"""The kinds :func:`inputs_digests` tells apart, in the order a change is reported."""


def inputs_digests(data: PeriodData) -> dict[str, str]:
    """sha256 per input kind (``roster`` is staff with their assignments and the windows),
    so a later review can say *which* inputs changed since a publication."""
    payload = _payload(data)
    return {
        "hall": _sha(payload["hall"]),
        "roster": _sha([payload["staff"], payload["windows"]]),
        **{kind: _sha(payload[kind]) for kind in INPUT_KINDS[2:]},
    }


def result_text(spec: dict[str, Any]) -> str:
    """The stored text of a SPEC 5.7 result: its own key order, compact, UTF-8."""
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))


def sha256_text(text: str) -> str:
    """sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- computing


@dataclass(frozen=True, slots=True)
class Computation:
    """A period scored now from the database, with the digests a publication stores."""

    hall: Hall
    period: Period
    as_of: dt.datetime
    """Aware, in the hall's zone."""
    result: ScoreResult
    spec: dict[str, Any]
    inputs_sha256: str
    result_json: str
    sha256: str
    inputs_detail: dict[str, str] = dataclasses.field(default_factory=dict)
    """sha256 per input kind (:func:`inputs_digests`)."""

    def explanation(self, staff_no: str) -> list[str]:
        """Why ``staff_no`` scored what they did (Chinese lines from the rules)."""
        return explain_lines(self.result, staff_no)


def parse_period(code: str | None) -> Period:
    """A period code ``YYYY-Bn``; a :class:`PublishError` with a readable message otherwise."""
    try:
        return Period.parse(code or "")
    except ValueError:
        raise PublishError(
            _("“%(code)s”不是有效的考评期（格式如 2026-B5，B1 为 1–2 月）。", code=code or "")
        ) from None


def period_end(hall: Hall, period: Period) -> dt.datetime:
    """The instant a period ends: 24:00 local of its last day, aware."""
    zone = hall_zone(hall.timezone)
    return dt.datetime.combine(period.last_day + dt.timedelta(days=1), dt.time(), tzinfo=zone)


def compute(
    session: Session, hall: Hall, period: Period, as_of: dt.datetime | None, rules: RuleSet
) -> Computation:
    """Score ``period`` of ``hall`` from the current data as of ``as_of`` (default now)."""
    zone = hall_zone(hall.timezone)
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).astimezone(zone)
    elif as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=zone)
    as_of = as_of.astimezone(zone).replace(microsecond=0)
    data = load_period_data(session.connection(), hall.id, period, as_of)
    result = score_period(data, rules)
    spec = to_spec_json(result)
    text = result_text(spec)
    return Computation(
        hall,
        period,
        as_of,
        result,
        spec,
        inputs_digest(data),
        text,
        sha256_text(text),
        inputs_digests(data),
    )


def default_period(hall: Hall, now: dt.datetime | None = None) -> str:
    """The most recent period that has ended (what a leader reviews next)."""
    local = to_local(now or utcnow(), hall_zone(hall.timezone)).date()
    index = (local.month + 1) // 2 - 1
    year = local.year
    if index == 0:
        year, index = year - 1, 6
    return f"{year:04d}-B{index}"


# --------------------------------------------------------------------------- publishing


def revisions(session: Session, hall: Hall, period: str) -> list[PublishedPeriod]:
    """Every published revision of a period, oldest first."""
    return list(
        session.scalars(
            select(PublishedPeriod)
            .where(PublishedPeriod.hall_id == hall.id, PublishedPeriod.period == period)
            .order_by(PublishedPeriod.revision)
        )
    )


def latest(session: Session, hall: Hall, period: str) -> PublishedPeriod | None:
    """The current (highest) revision of a published period."""
    return session.scalar(
        select(PublishedPeriod)
        .where(PublishedPeriod.hall_id == hall.id, PublishedPeriod.period == period)
        .order_by(PublishedPeriod.revision.desc())
        .limit(1)
    )


def latest_published(session: Session, hall: Hall) -> PublishedPeriod | None:
    """The current revision of the hall's most recent published period."""
    return session.scalar(
        select(PublishedPeriod)
        .where(PublishedPeriod.hall_id == hall.id)
        .order_by(PublishedPeriod.period.desc(), PublishedPeriod.revision.desc())
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class PublishedSummary:
    """One published period in the list: its current revision and how many there are."""

    period: str
    current: PublishedPeriod
    revisions: int
    published_by: str | None


def published_list(session: Session, hall: Hall) -> list[PublishedSummary]:
    """The hall's published periods, newest first, each with its current revision."""
    counts: dict[str, int] = dict(
        session.execute(
            select(PublishedPeriod.period, func.max(PublishedPeriod.revision))
            .where(PublishedPeriod.hall_id == hall.id)
            .group_by(PublishedPeriod.period)
        )
        .tuples()
        .all()
    )
    summaries = []
    for period in sorted(counts, reverse=True):
        current = latest(session, hall, period)
        assert current is not None
        user = session.get(User, current.published_by) if current.published_by else None
        summaries.append(
            PublishedSummary(
                period,
                current,
                counts[period],
                (user.display_name or user.username) if user else None,
            )
        )
    return summaries


def frozen(row: PublishedPeriod) -> dict[str, Any]:
    """The stored SPEC 5.7 result of a publication, after checking its sha256."""
    if sha256_text(row.result_json) != row.sha256:
        raise IntegrityFailure(
            f"published result {row.period} revision {row.revision} does not match its sha256"
        )
    result: dict[str, Any] = json.loads(row.result_json)
    return result


def publisher(session: Session, hall: Hall, username: str) -> User:
    """The user a publication is made as: an active leader (or admin) of ``hall``.

    The back office lets only leaders (and admins) publish; the command line names the
    user it publishes as, and the same rule holds.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise PublishError(_("用户 %(name)s 不存在。", name=username[:64]), "not_found")
    if not user.active:
        raise PublishError(_("用户 %(name)s 已停用，不能发布。", name=user.username))
    if user.role not in ("leader", "admin"):
        raise PublishError(_("用户 %(name)s 不是中心领导，不能发布。", name=user.username))
    if user.hall_id is not None and user.hall_id != hall.id:
        raise PublishError(_("用户 %(name)s 不属于本中心，不能发布。", name=user.username))
    return user


def publish(
    session: Session,
    hall: Hall,
    *,
    period_code: str | None,
    as_of: dt.datetime | None,
    reviewed_inputs_sha256: str | None,
    reason: str | None,
    user_id: int,
    rules: RuleSet,
    now: dt.datetime | None = None,
) -> PublishedPeriod:
    """Freeze and store the result the leader reviewed; a later one is a new revision.

    Refused (nothing stored) when the period has not ended by ``as_of``, ``as_of`` is in
    the future, the data changed since the review (inputs digest differs), a revision is
    asked for without a reason, or the result equals the current revision's. The caller
    commits, or rolls back after a refusal.
    """
    period = parse_period(period_code)
    if as_of is None:
        raise PublishError(_("缺少计算时点（as_of）。"))
    zone = hall_zone(hall.timezone)
    aware = as_of if as_of.tzinfo else as_of.replace(tzinfo=zone)
    now_aware = (now or utcnow()).replace(tzinfo=dt.UTC)
    if aware < period_end(hall, period):
        raise PublishError(
            _("%(period)s尚未结束，不能发布。", period=period_label(period.code, language()))
        )
    if aware > now_aware + dt.timedelta(minutes=5):
        raise PublishError(_("计算时点不能晚于当前时间。"))
    why = (reason or "").strip()
    if len(why) > MAX_REASON:
        raise PublishError(_("原因不能超过 %(n)d 个字。", n=MAX_REASON))
    computation = compute(session, hall, period, aware, rules)
    if not reviewed_inputs_sha256 or computation.inputs_sha256 != reviewed_inputs_sha256:
        raise PublishError(_("审核后数据已发生变化，请重新核对排名后再发布。"))
    previous = latest(session, hall, period.code)
    if previous is not None:
        if not why:
            raise PublishError(
                _(
                    "%(period)s 期已发布第 %(rev)d 版；发布修订版必须填写原因。",
                    period=period.code,
                    rev=previous.revision,
                )
            )
        if previous.sha256 == computation.sha256:
            raise PublishError(
                _("结果与已发布的第 %(rev)d 版完全相同，无需修订。", rev=previous.revision)
            )
    row = PublishedPeriod(
        hall_id=hall.id,
        period=period.code,
        revision=previous.revision + 1 if previous else 1,
        as_of=to_storage(computation.as_of, zone),
        rules_sha256=computation.result.rules.sha256,
        inputs_sha256=computation.inputs_sha256,
        inputs_detail=json.dumps(computation.inputs_detail, sort_keys=True),
        result_json=computation.result_json,
        sha256=computation.sha256,
        published_by=user_id,
        reason=why or None,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # The unique (hall, period, revision): another leader published first. The session
        # needs the caller's rollback now, as after any refusal.
        raise PublishError(_("另一位用户刚刚发布了本期，请刷新后查看。"), "conflict") from None
    # SPEC 13: the inputs as they stand now (in this transaction, so exactly what was
    # scored), frozen with the publication so a later correction never alters its bundle.
    bundle.freeze(session, row, hall, rules)
    audit.record(
        session,
        action="period.publish" if previous is None else "period.revise",
        object_type="published_period",
        object_id=f"{period.code}#{row.revision}",
        user_id=user_id,
        hall_id=hall.id,
        before=None
        if previous is None
        else {
            "revision": previous.revision,
            "sha256": previous.sha256,
            "inputs_sha256": previous.inputs_sha256,
        },
        after={
            "revision": row.revision,
            "as_of": computation.as_of.isoformat(),
            "rules_sha256": row.rules_sha256,
            "inputs_sha256": row.inputs_sha256,
            "sha256": row.sha256,
        },
        reason=why or None,
    )
    return row


# --------------------------------------------------------------------------- reading frozen


def unit_names(session: Session, hall: Hall) -> dict[str, str]:
    """Unit code -> name for the hall."""
    return {
        code: name
        for code, name in session.execute(
            select(Unit.code, Unit.name).where(Unit.hall_id == hall.id).order_by(Unit.code)
        )
    }


def individuals_by_unit(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The frozen individuals grouped by the unit of their home window, in rank order."""
    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
    grouped: dict[str, list[dict[str, Any]]] = {}
    for person in result["individuals"]:
        grouped.setdefault(unit_of.get(person["window"], ""), []).append(person)
    return grouped


def as_of_local(row: PublishedPeriod, hall: Hall) -> dt.datetime:
    """The publication's ``as_of`` as an aware hall-local time."""
    return to_aware(row.as_of, hall_zone(hall.timezone))


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True, slots=True)
class Comparison:
    """A review against the current published revision, at the *published* ``as_of``.

    Two results are only comparable at the same instant (deadlines and closed days move
    with ``as_of``), so the published revision is recomputed at its own ``as_of`` from
    today's data and compared with what was frozen.
    """

    revision: int
    published_as_of: dt.datetime
    same_as_of: bool
    """Whether the review was asked at the published ``as_of``."""
    differs: bool
    """Whether today's data, at the published ``as_of``, give another result."""
    changed_inputs: tuple[str, ...]
    """Input kinds whose digest moved (of :data:`INPUT_KINDS`, then ``rules``)."""
    inputs_unknown: bool
    """The inputs changed but the revision predates the per-kind digests."""
    moved_people: tuple[tuple[str, str], ...]
    """(staff_no, name) of each person whose line differs (or who came or went)."""
    moved_windows: tuple[tuple[str, str], ...]
    """(window, name) of each window whose line differs."""
    as_of_moved_people: tuple[tuple[str, str], ...] = ()
    """With the review's own later ``as_of``: people whose line differs from the frozen one."""


def _moved(
    frozen_rows: list[dict[str, Any]], rows: list[dict[str, Any]], key: str
) -> list[tuple[str, str]]:
    before = {r[key]: r for r in frozen_rows}
    after = {r[key]: r for r in rows}
    return [
        (code, (after.get(code) or before[code]).get("name") or "")
        for code in sorted(before.keys() | after.keys())
        if before.get(code) != after.get(code)
    ]


def compare(
    session: Session,
    hall: Hall,
    computation: Computation,
    previous: PublishedPeriod,
    rules: RuleSet,
) -> Comparison:
    """Compare ``computation`` (a review) with the published ``previous`` revision."""
    published_spec = frozen(previous)
    at = as_of_local(previous, hall)
    same_as_of = computation.as_of == at
    again = computation if same_as_of else compute(session, hall, computation.period, at, rules)
    stored = json.loads(previous.inputs_detail) if previous.inputs_detail else None
    changed: list[str] = []
    unknown = False
    if again.inputs_sha256 != previous.inputs_sha256:
        if stored is None:
            unknown = True
        else:
            changed = [k for k in INPUT_KINDS if stored.get(k) != again.inputs_detail.get(k)]
    if again.result.rules.sha256 != previous.rules_sha256:
        changed.append("rules")
    differs = again.sha256 != previous.sha256
    as_of_moved: list[tuple[str, str]] = []
    if not same_as_of:
        as_of_moved = _moved(
            published_spec["individuals"], computation.spec["individuals"], "staff_no"
        )
    return Comparison(
        revision=previous.revision,
        published_as_of=at,
        same_as_of=same_as_of,
        differs=differs,
        changed_inputs=tuple(changed),
        inputs_unknown=unknown,
        moved_people=tuple(
            _moved(published_spec["individuals"], again.spec["individuals"], "staff_no")
        ),
        moved_windows=tuple(_moved(published_spec["windows"], again.spec["windows"], "window")),
        as_of_moved_people=tuple(as_of_moved),
    )
