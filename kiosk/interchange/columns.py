"""The columns of each kind of interchange file (SPEC section 6), written once.

The import's required and optional columns, the export's header and the demo's files
are all read from :data:`SPEC_COLUMNS`.
"""

from __future__ import annotations

from kiosk.rules.codes import ImportKind
from kiosk.rules.codes import values as code_values

KINDS = code_values(ImportKind)

# Each kind's columns as SPEC 6's table writes them: in the SPEC's order (export writes
# exactly this header), an optional column in [brackets].
SPEC_COLUMNS: dict[str, tuple[str, ...]] = {
    "roster": ("staff_no", "name", "window_code", "start_date", "[end_date]"),
    "punches": ("staff_no", "punched_at", "[source]"),
    "ratings": (
        "rating_id",
        "rated_at",
        "staff_no",
        "level",
        "[channel]",
        "[case_no]",
        "[reasons]",
        "[misuse]",
        "[review]",
        "[rectified_at]",
    ),
    "cases": (
        "case_no",
        "staff_no",
        "[matter]",
        "accepted_at",
        "due_at",
        "[completed_at]",
        "[weight]",
    ),
    "absences": ("staff_no", "kind", "start", "end", "[note]"),
    "events": ("event_id", "staff_no", "at", "kind", "[category]", "points", "[veto]", "[note]"),
}


def _optional(column: str) -> bool:
    return column.startswith("[")


# The header an export writes (and the demo's files carry), in the SPEC's order.
EXPORT_HEADER: dict[str, tuple[str, ...]] = {
    kind: tuple(column.strip("[]") for column in columns) for kind, columns in SPEC_COLUMNS.items()
}
# (required columns, optional columns) of an import, each in the SPEC's order.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    kind: (
        tuple(c for c in columns if not _optional(c)),
        tuple(c.strip("[]") for c in columns if _optional(c)),
    )
    for kind, columns in SPEC_COLUMNS.items()
}
