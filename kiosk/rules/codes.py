"""The fixed value sets of the service, in one place, as :class:`~enum.StrEnum` s.

Each member's value is the string stored in the database and written in the files of
SPEC 3; ``models.py`` builds its CHECK constraints from these, so the constraints and
the code cannot drift apart. A member compares equal to its string (``"qr" ==
Channel.QR``), so rows read back as plain strings need no conversion.
"""

from __future__ import annotations

from enum import StrEnum, unique

__all__ = [
    "AbsenceKind",
    "Channel",
    "EventKind",
    "ImportKind",
    "PunchSource",
    "Role",
    "Verdict",
    "values",
]


@unique
class Channel(StrEnum):
    """Where a rating came from (SPEC 4.2); a ``default`` rating never counts."""

    COUNTER = "counter"
    QR = "qr"
    OTHER = "other"
    DEFAULT = "default"


@unique
class PunchSource(StrEnum):
    """How a punch reached the service: a reader, a file import or an officer's correction."""

    DEVICE = "device"
    IMPORT = "import"
    CORRECTION = "correction"


@unique
class AbsenceKind(StrEnum):
    """Approved leave (请假) or an out-of-office registration (外出)."""

    LEAVE = "leave"
    OUT = "out"


@unique
class EventKind(StrEnum):
    """A spot check (抽查), a complaint (投诉) or a commendation (表扬)."""

    SPOT_CHECK = "spot_check"
    COMPLAINT = "complaint"
    COMMENDATION = "commendation"


@unique
class Verdict(StrEnum):
    """The duty officer's verdict on a bad review (SPEC 4.3)."""

    UPHELD = "upheld"
    UNFOUNDED = "unfounded"


@unique
class Role(StrEnum):
    """A back-office user's role."""

    ADMIN = "admin"
    LEADER = "leader"
    DUTY = "duty"
    UNIT = "unit"


@unique
class ImportKind(StrEnum):
    """The kinds of import file (SPEC 3), in the order the hall's data builds up."""

    HALL = "hall"
    ROSTER = "roster"
    PUNCHES = "punches"
    RATINGS = "ratings"
    CASES = "cases"
    ABSENCES = "absences"
    EVENTS = "events"


def values(codes: type[StrEnum]) -> tuple[str, ...]:
    """The plain string values of a code set, in declaration order."""
    return tuple(member.value for member in codes)
