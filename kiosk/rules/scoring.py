"""Bimonthly scoring of staff (先进个人) and windows (红旗窗口), SPEC 5.

:func:`score_period` takes one hall's raw period data (:class:`PeriodData`) and a
:class:`~kiosk.rules.ruleset.RuleSet` and returns a :class:`ScoreResult`;
:func:`to_spec_json` turns that into exactly the object of SPEC 5.7.

The code is linear in the input: inputs are grouped by staff once, the workdays and
their slot plans are computed once per period, and row types are plain named tuples so
a service can build them straight from database rows. Arithmetic is exact (fractions);
only the reported figures are rounded, half up, to 2 decimals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from kiosk.rules.attendance import (
    DayPlan,
    DayRecord,
    Excuse,
    SlotStatus,
    day_closes,
    day_plan,
    debounce,
    evaluate_day,
)
from kiosk.rules.calendar import (
    HallCalendar,
    Period,
    is_covered_year,
    rectification_deadline,
    schedule_for,
    uncovered_years,
    workdays,
)
from kiosk.rules.ruleset import RuleSet

__all__ = [
    "INELIGIBLE_REASONS",
    "AsOfBeforePeriod",
    "VETOES",
    "Absence",
    "Assignment",
    "AttendanceSummary",
    "BadReviewCheck",
    "Case",
    "CaseSummary",
    "Event",
    "Hall",
    "IndividualScore",
    "PeriodData",
    "Punch",
    "Rating",
    "RatingSummary",
    "ScoreResult",
    "Staff",
    "Window",
    "WindowScore",
    "round_half_up",
    "score_period",
    "to_spec_json",
]

VETOES = ("absence", "discipline", "unrectified_bad_review")
"""Veto codes in the order SPEC 5.7 lists them."""
INELIGIBLE_REASONS = ("veto", "too_few_ratings", "too_few_duty_days", "below_threshold")
"""Ineligibility reasons in the order SPEC 5.7 lists them."""

_CENT = Decimal("0.01")
_ZERO = Fraction(0)


# --------------------------------------------------------------------------- inputs


class AsOfBeforePeriod(ValueError):
    """``as_of`` lies before the period's first day (SPEC 5.1): nothing can be scored."""


class Punch(NamedTuple):
    """A kept (not voided) raw punch; ``at`` is naive hall-local time."""

    staff_no: str
    at: datetime


class Absence(NamedTuple):
    """Approved leave (``leave``) or an out-of-office registration (``out``), local ``[start, end]``."""

    staff_no: str
    kind: str
    start: datetime
    end: datetime


class Rating(NamedTuple):
    """A citizen's rating; times naive hall-local. ``review`` is None, ``upheld`` or ``unfounded``."""

    rating_id: str
    staff_no: str
    rated_at: datetime
    level: int
    misuse: bool = False
    review: str | None = None
    rectified_at: datetime | None = None
    channel: str | None = None
    """``counter``, ``qr``, ``other`` or ``default`` (SPEC 4.2: a default rating never counts)."""


class Case(NamedTuple):
    """A case (办件); ``weight`` None means the rule file's default weight."""

    case_no: str
    staff_no: str
    due_at: datetime
    completed_at: datetime | None
    weight: Decimal | Fraction | int | float | None = None


class Event(NamedTuple):
    """A spot check, complaint or commendation with signed points and a veto flag."""

    event_id: str
    staff_no: str
    at: datetime
    kind: str
    points: Decimal | Fraction | int | float
    veto: bool = False
    category: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """A staff member's assignment to a window; ``end_date`` None means open."""

    window: str
    start_date: date
    end_date: date | None = None

    def covers(self, day: date) -> bool:
        """Whether the assignment holds on ``day`` (both ends inclusive)."""
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff member and their assignment history."""

    staff_no: str
    name: str
    assignments: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class Window:
    """A service window of the hall."""

    code: str
    name: str
    unit: str
    handles_cases: bool = True


@dataclass(frozen=True, slots=True)
class Hall:
    """The hall's identity, time zone, calendar and attendance settings."""

    code: str
    name: str
    timezone: str
    calendar: HallCalendar
    grace_minutes: float = 5
    debounce_seconds: float = 60


@dataclass(frozen=True, slots=True)
class PeriodData:
    """Everything a period's scoring reads, for one hall.

    Rows may cover more than the period (they are filtered by local date here); times are
    naive hall-local, ``as_of`` is an aware instant (a naive one is read as hall-local).
    """

    hall: Hall
    period: Period
    as_of: datetime
    staff: tuple[Staff, ...]
    windows: tuple[Window, ...]
    punches: Sequence[Punch] = ()
    absences: Sequence[Absence] = ()
    ratings: Sequence[Rating] = ()
    cases: Sequence[Case] = ()
    events: Sequence[Event] = ()


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class BadReviewCheck:
    """An upheld bad review of the period and how its rectification deadline went.

    ``status``: ``on_time`` (rectified at or before the deadline), ``late`` (rectified
    after it), ``overdue`` (not rectified and the deadline is before ``as_of``) or
    ``pending`` (not rectified, deadline still ahead). ``late`` and ``overdue`` veto.
    """

    rating_id: str
    rated_at: datetime
    level: int
    deadline: datetime
    rectified_at: datetime | None
    status: str

    @property
    def vetoes(self) -> bool:
        """Whether this review gives an ``unrectified_bad_review`` veto."""
        return self.status in ("late", "overdue")


@dataclass(frozen=True, slots=True)
class RatingSummary:
    """A person's ratings of the period: valid ones, S*, and the ones left out (id, why)."""

    valid: int
    bad: int
    value_sum: Fraction
    mean: Fraction | None
    adjusted: Fraction
    excluded: tuple[tuple[str, str], ...]
    bad_reviews: tuple[BadReviewCheck, ...]


@dataclass(frozen=True, slots=True)
class AttendanceSummary:
    """A person's attendance over their roster workdays, with every day's record."""

    workdays: int
    on_duty_days: int
    late: int
    early: int
    missing: int
    absent_half_days: int
    long_defects: int
    """Late or early defects over the rule file's long_defect_minutes."""
    points: Fraction
    days: tuple[DayRecord, ...]


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """Cases completed in the period: count, weighted sum w, on-time count t, overdue case numbers."""

    completed: int
    weighted: Fraction
    on_time: int
    overdue: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IndividualScore:
    """One scored staff member: unrounded parts, award status and the data behind them."""

    staff_no: str
    name: str
    window: str
    handles_cases: bool
    satisfaction: Fraction
    attendance: Fraction
    workload: Fraction | None
    discipline: Fraction
    bonus: Fraction
    total: Fraction
    ratings: RatingSummary
    attendance_detail: AttendanceSummary
    cases: CaseSummary
    events: tuple[Event, ...]
    vetoes: tuple[str, ...]
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    rank: int
    award: str | None

    @property
    def key(self) -> tuple[Decimal, Decimal, Fraction, Fraction]:
        """Ranking key: rounded total, rounded S*, w, attendance points (all descending)."""
        return (
            round_half_up(self.total),
            round_half_up(self.ratings.adjusted),
            self.cases.weighted,
            self.attendance,
        )


@dataclass(frozen=True, slots=True)
class WindowScore:
    """One scored window: means over its members, vetoes carried from them, award status."""

    window: str
    name: str
    unit: str
    members: tuple[str, ...]
    total: Fraction
    adjusted: Fraction
    """Mean S* of the members."""
    weighted: Fraction
    """Sum of the members' w."""
    attendance: Fraction
    """Mean attendance points of the members."""
    valid_ratings: int
    vetoes: tuple[str, ...]
    eligible: bool
    ineligible_reasons: tuple[str, ...]
    rank: int
    award: str | None

    @property
    def key(self) -> tuple[Decimal, Decimal, Fraction, Fraction]:
        """Ranking key: rounded total, rounded mean S*, sum of w, mean attendance points."""
        return (
            round_half_up(self.total),
            round_half_up(self.adjusted),
            self.weighted,
            self.attendance,
        )


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A period's scoring of one hall, in rank order; see :func:`to_spec_json`."""

    period: Period
    hall: str
    as_of: datetime
    rules: RuleSet
    warnings: tuple[str, ...]
    individuals: tuple[IndividualScore, ...]
    windows: tuple[WindowScore, ...]
    hall_mean: Fraction | None
    """C: the mean value of all valid ratings of the hall's staff (None: no rating)."""
    max_weighted: Fraction
    """W: the largest w among scored staff."""
    individual_quota: int
    window_quota: int

    def individual(self, staff_no: str) -> IndividualScore | None:
        """The scored staff member with this number, if any."""
        return next((i for i in self.individuals if i.staff_no == staff_no), None)


# --------------------------------------------------------------------------- helpers


def round_half_up(value: Fraction | Decimal | int, places: int = 2) -> Decimal:
    """Round to ``places`` decimals, halves away from zero (四舍五入), exactly."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    value = Fraction(value)
    scale = 10**places
    scaled = abs(value) * scale
    whole = int(scaled)  # floor, as scaled >= 0
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    sign = -1 if value < 0 else 1
    return Decimal(sign * whole).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def _fraction(value: Decimal | Fraction | int | float) -> Fraction:
    if isinstance(value, float):
        # A float weight of 0.1 means one tenth, not its binary expansion.
        return Fraction(str(value))
    return Fraction(value)


def _local_naive(instant: datetime, zone: ZoneInfo) -> datetime:
    if instant.tzinfo is None:
        return instant
    return instant.astimezone(zone).replace(tzinfo=None)


def _rank(
    keys: Sequence[tuple[Any, ...]], ids: Sequence[str], eligible: Sequence[bool], divisor: int
) -> tuple[list[int], list[int], set[int], int]:
    """Rank entries (competition ranking 1, 2, 2, 4 by key descending; ties listed by id).

    Returns (order, rank per entry, indices awarded, quota). The quota is
    ceil(eligible / divisor); the award goes to eligible entries in rank order until it is
    filled, and to every eligible entry whose key equals the last one awarded.
    """
    order = sorted(range(len(keys)), key=lambda i: ids[i])
    # Python's sort is stable with reverse=True too, so equal keys stay in id order.
    order.sort(key=lambda i: keys[i], reverse=True)
    ranks = [0] * len(keys)
    for position, index in enumerate(order):
        if position and keys[index] == keys[order[position - 1]]:
            ranks[index] = ranks[order[position - 1]]
        else:
            ranks[index] = position + 1
    candidates = [i for i in order if eligible[i]]
    quota = -(-len(candidates) // divisor)
    awarded: set[int] = set(candidates[:quota])
    if quota:
        last_key = keys[candidates[quota - 1]]
        awarded.update(i for i in candidates[quota:] if keys[i] == last_key)
    return order, ranks, awarded, quota


def _roster(staff: Staff, days: Sequence[date]) -> tuple[list[date], str | None]:
    """A person's roster workdays of the period and their home window.

    Where two assignments cover a day the later ``start_date`` holds; the home window is
    the one held on most workdays, a tie going to the later assignment.
    """
    latest_first = sorted(staff.assignments, key=lambda a: a.start_date, reverse=True)
    roster_days: list[date] = []
    per_window: dict[str, list[Any]] = {}
    for day in days:
        for assignment in latest_first:
            if assignment.covers(day):
                roster_days.append(day)
                tally = per_window.setdefault(assignment.window, [0, assignment.start_date])
                tally[0] += 1
                tally[1] = max(tally[1], assignment.start_date)
                break
    if not per_window:
        return roster_days, None
    home = max(per_window.items(), key=lambda item: (item[1][0], item[1][1]))[0]
    return roster_days, home


# --------------------------------------------------------------------------- scoring


class _Draft:
    """Mutable per-person accumulator, frozen into :class:`IndividualScore` at the end."""

    __slots__ = (
        "staff",
        "window",
        "handles_cases",
        "roster_days",
        "punches",
        "excuses",
        "valid",
        "bad",
        "value_sum",
        "excluded",
        "bad_reviews",
        "completed",
        "weighted",
        "default_weighted",
        "int_weight",
        "decimal_weight",
        "on_time",
        "overdue",
        "events",
    )

    def __init__(self, staff: Staff, window: str, handles_cases: bool, roster_days: list[date]):
        self.staff = staff
        self.window = window
        self.handles_cases = handles_cases
        self.roster_days = roster_days
        self.punches: list[datetime] = []
        self.excuses: list[Excuse] = []
        self.valid = 0
        self.bad = 0
        self.value_sum: int | Fraction = 0
        self.excluded: list[tuple[str, str]] = []
        self.bad_reviews: list[BadReviewCheck] = []
        self.completed = 0
        self.weighted = _ZERO
        self.default_weighted = 0
        self.int_weight = 0
        self.decimal_weight = Decimal(0)
        self.on_time = 0
        self.overdue: list[str] = []
        self.events: list[Event] = []


def score_period(data: PeriodData, rules: RuleSet) -> ScoreResult:
    """Score one hall's period: every individual and every window with members (SPEC 5)."""
    hall, period = data.hall, data.period
    zone = ZoneInfo(hall.timezone)
    as_of_local = _local_naive(data.as_of, zone)
    as_of = (data.as_of if data.as_of.tzinfo else data.as_of.replace(tzinfo=zone)).astimezone(zone)
    warnings: list[str] = []
    start = datetime.combine(period.first_day, time())
    stop = datetime.combine(period.last_day + timedelta(days=1), time())
    if as_of_local < start:
        raise AsOfBeforePeriod(
            f"as_of {as_of.isoformat(timespec='seconds')} 早于考评期 {period.code} 的第一天"
            f" {period.first_day.isoformat()}，无法计分"
        )

    # Calendar work done once per period, shared by everyone. Only closed workdays count
    # (SPEC 5.1): today until its PM_OUT range ends, and every later day, are left out.
    all_days = workdays(period.first_day, period.last_day, hall.calendar)
    plans: dict[date, DayPlan | None] = {}
    unscheduled = 0
    period_days: list[date] = []
    for day in all_days:
        schedule = schedule_for(day, hall.calendar.schedules)
        plans[day] = plan = day_plan(day, schedule) if schedule is not None else None
        unscheduled += schedule is None
        if day_closes(day, plan) <= as_of_local:
            period_days.append(day)
    uncovered = set(uncovered_years(period.first_day, period.last_day))
    if unscheduled:
        warnings.append(
            f"本期有 {unscheduled} 个工作日没有适用的作息时间，这些天不计考勤（无打卡时段）"
        )

    windows = {w.code: w for w in data.windows}
    drafts: dict[str, _Draft] = {}
    for person in data.staff:
        roster_days, home = _roster(person, period_days)
        if home is None:
            continue
        window = windows.get(home)
        if window is None:
            warnings.append(f"{person.staff_no} 的窗口 {home} 不在本中心的窗口表中，按办件窗口计分")
        drafts[person.staff_no] = _Draft(
            person, home, window.handles_cases if window else True, roster_days
        )

    # Punches and absences: grouped by person once.
    for punch in data.punches:
        draft = drafts.get(punch.staff_no)
        if draft is not None:
            draft.punches.append(punch.at)
    for absence in data.absences:
        draft = drafts.get(absence.staff_no)
        if draft is not None and absence.start < stop and absence.end >= start:
            draft.excuses.append(Excuse(absence.kind, absence.start, absence.end))

    # Ratings: hall mean C over every valid rating of the hall's staff in the period.
    # Integral level values as ints: summing 200,000 ints is far cheaper than fractions.
    levels = {k: v.numerator if v.denominator == 1 else v for k, v in rules.level_map().items()}
    bad_levels = rules.bad_levels
    hall_count = 0
    hall_sum: int | Fraction = 0
    deadlines: dict[date, datetime] = {}
    for rating in data.ratings:
        if not start <= rating.rated_at < stop or rating.rated_at > as_of_local:
            continue
        draft = drafts.get(rating.staff_no)
        if rating.channel == "default" or rating.misuse or rating.review == "unfounded":
            # A default rating is never valid, never bad, never misuse (SPEC 4.2).
            if draft is not None:
                why = (
                    "default"
                    if rating.channel == "default"
                    else ("misuse" if rating.misuse else "unfounded")
                )
                draft.excluded.append((rating.rating_id, why))
            continue
        try:
            value = levels[rating.level]
        except KeyError:
            raise ValueError(f"rating {rating.rating_id}: unknown level {rating.level}") from None
        hall_count += 1
        hall_sum += value
        if draft is None:
            continue
        draft.valid += 1
        draft.value_sum += value
        if rating.level in bad_levels:
            draft.bad += 1
            if rating.review == "upheld":
                rated_day = rating.rated_at.date()
                deadline = deadlines.get(rated_day)
                if deadline is None:
                    deadline = rectification_deadline(
                        rated_day, hall.calendar, rules.rectification_workdays
                    )
                    deadlines[rated_day] = deadline
                    uncovered.update(
                        y
                        for y in range(rated_day.year, deadline.year + 1)
                        if not is_covered_year(y)
                    )
                rectified = rating.rectified_at
                if rectified is not None:
                    status = "on_time" if rectified <= deadline else "late"
                else:
                    status = "overdue" if deadline < as_of_local else "pending"
                draft.bad_reviews.append(
                    BadReviewCheck(
                        rating.rating_id, rating.rated_at, rating.level, deadline, rectified, status
                    )
                )
    hall_mean = Fraction(hall_sum, hall_count) if hall_count else None

    # Cases by completion date; weights summed exactly.
    default_weight = rules.default_case_weight
    for case in data.cases:
        completed_at = case.completed_at
        if completed_at is None or not start <= completed_at < stop or completed_at > as_of_local:
            continue
        draft = drafts.get(case.staff_no)
        if draft is None:
            continue
        draft.completed += 1
        weight = case.weight
        # Summed by kind so 150,000 cases cost int/Decimal additions, not fraction ones.
        if weight is None:
            draft.default_weighted += 1
        elif isinstance(weight, Decimal):
            draft.decimal_weight += weight
        elif isinstance(weight, float):
            # repr() is the float's shortest decimal: 0.1 stays one tenth.
            draft.decimal_weight += Decimal(repr(weight))
        elif isinstance(weight, int):
            draft.int_weight += weight
        else:
            draft.weighted += _fraction(weight)
        if completed_at <= case.due_at:
            draft.on_time += 1
        else:
            draft.overdue.append(case.case_no)

    for event in data.events:
        draft = drafts.get(event.staff_no)
        if draft is not None and start <= event.at < stop and event.at <= as_of_local:
            draft.events.append(event)

    for draft in drafts.values():
        draft.weighted += (
            draft.default_weighted * default_weight
            + draft.int_weight
            + Fraction(draft.decimal_weight)
        )
    max_weighted = max((d.weighted for d in drafts.values()), default=_ZERO)
    if max_weighted == 0:
        warnings.append("本期没有找到办件数据：办件量得分按满分计")
    for year in sorted(uncovered):
        warnings.append(
            f"{year} 年不在国务院节假日数据范围内，按周一至周五计算工作日；"
            "如有调休请在中心设置的 extra_workdays / closed_days 中修正"
        )

    # Per person: attendance, parts, vetoes.
    grace = hall.grace_minutes
    long_limit = float(rules.long_defect_minutes)
    scored: list[dict[str, Any]] = []
    for staff_no, draft in drafts.items():
        draft.punches.sort()
        kept, duplicates = debounce(draft.punches, hall.debounce_seconds)
        records: list[DayRecord] = []
        late = early = missing = absent = on_duty = long_defects = 0
        excuses = draft.excuses
        for day in draft.roster_days:
            record = evaluate_day(plans[day], day, kept, excuses, grace, duplicates)
            records.append(record)
            if record.on_duty:
                on_duty += 1
            if record.late or record.early or record.missing or record.absent_half_days:
                late += record.late
                early += record.early
                missing += record.missing
                absent += record.absent_half_days
                for slot in record.slots:
                    if (
                        slot.status is SlotStatus.LATE or slot.status is SlotStatus.EARLY
                    ) and slot.minutes > long_limit:
                        long_defects += 1
        short_defects = late + early - long_defects
        attendance = rules.attendance_max - (
            short_defects * rules.short_defect_points
            + long_defects * rules.long_defect_points
            + missing * rules.missing_punch_points
            + absent * rules.absent_half_day_points
        )
        attendance = max(attendance, _ZERO)

        n = draft.valid
        mean = Fraction(draft.value_sum) / n if n else None
        if hall_mean is None:
            adjusted = rules.no_ratings_score
        else:
            m = rules.prior_weight
            adjusted = (draft.value_sum + m * hall_mean) / (n + m)
        satisfaction = rules.satisfaction_max * adjusted / 100

        workload: Fraction | None
        if not draft.handles_cases:
            workload = None
        elif max_weighted == 0:
            workload = rules.workload_max
        else:
            workload = rules.weighted_points * draft.weighted / max_weighted
            if draft.completed:
                workload += rules.on_time_points * Fraction(draft.on_time, draft.completed)

        negative = sum((_fraction(e.points) for e in draft.events if e.points < 0), _ZERO)
        positive = sum((_fraction(e.points) for e in draft.events if e.points > 0), _ZERO)
        discipline = max(rules.discipline_max + negative, _ZERO)
        bonus = min(positive, rules.bonus_max)

        if workload is None:
            total = (satisfaction + attendance + discipline) * rules.no_workload_scale + bonus
        else:
            total = satisfaction + attendance + workload + discipline + bonus

        vetoes = []
        if absent:
            vetoes.append("absence")
        if any(e.veto for e in draft.events):
            vetoes.append("discipline")
        if any(check.vetoes for check in draft.bad_reviews):
            vetoes.append("unrectified_bad_review")
        workday_count = len(draft.roster_days)
        reasons = []
        if vetoes:
            reasons.append("veto")
        if n < rules.individual_min_ratings:
            reasons.append("too_few_ratings")
        if on_duty < rules.individual_min_duty_ratio * workday_count:
            reasons.append("too_few_duty_days")
        if round_half_up(total) < rules.individual_threshold:
            reasons.append("below_threshold")

        scored.append(
            {
                "staff_no": staff_no,
                "name": draft.staff.name,
                "window": draft.window,
                "handles_cases": draft.handles_cases,
                "satisfaction": satisfaction,
                "attendance": attendance,
                "workload": workload,
                "discipline": discipline,
                "bonus": bonus,
                "total": total,
                "ratings": RatingSummary(
                    valid=n,
                    bad=draft.bad,
                    value_sum=Fraction(draft.value_sum),
                    mean=mean,
                    adjusted=adjusted,
                    excluded=tuple(draft.excluded),
                    bad_reviews=tuple(draft.bad_reviews),
                ),
                "attendance_detail": AttendanceSummary(
                    workdays=workday_count,
                    on_duty_days=on_duty,
                    late=late,
                    early=early,
                    missing=missing,
                    absent_half_days=absent,
                    long_defects=long_defects,
                    points=attendance,
                    days=tuple(records),
                ),
                "cases": CaseSummary(
                    completed=draft.completed,
                    weighted=draft.weighted,
                    on_time=draft.on_time,
                    overdue=tuple(draft.overdue),
                ),
                "events": tuple(draft.events),
                "vetoes": tuple(vetoes),
                "eligible": not reasons,
                "ineligible_reasons": tuple(reasons),
            }
        )

    keys = [
        (
            round_half_up(s["total"]),
            round_half_up(s["ratings"].adjusted),
            s["cases"].weighted,
            s["attendance"],
        )
        for s in scored
    ]
    order, ranks, awarded, individual_quota = _rank(
        keys,
        [s["staff_no"] for s in scored],
        [s["eligible"] for s in scored],
        rules.individual_quota_divisor,
    )
    individuals = tuple(
        IndividualScore(**scored[i], rank=ranks[i], award="advanced" if i in awarded else None)
        for i in order
    )

    window_scores, window_quota = _score_windows(individuals, data.windows, rules)

    return ScoreResult(
        period=period,
        hall=hall.code,
        as_of=as_of,
        rules=rules,
        warnings=tuple(warnings),
        individuals=individuals,
        windows=window_scores,
        hall_mean=hall_mean,
        max_weighted=max_weighted,
        individual_quota=individual_quota,
        window_quota=window_quota,
    )


def _score_windows(
    individuals: Iterable[IndividualScore], windows: Iterable[Window], rules: RuleSet
) -> tuple[tuple[WindowScore, ...], int]:
    members: dict[str, list[IndividualScore]] = defaultdict(list)
    for person in individuals:
        members[person.window].append(person)
    drafts: list[dict[str, Any]] = []
    for window in windows:
        people = sorted(members.get(window.code, ()), key=lambda p: p.staff_no)
        if not people:
            continue  # a window with no members is not scored
        count = len(people)
        total = sum((p.total for p in people), _ZERO) / count
        valid = sum(p.ratings.valid for p in people)
        vetoes = tuple(v for v in VETOES if any(v in p.vetoes for p in people))
        reasons = []
        if vetoes:
            reasons.append("veto")
        if valid < rules.window_min_ratings:
            reasons.append("too_few_ratings")
        if round_half_up(total) < rules.window_threshold:
            reasons.append("below_threshold")
        drafts.append(
            {
                "window": window.code,
                "name": window.name,
                "unit": window.unit,
                "members": tuple(p.staff_no for p in people),
                "total": total,
                "adjusted": sum((p.ratings.adjusted for p in people), _ZERO) / count,
                "weighted": sum((p.cases.weighted for p in people), _ZERO),
                "attendance": sum((p.attendance for p in people), _ZERO) / count,
                "valid_ratings": valid,
                "vetoes": vetoes,
                "eligible": not reasons,
                "ineligible_reasons": tuple(reasons),
            }
        )
    keys = [
        (round_half_up(d["total"]), round_half_up(d["adjusted"]), d["weighted"], d["attendance"])
        for d in drafts
    ]
    order, ranks, awarded, quota = _rank(
        keys,
        [d["window"] for d in drafts],
        [d["eligible"] for d in drafts],
        rules.window_quota_divisor,
    )
    return (
        tuple(
            WindowScore(**drafts[i], rank=ranks[i], award="red_flag" if i in awarded else None)
            for i in order
        ),
        quota,
    )


# --------------------------------------------------------------------------- SPEC 5.7 JSON


def _num(value: Fraction | Decimal | int) -> float:
    return float(round_half_up(value))


def to_spec_json(result: ScoreResult) -> dict[str, Any]:
    """The result object of SPEC 5.7, with keys in the specified order."""
    individuals = []
    for p in result.individuals:
        r, a, c = p.ratings, p.attendance_detail, p.cases
        individuals.append(
            {
                "staff_no": p.staff_no,
                "name": p.name,
                "window": p.window,
                "rank": p.rank,
                "total": _num(p.total),
                "award": p.award,
                "satisfaction": _num(p.satisfaction),
                "attendance": _num(p.attendance),
                "workload": None if p.workload is None else _num(p.workload),
                "discipline": _num(p.discipline),
                "bonus": _num(p.bonus),
                "ratings": {
                    "valid": r.valid,
                    "bad": r.bad,
                    "mean": None if r.mean is None else _num(r.mean),
                    "adjusted": _num(r.adjusted),
                },
                "attendance_detail": {
                    "workdays": a.workdays,
                    "on_duty_days": a.on_duty_days,
                    "late": a.late,
                    "early": a.early,
                    "missing": a.missing,
                    "absent_half_days": a.absent_half_days,
                },
                "cases": {
                    "completed": c.completed,
                    "weighted": _num(c.weighted),
                    "on_time": c.on_time,
                },
                "eligible": p.eligible,
                "ineligible_reasons": list(p.ineligible_reasons),
                "vetoes": list(p.vetoes),
            }
        )
    windows = [
        {
            "window": w.window,
            "name": w.name,
            "unit": w.unit,
            "rank": w.rank,
            "total": _num(w.total),
            "award": w.award,
            "members": list(w.members),
            "valid_ratings": w.valid_ratings,
            "eligible": w.eligible,
            "ineligible_reasons": list(w.ineligible_reasons),
            "vetoes": list(w.vetoes),
        }
        for w in result.windows
    ]
    return {
        "period": result.period.code,
        "hall": result.hall,
        "from": result.period.first_day.isoformat(),
        "to": result.period.last_day.isoformat(),
        "as_of": result.as_of.isoformat(timespec="seconds"),
        "rules": {"name": result.rules.name, "sha256": result.rules.sha256},
        "warnings": list(result.warnings),
        "individuals": individuals,
        "windows": windows,
    }
