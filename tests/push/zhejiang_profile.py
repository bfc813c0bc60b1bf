"""A second, tiny record profile, to prove the push's profile interface (SPEC 11).

Shaped after Zhejiang's practice of counting satisfaction the other way round (1 = very
satisfied ... 5 = very dissatisfied) under its own field names; not a claim about any
province's real format, only a profile that differs from ``national`` where it matters.
"""

from __future__ import annotations

from typing import Any

from kiosk.rules.push_profiles import RatingFacts, national


def record(facts: RatingFacts) -> dict[str, Any]:
    """The national record under other names, with the level reversed."""
    base = national(facts)
    return {
        "evalId": base["id"],
        "areaCode": base["areaCode"],
        "orgCode": base["deptCode"],
        "satisfaction": str(6 - facts.level),
        "evalTime": base["assessTime"],
        # The platform double keys its store by "id"; a real province would not need it.
        "id": base["id"],
    }
