"""What the service accepts from a file, a form or a query string: one place for the limits.

Text lengths come from the schema (the ``String(n)`` of the model's column), so a check and
the database can never disagree; the accepted range of dates is a named constant, so no
date that overflows when converted to UTC or to hall-local time (year 1, year 9999) ever
reaches the database or the rules.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Column

# Dates the service accepts anywhere (imports, forms, query strings). A hall's records
# start after 2000; 2099 leaves room and keeps every UTC / local conversion in range.
FIRST_YEAR = 2000
LAST_YEAR = 2099
EARLIEST_DAY = dt.date(FIRST_YEAR, 1, 1)
LATEST_DAY = dt.date(LAST_YEAR, 12, 31)
DAY_RANGE = f"{EARLIEST_DAY.isoformat()} to {LATEST_DAY.isoformat()}"

# Free text kept in an unlimited ``Text`` column (a note, a reason) is still bounded.
NOTE_MAX_CHARS = 2000

# C0 control characters other than tab, line feed and carriage return: NUL cannot be stored
# by PostgreSQL at all, and the others are never part of a name, code or note.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def max_length(column: Column[Any] | Any) -> int:
    """The length limit of a ``String(n)`` column (a table column or a mapped attribute)."""
    if not isinstance(column, Column):
        column = column.property.columns[0]
    length = getattr(column.type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"column {column.name} has no length limit")
    return length


def control_character(value: str) -> str | None:
    """``U+0000``-style name of the first control character in ``value``, or None."""
    found = CONTROL_CHARACTERS.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def day_in_range(day: dt.date) -> bool:
    """Whether ``day`` (or a datetime's day) lies in the accepted range."""
    return FIRST_YEAR <= day.year <= LAST_YEAR


def shown(value: str, limit: int = 40) -> str:
    """``value`` fit to be quoted in a message: control characters escaped, long ones cut."""
    text = CONTROL_CHARACTERS.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(value)} characters)"
