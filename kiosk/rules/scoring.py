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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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
from kiosk.rules.seating import Assignment, roster_and_home

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
    The scorer goes through each kind of row once, in order, so any iterable will do
    (a list, or rows read from the database as they are iterated).
    """

    hall: Hall
    period: Period
    as_of: datetime
    staff: tuple[Staff, ...]
    windows: tuple[Window, ...]
    punches: Iterable[Punch] = ()
    absences: Iterable[Absence] = ()
    ratings: Iterable[Rating] = ()
    cases: Iterable[Case] = ()
    events: Iterable[Event] = ()


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
    def key(self) -> RankingKey:
        """Ranking key: rounded total, rounded S*, w, attendance points (all descending)."""
        return ranking_key(self.total, self.ratings.adjusted, self.cases.weighted, self.attendance)


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
    def key(self) -> RankingKey:
        """Ranking key: rounded total, rounded mean S*, sum of w, mean attendance points."""
        return ranking_key(self.total, self.adjusted, self.weighted, self.attendance)


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


RankingKey = tuple[Decimal, Decimal, Fraction, Fraction]
"""Compared descending: rounded total, rounded S*, w, attendance points (SPEC 5.6)."""


def ranking_key(
    total: Fraction, adjusted: Fraction, weighted: Fraction, attendance: Fraction
) -> RankingKey:
    """The one ranking key of people and windows (SPEC 5.6): higher ranks first.

    The total and S* compare as reported (rounded half up to 2 decimals); ties go to the
    larger weighted case count w, then to the attendance points.
    """
    return (round_half_up(total), round_half_up(adjusted), weighted, attendance)


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


# --------------------------------------------------------------------------- phase 1: inputs


@dataclass(frozen=True, slots=True)
class PeriodFrame:
    """The period as the scorer sees it at ``as_of``: bounds, closed workdays, day plans."""

    as_of: datetime
    """Aware, in the hall's zone."""
    as_of_local: datetime
    start: datetime
    stop: datetime
    """Local midnight after the period's last day."""
    plans: Mapping[date, DayPlan | None]
    days: tuple[date, ...]
    """The period's workdays closed at ``as_of`` (SPEC 5.1): the only ones that count."""
    unscheduled: int
    """Workdays no schedule applies to."""
    uncovered_years: frozenset[int]


@dataclass(frozen=True, slots=True)
class PersonInputs:
    """One scored person's rows of the period, grouped and tallied (the scorer's input)."""

    staff: Staff
    window: str
    handles_cases: bool
    roster_days: tuple[date, ...]
    punches: tuple[datetime, ...]
    """Kept punches, sorted."""
    excuses: tuple[Excuse, ...]
    valid: int
    bad: int
    value_sum: Fraction
    excluded: tuple[tuple[str, str], ...]
    bad_reviews: tuple[BadReviewCheck, ...]
    cases: CaseSummary
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class PeriodInputs:
    """Everyone's inputs, plus the hall-wide figures the parts need (C and W)."""

    frame: PeriodFrame
    people: tuple[PersonInputs, ...]
    hall_mean: Fraction | None
    max_weighted: Fraction
    warnings: tuple[str, ...]


def period_frame(data: PeriodData) -> PeriodFrame:
    """Calendar work done once per period, shared by everyone (SPEC 5.1).

    Only closed workdays count: today until its PM_OUT range ends, and every later day,
    are left out. Raises :class:`AsOfBeforePeriod` when ``as_of`` precedes the period.
    """
    hall, period = data.hall, data.period
    zone = ZoneInfo(hall.timezone)
    as_of_local = _local_naive(data.as_of, zone)
    as_of = (data.as_of if data.as_of.tzinfo else data.as_of.replace(tzinfo=zone)).astimezone(zone)
    start = datetime.combine(period.first_day, time())
    stop = datetime.combine(period.last_day + timedelta(days=1), time())
    if as_of_local < start:
        raise AsOfBeforePeriod(
            f"as_of {as_of.isoformat(timespec='seconds')} 早于考评期 {period.code} 的第一天"
            f" {period.first_day.isoformat()}，无法计分"
        )
    plans: dict[date, DayPlan | None] = {}
    unscheduled = 0
    days: list[date] = []
    for day in workdays(period.first_day, period.last_day, hall.calendar):
        schedule = schedule_for(day, hall.calendar.schedules)
        plans[day] = plan = day_plan(day, schedule) if schedule is not None else None
        unscheduled += schedule is None
        if day_closes(day, plan) <= as_of_local:
            days.append(day)
    return PeriodFrame(
        as_of=as_of,
        as_of_local=as_of_local,
        start=start,
        stop=stop,
        plans=plans,
        days=tuple(days),
        unscheduled=unscheduled,
        uncovered_years=frozenset(uncovered_years(period.first_day, period.last_day)),
    )


class _Draft:
    """Mutable per-person accumulator of :func:`gather_inputs`, frozen into :class:`PersonInputs`."""

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

    def frozen(self, default_weight: Fraction) -> PersonInputs:
        """The tallies as a :class:`PersonInputs`, weights summed exactly."""
        weighted = (
            self.weighted
            + self.default_weighted * default_weight
            + self.int_weight
            + Fraction(self.decimal_weight)
        )
        self.punches.sort()
        return PersonInputs(
            staff=self.staff,
            window=self.window,
            handles_cases=self.handles_cases,
            roster_days=tuple(self.roster_days),
            punches=tuple(self.punches),
            excuses=tuple(self.excuses),
            valid=self.valid,
            bad=self.bad,
            value_sum=Fraction(self.value_sum),
            excluded=tuple(self.excluded),
            bad_reviews=tuple(self.bad_reviews),
            cases=CaseSummary(self.completed, weighted, self.on_time, tuple(self.overdue)),
            events=tuple(self.events),
        )


def _seat_staff(data: PeriodData, frame: PeriodFrame, warnings: list[str]) -> dict[str, _Draft]:
    """A draft per person with a home window over the period's closed workdays."""
    windows = {w.code: w for w in data.windows}
    drafts: dict[str, _Draft] = {}
    for person in data.staff:
        roster_days, home = roster_and_home(person.assignments, frame.days)
        if home is None:
            continue
        window = windows.get(home)
        if window is None:
            warnings.append(f"{person.staff_no} 的窗口 {home} 不在本中心的窗口表中，按办件窗口计分")
        drafts[person.staff_no] = _Draft(
            person, home, window.handles_cases if window else True, roster_days
        )
    return drafts


def _tally_ratings(
    data: PeriodData, frame: PeriodFrame, rules: RuleSet, drafts: Mapping[str, _Draft]
) -> tuple[Fraction | None, set[int]]:
    """Valid ratings per person and the hall mean C; returns C and uncovered deadline years."""
    start, stop, as_of_local = frame.start, frame.stop, frame.as_of_local
    calendar = data.hall.calendar
    # Integral level values as ints: summing 200,000 ints is far cheaper than fractions.
    levels = {k: v.numerator if v.denominator == 1 else v for k, v in rules.level_map().items()}
    bad_levels = rules.bad_levels
    hall_count = 0
    hall_sum: int | Fraction = 0
    deadlines: dict[date, datetime] = {}
    uncovered: set[int] = set()
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
                        rated_day, calendar, rules.rectification_workdays
                    )
                    deadlines[rated_day] = deadline
                    uncovered.update(
                        y
                        for y in range(rated_day.year, deadline.year + 1)
                        if not is_covered_year(y)
                    )
                draft.bad_reviews.append(bad_review_check(rating, deadline, as_of_local))
    hall_mean = Fraction(hall_sum, hall_count) if hall_count else None
    return hall_mean, uncovered


def bad_review_check(rating: Rating, deadline: datetime, as_of_local: datetime) -> BadReviewCheck:
    """How an upheld bad review's rectification went against its deadline (SPEC 5.4)."""
    rectified = rating.rectified_at
    if rectified is not None:
        status = "on_time" if rectified <= deadline else "late"
    else:
        status = "overdue" if deadline < as_of_local else "pending"
    return BadReviewCheck(
        rating.rating_id, rating.rated_at, rating.level, deadline, rectified, status
    )


def _tally_cases(data: PeriodData, frame: PeriodFrame, drafts: Mapping[str, _Draft]) -> None:
    """Cases by completion date in the period, up to ``as_of``."""
    start, stop, as_of_local = frame.start, frame.stop, frame.as_of_local
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


def gather_inputs(data: PeriodData, rules: RuleSet) -> PeriodInputs:
    """Phase 1: the period's frame and every scored person's rows, grouped once."""
    frame = period_frame(data)
    warnings: list[str] = []
    if frame.unscheduled:
        warnings.append(
            f"本期有 {frame.unscheduled} 个工作日没有适用的作息时间，这些天不计考勤（无打卡时段）"
        )
    drafts = _seat_staff(data, frame, warnings)
    start, stop, as_of_local = frame.start, frame.stop, frame.as_of_local
    for punch in data.punches:
        draft = drafts.get(punch.staff_no)
        if draft is not None:
            draft.punches.append(punch.at)
    for absence in data.absences:
        draft = drafts.get(absence.staff_no)
        if draft is not None and absence.start < stop and absence.end >= start:
            draft.excuses.append(Excuse(absence.kind, absence.start, absence.end))
    hall_mean, deadline_years = _tally_ratings(data, frame, rules, drafts)
    _tally_cases(data, frame, drafts)
    for event in data.events:
        draft = drafts.get(event.staff_no)
        if draft is not None and start <= event.at < stop and event.at <= as_of_local:
            draft.events.append(event)

    people = tuple(d.frozen(rules.default_case_weight) for d in drafts.values())
    max_weighted = max((p.cases.weighted for p in people), default=_ZERO)
    if max_weighted == 0:
        warnings.append("本期没有找到办件数据：办件量得分按满分计")
    for year in sorted(frame.uncovered_years | deadline_years):
        warnings.append(
            f"{year} 年不在国务院节假日数据范围内，按周一至周五计算工作日；"
            "如有调休请在中心设置的 extra_workdays / closed_days 中修正"
        )
    return PeriodInputs(frame, people, hall_mean, max_weighted, tuple(warnings))


# --------------------------------------------------------------------------- phase 2: parts


def attendance_part(
    person: PersonInputs, frame: PeriodFrame, hall: Hall, rules: RuleSet
) -> AttendanceSummary:
    """Attendance over the person's roster workdays and its points (SPEC 5.3)."""
    kept, duplicates = debounce(person.punches, hall.debounce_seconds)
    grace = hall.grace_minutes
    long_limit = float(rules.long_defect_minutes)
    plans = frame.plans
    excuses = person.excuses
    records: list[DayRecord] = []
    late = early = missing = absent = on_duty = long_defects = 0
    for day in person.roster_days:
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
    points = rules.attendance_max - (
        short_defects * rules.short_defect_points
        + long_defects * rules.long_defect_points
        + missing * rules.missing_punch_points
        + absent * rules.absent_half_day_points
    )
    return AttendanceSummary(
        workdays=len(person.roster_days),
        on_duty_days=on_duty,
        late=late,
        early=early,
        missing=missing,
        absent_half_days=absent,
        long_defects=long_defects,
        points=max(points, _ZERO),
        days=tuple(records),
    )


def rating_summary(
    person: PersonInputs, hall_mean: Fraction | None, rules: RuleSet
) -> RatingSummary:
    """The person's ratings and the adjusted satisfaction S* (SPEC 5.3)."""
    n = person.valid
    if hall_mean is None:
        adjusted = rules.no_ratings_score
    else:
        m = rules.prior_weight
        adjusted = (person.value_sum + m * hall_mean) / (n + m)
    return RatingSummary(
        valid=n,
        bad=person.bad,
        value_sum=person.value_sum,
        mean=person.value_sum / n if n else None,
        adjusted=adjusted,
        excluded=person.excluded,
        bad_reviews=person.bad_reviews,
    )


def satisfaction_part(ratings: RatingSummary, rules: RuleSet) -> Fraction:
    """Satisfaction points: the maximum times S*/100."""
    return rules.satisfaction_max * ratings.adjusted / 100


def workload_part(
    cases: CaseSummary, handles_cases: bool, max_weighted: Fraction, rules: RuleSet
) -> Fraction | None:
    """Workload points, or None for a window without cases (SPEC 5.3)."""
    if not handles_cases:
        return None
    if max_weighted == 0:
        return rules.workload_max
    workload = rules.weighted_points * cases.weighted / max_weighted
    if cases.completed:
        workload += rules.on_time_points * Fraction(cases.on_time, cases.completed)
    return workload


def discipline_part(events: Iterable[Event], rules: RuleSet) -> Fraction:
    """The discipline maximum plus the negative event points, not below 0."""
    negative = sum((_fraction(e.points) for e in events if e.points < 0), _ZERO)
    return max(rules.discipline_max + negative, _ZERO)


def bonus_part(events: Iterable[Event], rules: RuleSet) -> Fraction:
    """The positive event points, at most the bonus maximum."""
    positive = sum((_fraction(e.points) for e in events if e.points > 0), _ZERO)
    return min(positive, rules.bonus_max)


def total_score(
    satisfaction: Fraction,
    attendance: Fraction,
    workload: Fraction | None,
    discipline: Fraction,
    bonus: Fraction,
    rules: RuleSet,
) -> Fraction:
    """The sum of the parts; without workload the others are rescaled (SPEC 5.3)."""
    if workload is None:
        return (satisfaction + attendance + discipline) * rules.no_workload_scale + bonus
    return satisfaction + attendance + workload + discipline + bonus


def individual_vetoes(
    attendance: AttendanceSummary, events: Iterable[Event], ratings: RatingSummary
) -> tuple[str, ...]:
    """The person's vetoes in SPEC 5.7 order."""
    vetoes = []
    if attendance.absent_half_days:
        vetoes.append("absence")
    if any(e.veto for e in events):
        vetoes.append("discipline")
    if any(check.vetoes for check in ratings.bad_reviews):
        vetoes.append("unrectified_bad_review")
    return tuple(vetoes)


def individual_reasons(
    vetoes: Sequence[str],
    ratings: RatingSummary,
    attendance: AttendanceSummary,
    total: Fraction,
    rules: RuleSet,
) -> tuple[str, ...]:
    """Why the person cannot be awarded (empty: eligible), in SPEC 5.7 order."""
    reasons = []
    if vetoes:
        reasons.append("veto")
    if ratings.valid < rules.individual_min_ratings:
        reasons.append("too_few_ratings")
    if attendance.on_duty_days < rules.individual_min_duty_ratio * attendance.workdays:
        reasons.append("too_few_duty_days")
    if round_half_up(total) < rules.individual_threshold:
        reasons.append("below_threshold")
    return tuple(reasons)


def score_person(
    person: PersonInputs, inputs: PeriodInputs, hall: Hall, rules: RuleSet
) -> IndividualScore:
    """Phase 2 for one person: every part, the vetoes and eligibility (unranked)."""
    attendance = attendance_part(person, inputs.frame, hall, rules)
    ratings = rating_summary(person, inputs.hall_mean, rules)
    satisfaction = satisfaction_part(ratings, rules)
    workload = workload_part(person.cases, person.handles_cases, inputs.max_weighted, rules)
    discipline = discipline_part(person.events, rules)
    bonus = bonus_part(person.events, rules)
    total = total_score(satisfaction, attendance.points, workload, discipline, bonus, rules)
    vetoes = individual_vetoes(attendance, person.events, ratings)
    reasons = individual_reasons(vetoes, ratings, attendance, total, rules)
    return IndividualScore(
        staff_no=person.staff.staff_no,
        name=person.staff.name,
        window=person.window,
        handles_cases=person.handles_cases,
        satisfaction=satisfaction,
        attendance=attendance.points,
        workload=workload,
        discipline=discipline,
        bonus=bonus,
        total=total,
        ratings=ratings,
        attendance_detail=attendance,
        cases=person.cases,
        events=person.events,
        vetoes=vetoes,
        eligible=not reasons,
        ineligible_reasons=reasons,
        rank=0,
        award=None,
    )


def score_window(window: Window, people: Sequence[IndividualScore], rules: RuleSet) -> WindowScore:
    """Phase 2 for a window with members: means over them, carried vetoes (unranked)."""
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
    return WindowScore(
        window=window.code,
        name=window.name,
        unit=window.unit,
        members=tuple(p.staff_no for p in people),
        total=total,
        adjusted=sum((p.ratings.adjusted for p in people), _ZERO) / count,
        weighted=sum((p.cases.weighted for p in people), _ZERO),
        attendance=sum((p.attendance for p in people), _ZERO) / count,
        valid_ratings=valid,
        vetoes=vetoes,
        eligible=not reasons,
        ineligible_reasons=tuple(reasons),
        rank=0,
        award=None,
    )


# --------------------------------------------------------------------------- phase 3: ranking


def rank_individuals(
    scored: Sequence[IndividualScore], rules: RuleSet
) -> tuple[tuple[IndividualScore, ...], int]:
    """Phase 3: individuals in rank order with rank and 先进个人 award; and the quota."""
    order, ranks, awarded, quota = _rank(
        [p.key for p in scored],
        [p.staff_no for p in scored],
        [p.eligible for p in scored],
        rules.individual_quota_divisor,
    )
    return (
        tuple(
            replace(scored[i], rank=ranks[i], award="advanced" if i in awarded else None)
            for i in order
        ),
        quota,
    )


def _score_windows(
    individuals: Iterable[IndividualScore], windows: Iterable[Window], rules: RuleSet
) -> tuple[tuple[WindowScore, ...], int]:
    """Phases 2 and 3 for windows: every window with members, ranked, 红旗窗口 awarded."""
    members: dict[str, list[IndividualScore]] = defaultdict(list)
    for person in individuals:
        members[person.window].append(person)
    scored = [
        score_window(window, sorted(members[window.code], key=lambda p: p.staff_no), rules)
        for window in windows
        if members.get(window.code)  # a window with no members is not scored
    ]
    order, ranks, awarded, quota = _rank(
        [w.key for w in scored],
        [w.window for w in scored],
        [w.eligible for w in scored],
        rules.window_quota_divisor,
    )
    return (
        tuple(
            replace(scored[i], rank=ranks[i], award="red_flag" if i in awarded else None)
            for i in order
        ),
        quota,
    )


# --------------------------------------------------------------------------- phase 4: result


def score_period(data: PeriodData, rules: RuleSet) -> ScoreResult:
    """Score one hall's period: every individual and every window with members (SPEC 5).

    The phases: :func:`gather_inputs`, the parts per person (:func:`score_person`), the
    ranking (:func:`rank_individuals`, windows after), and the result.
    """
    inputs = gather_inputs(data, rules)
    scored = [score_person(person, inputs, data.hall, rules) for person in inputs.people]
    individuals, individual_quota = rank_individuals(scored, rules)
    window_scores, window_quota = _score_windows(individuals, data.windows, rules)
    return ScoreResult(
        period=data.period,
        hall=data.hall.code,
        as_of=inputs.frame.as_of,
        rules=rules,
        warnings=inputs.warnings,
        individuals=individuals,
        windows=window_scores,
        hall_mean=inputs.hall_mean,
        max_weighted=inputs.max_weighted,
        individual_quota=individual_quota,
        window_quota=window_quota,
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
