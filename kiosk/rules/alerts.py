"""The duty officer's alerts (SPEC 12): which are open at an instant, from the data alone.

Pure functions over frozen dataclasses, in naive hall-local datetimes (the service
converts stored instants). An alert is identified by ``(code, subject, since)``: the
subject is the window, device, rating or case it is about (``""`` for the hall-wide
``no_am_in``), and ``since`` the instant it opened, which is a function of the data
alone, so that the same data give the same alert at every later instant and an
acknowledgement (kept under that identity) keeps holding.

When each code is open at ``now`` (defaults of SPEC 12; :class:`AlertThresholds`):

* ``bad_burst``: at some instant ``t`` of ``now``'s day up to ``now``, the window had at
  least ``burst_min_ratings`` valid ratings in ``[t - burst_minutes, t]`` of which at least
  ``burst_bad_share`` are bad. ``since`` is the first instant of such an episode; the
  alert stays open until the end of that day (or an acknowledgement), so an officer who
  was away for twenty minutes still sees it.
* ``reader_offline``: a reader (not retired) last seen ``offline_minutes`` or more before
  ``now``, ``now`` inside working hours (``[A0, P1]`` of a workday).
  ``since`` = last seen + the threshold, but not before that day's A0.
* ``no_am_in``: from ``A0 + no_am_in_minutes`` to ``P1`` of a workday, the rostered staff
  with no AM_IN punch up to ``now`` and whose AM_IN is not excused; one alert listing them.
* ``callback_due``, ``rectify_due``, ``case_due``: an item not done whose due instant is
  at most ``due_workdays`` workdays ahead, or past (see :func:`warning_starts`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from kiosk.rules.attendance import Excuse, day_plan
from kiosk.rules.calendar import HallCalendar, is_workday, schedule_for

__all__ = [
    "ALERT_CODES",
    "Alert",
    "AlertThresholds",
    "DeviceSeen",
    "DueItem",
    "RatingPoint",
    "RosterPerson",
    "SeenSpan",
    "bad_bursts",
    "due_alerts",
    "missing_am_in",
    "open_alerts",
    "readers_offline",
    "seen_at",
    "warning_starts",
]

ALERT_CODES = ("bad_burst", "reader_offline", "no_am_in", "callback_due", "rectify_due", "case_due")
"""Every alert code of SPEC 12, in the order the list shows them."""


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """A hall's thresholds (``[alerts]`` of hall.toml); the defaults are SPEC 12's."""

    burst_minutes: float = 15.0
    burst_min_ratings: int = 4
    burst_bad_share: float = 0.5
    offline_minutes: float = 5.0
    no_am_in_minutes: float = 30.0
    due_workdays: int = 1


@dataclass(frozen=True, slots=True)
class Alert:
    """One open alert. ``staff`` lists the people of a ``no_am_in`` alert."""

    code: str
    since: datetime
    subject: str = ""
    window: str | None = None
    staff_no: str | None = None
    device: str | None = None
    rating_id: str | None = None
    case_no: str | None = None
    staff: tuple[str, ...] = ()
    due: datetime | None = None
    """The due instant of a ``*_due`` alert (past when overdue)."""

    @property
    def key(self) -> tuple[str, str, datetime]:
        """The alert's identity, under which an acknowledgement is kept."""
        return (self.code, self.subject, self.since)


# --------------------------------------------------------------------------- bad_burst


@dataclass(frozen=True, slots=True)
class RatingPoint:
    """A rating of a window: when, whether it is valid for scoring (4.3) and bad (4.1)."""

    window: str
    rated_at: datetime
    valid: bool
    bad: bool


class _Counts:
    """Valid and bad ratings of one window in any closed interval, by bisection."""

    def __init__(self, times: list[tuple[datetime, bool]]) -> None:
        self.instants = [when for when, _ in times]
        self.bad = [0]
        for _, bad in times:
            self.bad.append(self.bad[-1] + int(bad))

    def bursting(self, at: datetime, span: timedelta, least: int, share: float) -> bool:
        lo = bisect_left(self.instants, at - span)
        hi = bisect_right(self.instants, at)
        count = hi - lo
        return count >= least and self.bad[hi] - self.bad[lo] >= share * count


def bad_bursts(
    ratings: Iterable[RatingPoint], now: datetime, thresholds: AlertThresholds
) -> list[Alert]:
    """``bad_burst`` alerts open at ``now``: episodes of ``now``'s day up to ``now``."""
    span = timedelta(minutes=thresholds.burst_minutes)
    day_start = datetime.combine(now.date(), time())
    by_window: dict[str, list[tuple[datetime, bool]]] = {}
    for r in ratings:
        if r.valid and day_start - span <= r.rated_at <= now:
            by_window.setdefault(r.window, []).append((r.rated_at, r.bad))
    alerts: list[Alert] = []
    tick = timedelta(microseconds=1)
    for window, times in sorted(by_window.items()):
        times.sort()
        counts = _Counts(times)
        # The count in [t - span, t] changes only when a rating enters (at its instant) or
        # leaves (just after its instant + span): those are the only instants to look at.
        moments = sorted({w for w, _ in times} | {w + span + tick for w, _ in times})
        was = False
        for moment in moments:
            if moment > now:
                break
            now_bursting = moment >= day_start and counts.bursting(
                moment, span, thresholds.burst_min_ratings, thresholds.burst_bad_share
            )
            if now_bursting and not was:
                alerts.append(Alert("bad_burst", moment, subject=window, window=window))
            was = now_bursting
    return alerts


# --------------------------------------------------------------------------- reader_offline


@dataclass(frozen=True, slots=True)
class SeenSpan:
    """A stretch of time in which the listener kept seeing a reader (heartbeats < 1 min apart)."""

    first: datetime
    last: datetime


def seen_at(spans: Iterable[SeenSpan], now: datetime) -> datetime | None:
    """When the reader was last seen at or before ``now``; None when never."""
    best: datetime | None = None
    for span in spans:
        if span.first <= now:
            seen = min(span.last, now)
            best = seen if best is None or seen > best else best
    return best


@dataclass(frozen=True, slots=True)
class DeviceSeen:
    """A reader as the alert sees it: added when, retired when, last seen when (at ``now``)."""

    name: str
    added_at: datetime
    last_seen: datetime | None
    retired_at: datetime | None = None


def _working_hours(day: date, calendar: HallCalendar) -> tuple[datetime, datetime] | None:
    if not is_workday(day, calendar):
        return None
    schedule = schedule_for(day, calendar.schedules)
    if schedule is None:
        return None
    plan = day_plan(day, schedule)
    return plan.a0, plan.p1


def readers_offline(
    devices: Iterable[DeviceSeen],
    now: datetime,
    calendar: HallCalendar,
    thresholds: AlertThresholds,
) -> list[Alert]:
    """``reader_offline`` alerts open at ``now`` (working hours only)."""
    hours = _working_hours(now.date(), calendar)
    if hours is None or not hours[0] <= now <= hours[1]:
        return []
    limit = timedelta(minutes=thresholds.offline_minutes)
    alerts = []
    for device in sorted(devices, key=lambda d: d.name):
        if device.added_at > now or (device.retired_at is not None and device.retired_at <= now):
            continue
        seen = device.last_seen if device.last_seen is not None else device.added_at
        if now - seen >= limit:
            since = max(seen + limit, hours[0])
            alerts.append(Alert("reader_offline", since, subject=device.name, device=device.name))
    return alerts


# --------------------------------------------------------------------------- no_am_in


@dataclass(frozen=True, slots=True)
class RosterPerson:
    """A person on today's roster: their punches of the day (kept or not) and excuses."""

    staff_no: str
    punches: tuple[datetime, ...] = ()
    excuses: tuple[Excuse, ...] = ()


def missing_am_in(
    people: Iterable[RosterPerson],
    now: datetime,
    calendar: HallCalendar,
    thresholds: AlertThresholds,
) -> list[Alert]:
    """The one ``no_am_in`` alert of ``now``'s day, or none.

    Open from ``A0 + no_am_in_minutes`` (inclusive) to ``P1`` (inclusive) of a workday while
    someone on the roster has no punch in AM_IN's range (``[A0 − 120 min, am_mid)``) at or
    before ``now`` and no leave or out-of-office registration holding A0 (SPEC 3.3).
    """
    day = now.date()
    if not is_workday(day, calendar):
        return []
    schedule = schedule_for(day, calendar.schedules)
    if schedule is None:
        return []
    plan = day_plan(day, schedule)
    since = plan.a0 + timedelta(minutes=thresholds.no_am_in_minutes)
    if not since <= now <= plan.p1:
        return []
    missing = sorted(
        p.staff_no
        for p in people
        if not any(plan.opens <= at < plan.am_mid and at <= now for at in p.punches)
        and not any(e.start <= plan.a0 <= e.end for e in p.excuses)
    )
    if not missing:
        return []
    return [Alert("no_am_in", since, staff=tuple(missing))]


# --------------------------------------------------------------------------- *_due


@dataclass(frozen=True, slots=True)
class DueItem:
    """Something due at an instant: a callback or rectification of a rating, or a case.

    ``code`` is ``callback_due``, ``rectify_due`` or ``case_due``; ``done`` is True when it was
    done at or before the instant the alerts are computed for.
    """

    code: str
    subject: str
    due: datetime
    done: bool = False
    window: str | None = None
    staff_no: str | None = None
    rating_id: str | None = None
    case_no: str | None = None


def warning_starts(due: datetime, workdays_ahead: int, calendar: HallCalendar) -> datetime:
    """When "due within ``workdays_ahead`` workdays" begins for an item due at ``due``.

    The last day of the term is the day holding the instant just before ``due`` (a term
    ending at 24:00 ends on that day). Counting that day back to the ``workdays_ahead``-th
    hall workday on or before it, the warning opens at 00:00 of that workday. With the
    default of 1, a rectification due at the end of Friday warns from Friday 00:00, a case
    due at 10:00 on Monday from Monday 00:00, and one due on a Sunday from Friday 00:00.
    ``workdays_ahead = 0`` warns only once the item is overdue.
    """
    if workdays_ahead <= 0:
        return due
    day = (due - timedelta(microseconds=1)).date()
    counted = 0
    for _ in range(3660):  # ten years back at most: a malformed calendar must not hang
        if is_workday(day, calendar):
            counted += 1
            if counted == workdays_ahead:
                break
        day -= timedelta(days=1)
    return min(datetime.combine(day, time()), due)


def due_alerts(
    items: Iterable[DueItem],
    now: datetime,
    calendar: HallCalendar,
    thresholds: AlertThresholds,
) -> list[Alert]:
    """The ``*_due`` alerts open at ``now``: not done, and due soon or overdue."""
    alerts = []
    for item in items:
        if item.done:
            continue
        since = warning_starts(item.due, thresholds.due_workdays, calendar)
        if now >= since:
            alerts.append(
                Alert(
                    item.code,
                    since,
                    subject=item.subject,
                    window=item.window,
                    staff_no=item.staff_no,
                    rating_id=item.rating_id,
                    case_no=item.case_no,
                    due=item.due,
                )
            )
    return alerts


# --------------------------------------------------------------------------- all of them


def open_alerts(
    *,
    now: datetime,
    calendar: HallCalendar,
    thresholds: AlertThresholds,
    ratings: Iterable[RatingPoint] = (),
    devices: Iterable[DeviceSeen] = (),
    roster: Iterable[RosterPerson] = (),
    due: Iterable[DueItem] = (),
    acknowledged: Iterable[tuple[str, str, datetime]] = (),
) -> list[Alert]:
    """Every alert open at ``now``, less the acknowledged ones (by :attr:`Alert.key`).

    Ordered by code (as :data:`ALERT_CODES`), then since, then subject.
    """
    done = set(acknowledged)
    found = [
        *bad_bursts(ratings, now, thresholds),
        *readers_offline(devices, now, calendar, thresholds),
        *missing_am_in(roster, now, calendar, thresholds),
        *due_alerts(due, now, calendar, thresholds),
    ]
    order = {code: i for i, code in enumerate(ALERT_CODES)}
    return sorted(
        (a for a in found if a.key not in done),
        key=lambda a: (order[a.code], a.since, a.subject),
    )
