"""The public indicators page's data: per unit, for each published period.

Only published periods are shown, at their current revision, and the indicators are
computed from what that publication froze (its ``ratings.csv``, ``cases.csv``,
``hall.toml`` and ``rules.toml``, :mod:`kiosk.services.bundle`) with each person's
unit taken from the published result. So the public page never moves after publication
and always agrees with the notice, the display and the bundle anyone can re-check; a
correction shows only when a revision is published.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tomllib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall
from kiosk.rules.calendar import Period
from kiosk.rules.indicators import CaseFact, Indicators, RatingFact, unit_indicators
from kiosk.rules.ruleset import parse_rules
from kiosk.rules.settings import calendar_from_settings
from kiosk.services import bundle, publishing

__all__ = ["PeriodIndicators", "indicator_periods", "period_indicators"]


@dataclass(frozen=True, slots=True)
class PeriodIndicators:
    """A published period's indicators: one line per unit, then the hall's."""

    period: str
    revision: int
    as_of: dt.datetime
    """Naive hall-local."""
    published_at: dt.datetime
    """Naive hall-local."""
    units: tuple[tuple[str, str, Indicators], ...]
    """(unit code, unit name, indicators) in unit code order."""
    hall: Indicators
    rectification_workdays: int
    """The rule file's rectification deadline in workdays (for the formula in words)."""


def indicator_periods(session: Session, hall: Hall) -> list[str]:
    """The hall's published periods, newest first."""
    return [summary.period for summary in publishing.published_list(session, hall)]


def _instant(text: str, zone: Any) -> dt.datetime | None:
    """A frozen CSV time (naive hall-local, as the export writes it) or None if empty."""
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _ratings(data: bytes, zone: Any) -> list[RatingFact]:
    facts = []
    for row in _rows(data):
        rated_at = _instant(row["rated_at"], zone)
        assert rated_at is not None
        facts.append(
            RatingFact(
                staff_no=row["staff_no"],
                rated_at=rated_at,
                level=int(row["level"]),
                channel=row.get("channel") or "other",
                misuse=row.get("misuse") == "true",
                review=row.get("review") or None,
                rectified_at=_instant(row.get("rectified_at") or "", zone),
            )
        )
    return facts


def _cases(data: bytes, zone: Any) -> list[CaseFact]:
    facts = []
    for row in _rows(data):
        done = _instant(row.get("completed_at") or "", zone)
        due = _instant(row["due_at"], zone)
        if done is not None and due is not None:
            facts.append(CaseFact(row["staff_no"], due, done))
    return facts


def period_indicators(session: Session, hall: Hall, period: str) -> PeriodIndicators | None:
    """The indicators of a published period; None when it is not published.

    Raises :class:`kiosk.services.errors.BundleError` (``not_found``) for a publication
    made before inputs were frozen with it.
    """
    row = publishing.latest(session, hall, period)
    if row is None:
        return None
    result = publishing.frozen(row)
    files = bundle.frozen_files(session, row)
    zone = hall_zone(hall.timezone)
    hall_file = tomllib.loads(files["hall.toml"].decode("utf-8"))
    units = [(str(u["code"]), str(u["name"])) for u in hall_file.get("unit", [])]
    unit_of_window = {w["window"]: w["unit"] for w in result["windows"]}
    unit_of = {
        p["staff_no"]: unit_of_window[p["window"]]
        for p in result["individuals"]
        if p["window"] in unit_of_window
    }
    scored = Period.parse(row.period)
    start = dt.datetime.combine(scored.first_day, dt.time())
    stop = dt.datetime.combine(scored.last_day + dt.timedelta(days=1), dt.time())
    as_of = to_local(row.as_of, zone)
    rules = parse_rules(files["rules.toml"])
    lines = unit_indicators(
        _ratings(files["ratings.csv"], zone),
        _cases(files["cases.csv"], zone),
        unit_of,
        [code for code, _ in units],
        rules,
        calendar_from_settings(hall_file),
        start,
        stop,
        as_of,
    )
    names = dict(units)
    return PeriodIndicators(
        period=row.period,
        revision=row.revision,
        as_of=as_of,
        published_at=to_local(row.published_at, zone),
        units=tuple((line.unit, names[line.unit], line) for line in lines[:-1]),
        hall=lines[-1],
        rectification_workdays=rules.rectification_workdays,
    )
