"""Rating fraud signals for review (SPEC 12): pure, never a change of any score.

Four signals over a range of ratings and corrections, each listing what is behind it:

* ``quick_rating``: ratings given within ``quick_seconds`` (15) of the session's opening
  (a citizen rarely has been served by then), per staff member;
* ``same_phone``: at least ``same_phone_min`` (3) QR ratings of one person's sessions
  posted from one phone (the same address tag), per person and phone;
* ``terminal_address``: QR ratings posted from the address of the terminal that opened
  the session (the staff member's own pad scanning its own code), per staff member;
* ``many_corrections``: staff with unusually many attendance corrections: at least
  ``corrections_min`` (3) and more than the hall's mean plus two standard deviations
  (over every person considered, none included), with who made them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, pstdev

__all__ = [
    "SIGNAL_CODES",
    "CorrectionFact",
    "FraudSignal",
    "FraudThresholds",
    "RatingFact",
    "fraud_signals",
]

SIGNAL_CODES = ("quick_rating", "same_phone", "terminal_address", "many_corrections")


@dataclass(frozen=True, slots=True)
class FraudThresholds:
    """The signals' thresholds (SPEC 12's 15 seconds; the rest are the project's)."""

    quick_seconds: float = 15.0
    same_phone_min: int = 3
    corrections_min: int = 3
    corrections_sigmas: float = 2.0


@dataclass(frozen=True, slots=True)
class RatingFact:
    """A rating with what the signals look at; times naive local."""

    rating_id: str
    staff_no: str
    rated_at: datetime
    channel: str
    opened_at: datetime | None = None
    client_tag: str | None = None
    opened_from: str | None = None


@dataclass(frozen=True, slots=True)
class CorrectionFact:
    """One correction of a person's attendance (a punch added or voided) and its officer."""

    staff_no: str
    officer: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FraudSignal:
    """One signal for review: its code, whom it is about and what is behind it."""

    code: str
    staff_no: str
    ratings: tuple[str, ...] = ()
    """The rating ids behind it (in time order)."""
    phone: str | None = None
    """The address tag of a ``same_phone`` signal."""
    corrections: int = 0
    by_officer: tuple[tuple[str, int], ...] = ()
    """(officer, corrections) of a ``many_corrections`` signal, most first."""


def _by_staff(facts: Iterable[RatingFact]) -> dict[str, list[RatingFact]]:
    grouped: dict[str, list[RatingFact]] = defaultdict(list)
    for fact in facts:
        grouped[fact.staff_no].append(fact)
    return grouped


def _ids(facts: list[RatingFact]) -> tuple[str, ...]:
    return tuple(f.rating_id for f in sorted(facts, key=lambda f: (f.rated_at, f.rating_id)))


def fraud_signals(
    ratings: Iterable[RatingFact],
    corrections: Iterable[CorrectionFact],
    staff: Iterable[str],
    thresholds: FraudThresholds | None = None,
) -> list[FraudSignal]:
    """Every signal of the range, ordered by code (as :data:`SIGNAL_CODES`) then staff.

    ``staff`` are the people considered for ``many_corrections`` (those with none count
    in the mean and deviation as zeros).
    """
    thresholds = thresholds or FraudThresholds()
    facts = list(ratings)
    quick = timedelta(seconds=thresholds.quick_seconds)
    signals: list[FraudSignal] = []
    fast = [f for f in facts if f.opened_at is not None and f.rated_at - f.opened_at < quick]
    for staff_no, group in sorted(_by_staff(fast).items()):
        signals.append(FraudSignal("quick_rating", staff_no, _ids(group)))
    phones: dict[tuple[str, str], list[RatingFact]] = defaultdict(list)
    for f in facts:
        if f.channel == "qr" and f.client_tag:
            phones[(f.staff_no, f.client_tag)].append(f)
    for (staff_no, tag), group in sorted(phones.items()):
        if len(group) >= thresholds.same_phone_min:
            signals.append(FraudSignal("same_phone", staff_no, _ids(group), phone=tag))
    own = [
        f
        for f in facts
        if f.channel == "qr" and f.client_tag and f.opened_from and f.client_tag == f.opened_from
    ]
    for staff_no, group in sorted(_by_staff(own).items()):
        signals.append(FraudSignal("terminal_address", staff_no, _ids(group)))
    signals += _many_corrections(list(corrections), set(staff), thresholds)
    order = {code: i for i, code in enumerate(SIGNAL_CODES)}
    return sorted(signals, key=lambda s: (order[s.code], s.staff_no, s.phone or ""))


def _many_corrections(
    corrections: list[CorrectionFact], staff: set[str], thresholds: FraudThresholds
) -> list[FraudSignal]:
    counts = Counter(c.staff_no for c in corrections)
    people = staff | set(counts)
    if not people:
        return []
    values = [counts.get(p, 0) for p in people]
    bar = mean(values) + thresholds.corrections_sigmas * pstdev(values)
    found = []
    for staff_no in sorted(people):
        n = counts.get(staff_no, 0)
        if n >= thresholds.corrections_min and n > bar:
            officers = Counter(c.officer for c in corrections if c.staff_no == staff_no)
            ranked = tuple(sorted(officers.items(), key=lambda kv: (-kv[1], kv[0])))
            found.append(
                FraudSignal("many_corrections", staff_no, corrections=n, by_officer=ranked)
            )
    return found
