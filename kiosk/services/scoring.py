"""Scoring a hall's period from the database (SPEC 5).

:func:`load_period_data` reads one hall's period with a handful of set-based SQLAlchemy
Core selects (no per-row queries, no ORM objects), converts the stored naive-UTC
instants to hall-local time and builds the rules' input rows; :func:`score_hall_period`
then calls the pure scorer in :mod:`kiosk.rules.scoring`. No query runs inside the
scoring arithmetic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, String, and_, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kiosk.localtime import hall_zone, local_day_bounds
from kiosk.models import Absence as AbsenceRow
from kiosk.models import Assignment as AssignmentRow
from kiosk.models import Case as CaseRow
from kiosk.models import Event as EventRow
from kiosk.models import Hall as HallRow
from kiosk.models import Punch as PunchRow
from kiosk.models import PunchVoid, Unit
from kiosk.models import Rating as RatingRow
from kiosk.models import Staff as StaffRow
from kiosk.models import Window as WindowRow
from kiosk.rules.calendar import Period
from kiosk.rules.ruleset import RuleSet
from kiosk.rules.scoring import (
    Absence,
    Assignment,
    Case,
    Event,
    Hall,
    PeriodData,
    Punch,
    Rating,
    ScoreResult,
    Staff,
    Window,
    score_period,
)
from kiosk.rules.settings import hall_settings
from kiosk.services.halls import resolve_hall
from kiosk.services.rulefile import rules_for, rules_in_force

__all__ = ["load_period_data", "rules_for", "score_hall_period"]

# Punches and absences are read one day beyond the period on each side: debounce and
# slot ranges look at neighbouring instants, and a leave may start before the period.
_MARGIN = dt.timedelta(days=1)
_FETCH_ROWS = 20_000
_T = TypeVar("_T")

_halls = HallRow.__table__
_punches = PunchRow.__table__
_voids = PunchVoid.__table__
_staff = StaffRow.__table__
_assignments = AssignmentRow.__table__
_windows = WindowRow.__table__
_units = Unit.__table__
_absences = AbsenceRow.__table__
_ratings = RatingRow.__table__
_cases = CaseRow.__table__
_events = EventRow.__table__


def _fixed_offset(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> dt.timedelta | None:
    """The zone's UTC offset if it is the same at every hour of ``[start, end]``, else None.

    China has had no daylight saving since 1991, so for a hall there conversion of
    500,000 stored instants is one addition each instead of a trip through the zone.
    """
    probe = start.replace(minute=0, second=0, microsecond=0)
    offsets: set[dt.timedelta | None] = set()
    while probe <= end + dt.timedelta(hours=1):
        offsets.add(probe.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset())
        probe += dt.timedelta(hours=1)
    return next(iter(offsets)) if len(offsets) == 1 else None


class _Instants:
    """Reads stored naive-UTC DateTime columns as naive hall-local ``datetime``, fast.

    SQLite stores DateTime as ISO text and SQLAlchemy's per-row processor for it is
    comparatively slow, so the text is selected and parsed with ``fromisoformat`` (C);
    PostgreSQL drivers return ``datetime`` already. Parsing and zone conversion are
    fused into one function per load, called once per value.
    """

    def __init__(
        self, connection: Connection, zone: ZoneInfo, start: dt.datetime, end: dt.datetime
    ):
        self.sqlite = connection.dialect.name == "sqlite"
        offset = _fixed_offset(zone, start, end)
        parse = dt.datetime.fromisoformat
        self.to_local: Callable[[Any], dt.datetime]
        if offset is not None and self.sqlite:
            self.to_local = lambda value: parse(value) + offset
        elif offset is not None:
            self.to_local = lambda value: value + offset
        else:

            def convert(value: Any) -> dt.datetime:
                if self.sqlite:
                    value = parse(value)
                return value.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None)

            self.to_local = convert

    def column(self, column: Any) -> ColumnElement[Any]:
        """The column as selected: text on SQLite, native elsewhere."""
        return type_coerce(column, String) if self.sqlite else column


def _stream(connection: Connection, statement: Select[Any]) -> Iterator[tuple[Any, ...]]:
    """Plain tuples of a large select, read in batches straight from the DBAPI cursor.

    Building a SQLAlchemy ``Row`` per row costs about three times the driver's own
    fetch for 500,000 punches. Skipping it also skips result processing, so the large
    selects here only take columns that need none on SQLite or PostgreSQL: integers,
    text (SQLite datetimes are selected as text, see :class:`_Instants`), floats,
    driver-native datetimes, and booleans, which are passed through ``bool()``.
    """
    result = connection.execute(statement)
    cursor = result.cursor
    try:
        while batch := cursor.fetchmany(_FETCH_ROWS):
            yield from batch
    finally:
        result.close()


class _Reread(Generic[_T]):
    """Rows of a select, read from the database each time they are iterated, held nowhere."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Iterator[_T]]) -> None:
        self._read = read

    def __iter__(self) -> Iterator[_T]:
        return self._read()


def load_period_data(
    connection: Connection,
    hall_id: int,
    period: Period,
    as_of: dt.datetime,
    *,
    lazy: bool = False,
) -> PeriodData:
    """Read everything the scorer needs for one hall's period, set-based.

    ``lazy``: the punches, absences, ratings, cases and events are not lists but read
    from ``connection`` (which must stay open) each time they are iterated, so the
    scorer, which goes through each once, never holds them all: for a 2,000-staff
    period about 100 MB less. The rows and their order are the same either way.
    """

    def rows(read: Callable[[], Iterator[_T]]) -> Iterable[_T]:
        return _Reread(read) if lazy else list(read())

    hall_row = connection.execute(
        select(_halls.c.code, _halls.c.name, _halls.c.timezone, _halls.c.settings).where(
            _halls.c.id == hall_id
        )
    ).one()
    zone = hall_zone(hall_row.timezone)
    settings = hall_settings(hall_row.settings)
    hall = Hall(
        code=hall_row.code,
        name=hall_row.name,
        timezone=hall_row.timezone,
        calendar=settings.calendar,
        grace_minutes=settings.grace_minutes,
        debounce_seconds=settings.debounce_seconds,
    )
    start_utc, stop_utc = local_day_bounds(period.first_day, period.last_day, zone)
    wide_start, wide_stop = start_utc - _MARGIN, stop_utc + _MARGIN
    instants = _Instants(connection, zone, wide_start, wide_stop)
    local = instants.to_local

    windows = tuple(
        Window(code, name, unit, bool(handles))
        for code, name, unit, handles in connection.execute(
            select(_windows.c.code, _windows.c.name, _units.c.code, _windows.c.handles_cases)
            .join(_units, _units.c.id == _windows.c.unit_id)
            .where(_windows.c.hall_id == hall_id)
            .order_by(_windows.c.code)
        )
    )

    # Staff with an assignment touching the period; nobody else can be scored.
    numbers: dict[int, str] = {}
    names: dict[int, str] = {}
    assignments: dict[int, list[Assignment]] = {}
    for staff_id, staff_no, name, window, start_date, end_date in connection.execute(
        select(
            _staff.c.id,
            _staff.c.staff_no,
            _staff.c.name,
            _windows.c.code,
            _assignments.c.start_date,
            _assignments.c.end_date,
        )
        .join(_assignments, _assignments.c.staff_id == _staff.c.id)
        .join(_windows, _windows.c.id == _assignments.c.window_id)
        .where(
            _staff.c.hall_id == hall_id,
            _assignments.c.start_date <= period.last_day,
            or_(_assignments.c.end_date.is_(None), _assignments.c.end_date >= period.first_day),
        )
    ):
        numbers[staff_id] = staff_no
        names[staff_id] = name
        assignments.setdefault(staff_id, []).append(Assignment(window, start_date, end_date))
    staff = tuple(
        Staff(numbers[sid], names[sid], tuple(rows)) for sid, rows in sorted(assignments.items())
    )
    # Every staff number of the hall: ratings of people off the roster still count in C.
    all_numbers: dict[int, str] = {
        sid: no
        for sid, no in connection.execute(
            select(_staff.c.id, _staff.c.staff_no).where(_staff.c.hall_id == hall_id)
        )
    }

    hall_staff = select(_staff.c.id).where(_staff.c.hall_id == hall_id).scalar_subquery()
    punched_at = instants.column(_punches.c.punched_at)
    punch_select = (
        select(_punches.c.staff_id, punched_at)
        .outerjoin(_voids, _voids.c.punch_id == _punches.c.id)
        .where(
            _punches.c.staff_id.in_(hall_staff),
            _punches.c.punched_at >= wide_start,
            _punches.c.punched_at < wide_stop,
            _voids.c.id.is_(None),
        )
    )
    punches = rows(
        lambda: (
            Punch(numbers[sid], local(at))
            for sid, at in _stream(connection, punch_select)
            if sid in numbers
        )
    )

    absences = rows(
        lambda: (
            Absence(numbers[sid], kind, local(start), local(end))
            for sid, kind, start, end in _stream(
                connection,
                select(
                    _absences.c.staff_id,
                    _absences.c.kind,
                    instants.column(_absences.c.start),
                    instants.column(_absences.c.end),
                ).where(
                    _absences.c.staff_id.in_(hall_staff),
                    _absences.c.start < wide_stop,
                    _absences.c.end >= wide_start,
                    _absences.c.withdrawn_at.is_(None),  # a withdrawn excuse excuses nothing
                ),
            )
            if sid in numbers
        )
    )

    ratings = rows(
        lambda: (
            Rating(
                rating_id,
                all_numbers[sid],
                local(rated_at),
                level,
                bool(misuse),
                review,
                None if rectified is None else local(rectified),
                channel,
            )
            for rating_id, sid, rated_at, level, misuse, review, rectified, channel in _stream(
                connection,
                select(
                    _ratings.c.rating_id,
                    _ratings.c.staff_id,
                    instants.column(_ratings.c.rated_at),
                    _ratings.c.level,
                    _ratings.c.misuse,
                    _ratings.c.review,
                    instants.column(_ratings.c.rectified_at),
                    _ratings.c.channel,
                ).where(
                    _ratings.c.hall_id == hall_id,
                    _ratings.c.rated_at >= start_utc,
                    _ratings.c.rated_at < stop_utc,
                ),
            )
        )
    )

    cases = rows(
        lambda: (
            Case(case_no, numbers[sid], local(due), local(done), weight)
            for case_no, sid, due, done, weight in _stream(
                connection,
                select(
                    _cases.c.case_no,
                    _cases.c.staff_id,
                    instants.column(_cases.c.due_at),
                    instants.column(_cases.c.completed_at),
                    _cases.c.weight,
                ).where(
                    _cases.c.hall_id == hall_id,
                    and_(_cases.c.completed_at >= start_utc, _cases.c.completed_at < stop_utc),
                ),
            )
            if sid in numbers
        )
    )

    events = rows(
        lambda: (
            Event(event_id, numbers[sid], local(at), kind, points, bool(veto), category, note)
            for event_id, sid, at, kind, points, veto, category, note in _stream(
                connection,
                select(
                    _events.c.event_id,
                    _events.c.staff_id,
                    instants.column(_events.c.at),
                    _events.c.kind,
                    _events.c.points,
                    _events.c.veto,
                    _events.c.category,
                    _events.c.note,
                ).where(
                    _events.c.hall_id == hall_id,
                    _events.c.at >= start_utc,
                    _events.c.at < stop_utc,
                    _events.c.withdrawn_at.is_(None),  # a withdrawn event neither scores nor vetoes
                ),
            )
            if sid in numbers
        )
    )

    return PeriodData(
        hall=hall,
        period=period,
        as_of=as_of,
        staff=staff,
        windows=windows,
        punches=punches,
        absences=absences,
        ratings=ratings,
        cases=cases,
        events=events,
    )


def score_hall_period(
    session: Session,
    period: str | Period,
    as_of: dt.datetime | None = None,
    hall_code: str | None = None,
    rules: RuleSet | None = None,
) -> ScoreResult:
    """Score a hall's period: the service entry point for the CLI, admin pages and notices.

    ``rules`` defaults to the rule file in force; ``as_of`` defaults to now; a naive ``as_of`` is read as hall-local time. ``hall_code``
    may be omitted when the database holds one hall. Raises
    :class:`kiosk.services.halls.HallNotFound` for an unknown hall and ``ValueError`` for a
    malformed period.
    """
    if isinstance(period, str):
        period = Period.parse(period)
    hall = resolve_hall(session, hall_code)
    zone = hall_zone(hall.timezone)
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).astimezone(zone)
    elif as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=zone)
    data = load_period_data(session.connection(), hall.id, period, as_of)
    return score_period(data, rules or rules_in_force())
