"""kiosk.rules stays a pure domain package: no web framework, no database, no app modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parent.parent / "kiosk" / "rules"
FORBIDDEN_ROOTS = {"flask", "sqlalchemy", "werkzeug", "alembic", "psycopg", "psycopg2"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative imports stay inside kiosk.rules only if they do not climb out.
                package = path.relative_to(RULES.parent.parent).with_suffix("").parts[:-1]
                base = package[: len(package) - (node.level - 1)]
                names.append(".".join((*base, node.module or "")).rstrip("."))
            else:
                names.append(node.module or "")
    return names


def _offending(name: str) -> bool:
    root = name.split(".")[0]
    if root in FORBIDDEN_ROOTS or root.startswith("flask_"):
        return True
    return root == "kiosk" and not (name == "kiosk.rules" or name.startswith("kiosk.rules."))


RULE_FILES = sorted(RULES.rglob("*.py"))


def test_rules_package_has_modules() -> None:
    names = {p.name for p in RULE_FILES}
    assert {"calendar.py", "attendance.py", "scoring.py", "ruleset.py"} <= names


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rule_module_imports_nothing_impure(path: Path) -> None:
    bad = [name for name in _imports(path) if _offending(name)]
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    ("name", "offending"),
    [
        ("flask", True),
        ("flask_sqlalchemy", True),
        ("sqlalchemy.orm", True),
        ("kiosk.models", True),
        ("kiosk", True),
        ("kiosk.rules.calendar", False),
        ("chinese_calendar", False),
        ("kiosk_rules_elsewhere", False),
    ],
)
def test_checker_flags_what_it_should(name: str, offending: bool) -> None:
    assert _offending(name) is offending
