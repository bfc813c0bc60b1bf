"""The settings table: every key the code reads is listed once, and the README shows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from flask import Flask

from kiosk import create_app
from kiosk.config import SETTINGS, defaults, markdown_table

ROOT = Path(__file__).resolve().parents[1]
TABLE = re.compile(r"<!-- settings: [^>]*-->\n(.*?)<!-- /settings -->", re.S)
# Reading a key: config["X"], config.get("X" ...), config.setdefault("X" ...).
READ = re.compile(r"config(?:\[|\.get\(|\.setdefault\()\"([A-Z][A-Z0-9_]*)\"")
# Keys of Flask itself or set by tests that the service never reads through a default.
NOT_SETTINGS = {"TESTING"}


def _sources() -> list[Path]:
    """The service's code, without the settings module itself (its docstring shows ``config["KEY"]``)."""
    paths = [p for d in ("kiosk", "admin", "devices") for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in paths if p != ROOT / "kiosk" / "config.py"]


def test_readme_table_is_the_generated_one() -> None:
    found = TABLE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no <!-- settings --> table"
    assert found.group(1) == markdown_table(), "run: python -m kiosk.cli.settings --markdown"


def test_the_command_prints_the_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kiosk.cli.settings", "--markdown"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == markdown_table()
    bad = subprocess.run(
        [sys.executable, "-m", "kiosk.cli.settings"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "usage" in bad.stderr
    assert "Warning" not in bad.stderr


def test_every_key_the_code_reads_is_a_setting() -> None:
    names = {s.name for s in SETTINGS}
    read: dict[str, str] = {}
    for path in _sources():
        for key in READ.findall(path.read_text(encoding="utf-8")):
            read.setdefault(key, str(path.relative_to(ROOT)))
    missing = {k: where for k, where in read.items() if k not in names | NOT_SETTINGS}
    assert not missing, f"keys read but not in kiosk/config.py: {missing}"
    assert "SCORING_RULES" in read and "DEVICE_RELOAD_SECONDS" in read  # the scan sees them


def test_no_key_has_a_second_default() -> None:
    """The default lives in kiosk/config.py only: no ``config.get("X", fallback)``."""
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _sources()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"config\.(get|setdefault)\(\"[A-Z]", line)
    ]
    assert not offenders, offenders


def test_settings_are_unique_and_documented() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for setting in SETTINGS:
        assert setting.meaning.strip().endswith((".", ")")), setting.name
        assert "|" not in setting.meaning, setting.name  # would break the Markdown table


def test_the_app_starts_from_the_table(tmp_path: Path) -> None:
    app: Flask = create_app({"SECRET_KEY": "k" * 40, "INSTANCE_FOR_TESTS": str(tmp_path)})
    for name, value in defaults(app.instance_path).items():
        if name in {"SECRET_KEY", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"}:
            continue  # resolved by the factory
        assert app.config[name] == value, name
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("kiosk.sqlite")
    assert app.config["SESSION_COOKIE_SECURE"] is False  # no https PUBLIC_BASE_URL
    assert app.config["REMEMBER_COOKIE_SECURE"] is False


def test_dict_defaults_are_not_shared() -> None:
    first, second = defaults("/a"), defaults("/b")
    first["SQLALCHEMY_ENGINE_OPTIONS"]["x"] = 1
    assert second["SQLALCHEMY_ENGINE_OPTIONS"] == {}
    assert first["SQLALCHEMY_DATABASE_URI"] != second["SQLALCHEMY_DATABASE_URI"]
