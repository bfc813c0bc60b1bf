"""mypy passes on the pure rules and the services ([tool.mypy] in pyproject.toml says how)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    # The cache (.mypy_cache, ignored by git) keeps a second run to a second or two.
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_rules_and_services_type_check() -> None:
    result = _mypy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_configuration_refuses_an_untyped_function(tmp_path: Path) -> None:
    # The check can fail: the project's settings refuse a function without annotations.
    module = tmp_path / "untyped.py"
    module.write_text("def twice(x):\n    return 2 * x\n", encoding="utf-8")
    result = _mypy(str(module))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[no-untyped-def]" in result.stdout
