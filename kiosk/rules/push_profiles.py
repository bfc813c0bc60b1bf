"""Record profiles of the provincial push (SPEC 11): a rating's facts in, one JSON record out.

A profile is a pure function :data:`Profile` from :class:`RatingFacts` to the record (a
dict ready for JSON). ``national`` follows SPEC 11's table (GB/T 39046's data items); a
province with other field names or codes (Zhejiang's reversed satisfaction code, for one)
is one more such function, named by ``PUSH_PROFILE``, not a fork of the push.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# GB/T 39046 evaluation channels: 4 大厅评价器/平板, 3 二维码, 5 其他.
NATIONAL_CHANNELS = {"counter": "4", "qr": "3", "other": "5", "default": "5"}


@dataclass(frozen=True, slots=True)
class RatingFacts:
    """What the push knows of one rating; ``rated_at`` is aware (the hall's offset)."""

    rating_id: str
    area_code: str | None
    unit_code: str | None
    unit_org_code: str | None
    unit_name: str | None
    window_code: str | None
    staff_no: str
    staff_name: str
    matter: str | None
    case_no: str | None
    channel: str
    level: int
    reasons: tuple[str, ...]
    comment: str | None
    rated_at: dt.datetime

    @property
    def is_default(self) -> bool:
        """A default rating (SPEC 4.2), given by the hall when the citizen gave none."""
        return self.channel == "default"

    @property
    def dept_code(self) -> str | None:
        """The unit's 统一社会信用代码 when the hall file names one, else its code."""
        return self.unit_org_code or self.unit_code


Profile = Callable[[RatingFacts], dict[str, Any]]


def national(facts: RatingFacts) -> dict[str, Any]:
    """The record of SPEC 11's table (profile ``national``)."""
    return {
        "id": facts.rating_id,
        "areaCode": facts.area_code,
        "deptCode": facts.dept_code,
        "deptName": facts.unit_name,
        "windowCode": facts.window_code,
        "proManagerNo": facts.staff_no,
        "proManager": facts.staff_name,
        "taskCode": facts.matter if facts.case_no else None,
        "projectNo": facts.case_no,
        "channel": NATIONAL_CHANNELS[facts.channel],
        "apprate": facts.level,
        "reasons": list(facts.reasons) if facts.reasons else None,
        "comment": facts.comment or None,
        "assessTime": facts.rated_at.isoformat(timespec="seconds"),
        "isDefault": facts.is_default,
    }


PROFILES: dict[str, Profile] = {"national": national}
