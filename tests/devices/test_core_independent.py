"""The reader core (``devices/``) imports nothing of the service (issue 10).

The listener, the emulator and the protocol run without Flask or a database: whatever
stores presses is handed in (``devices.listener.Sink``) by the command that wires them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = sorted(p for p in (ROOT / "devices").glob("*.py"))
FORBIDDEN = ("kiosk", "admin", "flask", "flask_babel", "sqlalchemy")


def imported(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth of the code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_no_core_module_imports_the_service(path: Path) -> None:
    assert not imported(path) & set(FORBIDDEN), path.name


def test_importing_the_core_loads_no_service_module() -> None:
    modules = ", ".join(f"devices.{p.stem}" for p in CORE if p.stem != "__init__")
    code = (
        f"import sys, importlib\n"
        f"for name in {modules!r}.split(', '): importlib.import_module(name)\n"
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "devices" in out
    assert not set(out) & set(FORBIDDEN), out
