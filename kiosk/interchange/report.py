"""What an import reports: the refusal with every problem, or the counts it changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.services.errors import Refused


class ImportFailed(Refused):
    """The file was refused; ``problems`` names every bad row by line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("import_failed", "\n".join(problems))
        self.problems = problems


@dataclass
class ImportReport:
    """What an import did."""

    kind: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.kind}: {self.rows} rows, {self.inserted} new, {self.updated} updated, "
            f"{self.unchanged} unchanged"
        )
