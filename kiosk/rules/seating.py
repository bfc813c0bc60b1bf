"""Who sits where: the one "window on a day" rule (SPEC 5.2) and a person's home window.

An assignment holds from its ``start_date`` to its ``end_date`` (both inclusive; no end
means open). Where two assignments of a person cover a day, the one with the later
``start_date`` holds. The home window of a period is the window held on most of the
person's roster workdays, a tie going to the later assignment.

The functions take any objects with ``start_date``/``end_date`` (the rules' own
:class:`Assignment`, ORM rows, named tuples), so every layer applies the same rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

__all__ = ["Assignment", "Dated", "covers", "holding_on", "roster_and_home"]


class Dated(Protocol):
    """Anything dated like an assignment."""

    @property
    def start_date(self) -> date: ...

    @property
    def end_date(self) -> date | None: ...


D = TypeVar("D", bound=Dated)


@dataclass(frozen=True, slots=True)
class Assignment:
    """A staff member's assignment to a window; ``end_date`` None means open."""

    window: str
    start_date: date
    end_date: date | None = None

    def covers(self, day: date) -> bool:
        """Whether the assignment holds on ``day`` (both ends inclusive)."""
        return covers(self, day)


def covers(assignment: Dated, day: date) -> bool:
    """Whether ``assignment`` covers ``day`` (both ends inclusive, no end = open)."""
    end = assignment.end_date
    return assignment.start_date <= day and (end is None or day <= end)


def holding_on(assignments: Iterable[D], day: date) -> D | None:
    """The assignment holding on ``day``: of those covering it, the later ``start_date``."""
    best: D | None = None
    for assignment in assignments:
        if covers(assignment, day) and (best is None or assignment.start_date > best.start_date):
            best = assignment
    return best


def roster_and_home(
    assignments: Sequence[Assignment], days: Iterable[date]
) -> tuple[list[date], str | None]:
    """The days of ``days`` some assignment covers, and the home window over them."""
    latest_first = sorted(assignments, key=lambda a: a.start_date, reverse=True)
    roster_days: list[date] = []
    held: dict[str, tuple[int, date]] = {}  # window -> (days held, latest start)
    for day in days:
        for assignment in latest_first:  # the first covering one is the later start
            if covers(assignment, day):
                roster_days.append(day)
                count, latest = held.get(assignment.window, (0, assignment.start_date))
                held[assignment.window] = (count + 1, max(latest, assignment.start_date))
                break
    if not held:
        return roster_days, None
    home = max(held.items(), key=lambda item: item[1])[0]
    return roster_days, home
