"""The single reader of a hall's settings (SPEC 2): ``Hall.settings`` -> :class:`HallSettings`.

``Hall.settings`` is the JSON the hall file import stores (``grace_minutes``,
``debounce_seconds``, ``schedules``, ``closed_days``, ``extra_workdays``,
``rating_reasons``, ``callback_workdays``, ``appeal_workdays``,
``default_after_days``, ``notice``); a raw ``hall.toml`` mapping (``[[schedule]]``,
``[attendance]``, ``[ratings] reasons``) is read the same way. Every key goes through one
fallback rule, :func:`setting`: the top-level key, else the same key in its TOML table,
else the default of SPEC 2. A key present with the value ``None`` counts as absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kiosk.rules.alerts import AlertThresholds
from kiosk.rules.badreview import (
    DEFAULT_APPEAL_WORKDAYS,
    DEFAULT_CALLBACK_WORKDAYS,
    DEFAULT_DEFAULT_AFTER_DAYS,
    LoopTerms,
)
from kiosk.rules.calendar import HallCalendar, schedule_from_mapping

__all__ = [
    "DEFAULT_DEBOUNCE_SECONDS",
    "DEFAULT_GRACE_MINUTES",
    "DEFAULT_REASONS",
    "HallSettings",
    "alert_thresholds",
    "calendar_from_settings",
    "default_after_days",
    "hall_settings",
    "loop_terms",
    "rating_reasons",
    "setting",
]

DEFAULT_GRACE_MINUTES = 5.0
"""Minutes after a slot's start that still count as on time (SPEC 2)."""
DEFAULT_DEBOUNCE_SECONDS = 60.0
"""Punches closer together than this are one punch (SPEC 2)."""
DEFAULT_REASONS: tuple[str, ...] = (
    "态度不好",
    "效率低",
    "业务不熟",
    "推诿扯皮",
    "解释不清",
    "其他",
)
"""The bad-review reasons a hall file without ``[ratings] reasons`` offers (SPEC 2)."""

# Where a key lives in the hall file's TOML when it is not at the top level (its table
# and its name there): the stored JSON is flat, a raw hall.toml is not.
_TOML_PLACES: dict[str, tuple[str, str]] = {
    "grace_minutes": ("attendance", "grace_minutes"),
    "debounce_seconds": ("attendance", "debounce_seconds"),
    "closed_days": ("attendance", "closed_days"),
    "extra_workdays": ("attendance", "extra_workdays"),
    "rating_reasons": ("ratings", "reasons"),
    "callback_workdays": ("ratings", "callback_workdays"),
    "appeal_workdays": ("ratings", "appeal_workdays"),
    "default_after_days": ("ratings", "default_after_days"),
}
# The TOML spelling of a top-level key that has another name in the stored JSON.
_TOML_NAMES = {"schedules": "schedule"}


def setting(settings: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """The hall setting ``key``: top level, else its place in the TOML shape, else ``default``."""
    if not settings:
        return default
    value = settings.get(key)
    if value is None and key in _TOML_NAMES:
        value = settings.get(_TOML_NAMES[key])
    if value is None and key in _TOML_PLACES:
        table, name = _TOML_PLACES[key]
        inner = settings.get(table)
        if isinstance(inner, Mapping):
            value = inner.get(name)
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class HallSettings:
    """Everything the rules read from a hall's settings, parsed once."""

    calendar: HallCalendar
    grace_minutes: float
    debounce_seconds: float
    rating_reasons: tuple[str, ...]
    notice_number_prefix: str
    """The 发文字号 prefix of the 通报 (``[notice] number_prefix``), ``""`` when none."""
    callback_workdays: int = DEFAULT_CALLBACK_WORKDAYS
    """``[ratings] callback_workdays``: the first callback is due by then (SPEC 11)."""
    appeal_workdays: int = DEFAULT_APPEAL_WORKDAYS
    """``[ratings] appeal_workdays``: a unit's appeal window (SPEC 11)."""
    default_after_days: int = DEFAULT_DEFAULT_AFTER_DAYS
    """``[ratings] default_after_days``: natural days to a default rating, 0 = off (SPEC 4.2)."""


def _days(values: Iterable[str | date]) -> frozenset[date]:
    return frozenset(v if isinstance(v, date) else date.fromisoformat(v) for v in values)


def calendar_from_settings(settings: Mapping[str, Any] | None) -> HallCalendar:
    """The hall's :class:`HallCalendar`: schedules, closed days and extra workdays.

    Raises ``ValueError`` for a malformed schedule or date.
    """
    return HallCalendar(
        schedules=tuple(schedule_from_mapping(s) for s in setting(settings, "schedules", ())),
        closed_days=_days(setting(settings, "closed_days", ())),
        extra_workdays=_days(setting(settings, "extra_workdays", ())),
    )


def rating_reasons(settings: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The hall's bad-review reasons; an empty list means the default ones.

    Its own function because the rating POST (a hot path) needs only this one key.
    """
    reasons = setting(settings, "rating_reasons")
    return tuple(reasons) if reasons else DEFAULT_REASONS


def loop_terms(settings: Mapping[str, Any] | None, rectification_workdays: int) -> LoopTerms:
    """The hall's callback and appeal terms with the rule file's rectification term."""
    return LoopTerms(
        callback_workdays=int(setting(settings, "callback_workdays", DEFAULT_CALLBACK_WORKDAYS)),
        appeal_workdays=int(setting(settings, "appeal_workdays", DEFAULT_APPEAL_WORKDAYS)),
        rectification_workdays=rectification_workdays,
    )


def default_after_days(settings: Mapping[str, Any] | None) -> int:
    """``[ratings] default_after_days``: 0 (the default) means no default ratings."""
    return int(setting(settings, "default_after_days", DEFAULT_DEFAULT_AFTER_DAYS))


def hall_settings(settings: Mapping[str, Any] | None) -> HallSettings:
    """Read ``Hall.settings`` (or a raw hall.toml mapping) into :class:`HallSettings`."""
    notice = setting(settings, "notice", {})
    prefix = notice.get("number_prefix") if isinstance(notice, Mapping) else None
    return HallSettings(
        calendar=calendar_from_settings(settings),
        grace_minutes=float(setting(settings, "grace_minutes", DEFAULT_GRACE_MINUTES)),
        debounce_seconds=float(setting(settings, "debounce_seconds", DEFAULT_DEBOUNCE_SECONDS)),
        rating_reasons=rating_reasons(settings),
        notice_number_prefix=str(prefix or ""),
        callback_workdays=int(setting(settings, "callback_workdays", DEFAULT_CALLBACK_WORKDAYS)),
        appeal_workdays=int(setting(settings, "appeal_workdays", DEFAULT_APPEAL_WORKDAYS)),
        default_after_days=default_after_days(settings),
    )


def alert_thresholds(settings: Mapping[str, Any] | None) -> AlertThresholds:
    """The hall's alert thresholds (``[alerts]`` of hall.toml, SPEC 12); SPEC's defaults
    for every key that is absent."""
    table = setting(settings, "alerts", {})
    if not isinstance(table, Mapping):
        table = {}
    base = AlertThresholds()
    return AlertThresholds(
        burst_minutes=float(table.get("burst_minutes", base.burst_minutes)),
        burst_min_ratings=int(table.get("burst_min_ratings", base.burst_min_ratings)),
        burst_bad_share=float(table.get("burst_bad_share", base.burst_bad_share)),
        offline_minutes=float(table.get("offline_minutes", base.offline_minutes)),
        no_am_in_minutes=float(table.get("no_am_in_minutes", base.no_am_in_minutes)),
        due_workdays=int(table.get("due_workdays", base.due_workdays)),
    )
