"""Export of the interchange files in the SPEC's column order."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.interchange.columns import EXPORT_HEADER
from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import (
    Absence,
    Assignment,
    Case,
    Event,
    Hall,
    Punch,
    PunchVoid,
    Rating,
    Staff,
    Window,
)

# ------------------------------------------------------------------- exporting


def _fmt_instant(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return to_local(value, zone).isoformat() if value is not None else ""


_PROBE_SPAN = dt.timedelta(days=400)
_MARGIN = dt.timedelta(days=366)


def _instant_formatter(
    zone: zoneinfo.ZoneInfo, lo: dt.datetime, hi: dt.datetime
) -> Callable[[dt.datetime | None], str]:
    """``_fmt_instant`` for one export, fast when the zone's offset is fixed around it.

    A bundle writes half a million instants of one period; China has kept one UTC offset
    since 1991, so each instant moves by one addition instead of a zone look-up. The
    offset is probed daily a year either side of ``[lo, hi)`` (a daylight-saving regime
    lasts months, so it shows); an instant outside that span takes the zone look-up.
    """
    if hi - lo > _PROBE_SPAN:
        return lambda value: _fmt_instant(value, zone)
    first, last = lo - _MARGIN, hi + _MARGIN
    offsets = set()
    probe = first
    while probe <= last:
        offsets.add(probe.replace(tzinfo=dt.UTC).astimezone(zone).utcoffset())
        probe += dt.timedelta(hours=23)
    offset = offsets.pop() if len(offsets) == 1 else None
    if offset is None:
        return lambda value: _fmt_instant(value, zone)
    fixed = offset

    def fmt(value: dt.datetime | None) -> str:
        if value is None:
            return ""
        if first <= value <= last:
            return (value + fixed).isoformat()
        return _fmt_instant(value, zone)

    return fmt


def _fmt_number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _fmt_flag(value: bool) -> str:
    return "true" if value else "false"


def export_rows(
    session: Session,
    kind: str,
    hall: Hall,
    first: dt.date | None,
    last: dt.date | None,
    *,
    scoring: bool = False,
) -> Iterator[list[str]]:
    """Rows of an export, header first, for local dates ``first``..``last`` inclusive.

    With ``scoring`` the rows are those the scorer reads for ``first``..``last`` (a
    publication bundle): the whole roster (ratings of staff off the period's roster still
    count in C), cases by completion date, absences that overlap the dates.
    """
    zone = hall_zone(hall.timezone)
    lo, hi = local_day_bounds(first or dt.date(1900, 1, 1), last or dt.date(9998, 12, 30), zone)
    s = Staff.__table__
    fmt = _instant_formatter(zone, lo, hi)
    yield list(EXPORT_HEADER[kind])
    if kind == "roster":
        a, w = Assignment.__table__, Window.__table__
        stmt = (
            select(s.c.staff_no, s.c.name, w.c.code, a.c.start_date, a.c.end_date)
            .join(a, a.c.staff_id == s.c.id)
            .join(w, w.c.id == a.c.window_id)
            .where(s.c.hall_id == hall.id)
            .order_by(s.c.staff_no, a.c.start_date)
        )
        if last and not scoring:
            stmt = stmt.where(a.c.start_date <= last)
        if first and not scoring:
            stmt = stmt.where((a.c.end_date.is_(None)) | (a.c.end_date >= first))
        for staff_no, name, code, start, end in session.execute(stmt):
            yield [staff_no, name, code, start.isoformat(), end.isoformat() if end else ""]
    elif kind == "punches":
        p, v = Punch.__table__, PunchVoid.__table__
        stmt = (
            select(s.c.staff_no, p.c.punched_at, p.c.source)
            .join(p, p.c.staff_id == s.c.id)
            .outerjoin(v, v.c.punch_id == p.c.id)
            .where(
                s.c.hall_id == hall.id, v.c.id.is_(None), p.c.punched_at >= lo, p.c.punched_at < hi
            )
            .order_by(s.c.staff_no, p.c.punched_at)
        )
        for staff_no, at, source in session.execute(stmt):
            yield [staff_no, fmt(at), source]
    elif kind == "ratings":
        r = Rating.__table__
        stmt = (
            select(
                r.c.rating_id,
                r.c.rated_at,
                s.c.staff_no,
                r.c.level,
                r.c.channel,
                r.c.case_no,
                r.c.reasons,
                r.c.misuse,
                r.c.review,
                r.c.rectified_at,
            )
            .join(s, s.c.id == r.c.staff_id)
            .where(r.c.hall_id == hall.id, r.c.rated_at >= lo, r.c.rated_at < hi)
            .order_by(r.c.rated_at, r.c.rating_id)
        )
        for (
            rid,
            at,
            staff_no,
            level,
            channel,
            case_no,
            reasons,
            misuse,
            review,
            rect,
        ) in session.execute(stmt):
            yield [
                rid,
                fmt(at),
                staff_no,
                str(level),
                channel,
                case_no or "",
                reasons or "",
                _fmt_flag(misuse),
                review or "",
                fmt(rect),
            ]
    elif kind == "cases":
        c = Case.__table__
        when = c.c.completed_at if scoring else c.c.accepted_at
        stmt = (
            select(
                c.c.case_no,
                s.c.staff_no,
                c.c.matter,
                c.c.accepted_at,
                c.c.due_at,
                c.c.completed_at,
                c.c.weight,
            )
            .join(s, s.c.id == c.c.staff_id)
            .where(c.c.hall_id == hall.id, when >= lo, when < hi)
            .order_by(c.c.case_no)
        )
        for case_no, staff_no, matter, accepted, due, completed, weight in session.execute(stmt):
            yield [
                case_no,
                staff_no,
                matter or "",
                fmt(accepted),
                fmt(due),
                fmt(completed),
                _fmt_number(weight),
            ]
    elif kind == "absences":
        ab = Absence.__table__
        # An export takes the absences that start in the dates; the scorer every one
        # that overlaps them (a leave may begin before the period).
        since = ab.c.end >= lo if scoring else ab.c.start >= lo
        stmt = (
            select(s.c.staff_no, ab.c.kind, ab.c.start, ab.c.end, ab.c.note)
            .join(s, s.c.id == ab.c.staff_id)
            .where(
                s.c.hall_id == hall.id,
                since,
                ab.c.start < hi,
                # SPEC 6 has no column for a withdrawal: leaving withdrawn rows out makes
                # a re-import score exactly as this database does.
                ab.c.withdrawn_at.is_(None),
            )
            .order_by(s.c.staff_no, ab.c.start, ab.c.kind)
        )
        for staff_no, kind_, start, end, note in session.execute(stmt):
            yield [staff_no, kind_, fmt(start), fmt(end), note or ""]
    elif kind == "events":
        e = Event.__table__
        stmt = (
            select(
                e.c.event_id,
                s.c.staff_no,
                e.c.at,
                e.c.kind,
                e.c.category,
                e.c.points,
                e.c.veto,
                e.c.note,
            )
            .join(s, s.c.id == e.c.staff_id)
            .where(
                e.c.hall_id == hall.id,
                e.c.at >= lo,
                e.c.at < hi,
                e.c.withdrawn_at.is_(None),  # as for absences: SPEC 6 has no such column
            )
            .order_by(e.c.at, e.c.event_id)
        )
        for event_id, staff_no, at, kind_, category, points, veto, note in session.execute(stmt):
            yield [
                event_id,
                staff_no,
                fmt(at),
                kind_,
                category or "",
                _fmt_number(points),
                _fmt_flag(veto),
                note or "",
            ]
    else:
        raise ValueError(f'unknown export kind "{kind}"')


def write_csv(rows: Iterable[list[str]], out: io.TextIOBase | Any) -> int:
    """Write rows as CSV; return the number of data rows."""
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for row in rows:
        writer.writerow(row)
        count += 1
    return max(count, 0)
