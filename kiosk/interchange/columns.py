"""The columns of each kind of interchange file (SPEC section 6), written once."""

from __future__ import annotations

KINDS = ("hall", "roster", "punches", "ratings", "cases", "absences", "events")

# (required columns, optional columns), in the order export writes them.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "roster": (("staff_no", "name", "window_code", "start_date"), ("end_date",)),
    "punches": (("staff_no", "punched_at"), ("source",)),
    "ratings": (
        ("rating_id", "rated_at", "staff_no", "level"),
        ("channel", "case_no", "reasons", "misuse", "review", "rectified_at"),
    ),
    "cases": (
        ("case_no", "staff_no", "accepted_at", "due_at"),
        ("matter", "completed_at", "weight"),
    ),
    "absences": (("staff_no", "kind", "start", "end"), ("note",)),
    "events": (("event_id", "staff_no", "at", "kind", "points"), ("category", "veto", "note")),
}
# The SPEC's column order (export writes exactly this header).
EXPORT_HEADER: dict[str, tuple[str, ...]] = {
    "roster": ("staff_no", "name", "window_code", "start_date", "end_date"),
    "punches": ("staff_no", "punched_at", "source"),
    "ratings": (
        "rating_id",
        "rated_at",
        "staff_no",
        "level",
        "channel",
        "case_no",
        "reasons",
        "misuse",
        "review",
        "rectified_at",
    ),
    "cases": ("case_no", "staff_no", "matter", "accepted_at", "due_at", "completed_at", "weight"),
    "absences": ("staff_no", "kind", "start", "end", "note"),
    "events": ("event_id", "staff_no", "at", "kind", "category", "points", "veto", "note"),
}
