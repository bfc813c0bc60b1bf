"""The requirement files install on any machine: registry names with exact pins only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = ("requirements.txt", "requirements-dev.txt")
# name, optional extras, an exact pin: nothing that names a path, a URL or a VCS.
PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9_,-]+\])?==[A-Za-z0-9.+!-]+$")


def requirement_lines(name: str) -> list[tuple[int, str]]:
    """The requirement lines of one file, without comments and blank lines."""
    lines = []
    for number, raw in enumerate((ROOT / name).read_text().splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append((number, line))
    return lines


@pytest.mark.parametrize("name", FILES)
def test_every_requirement_is_a_pinned_registry_name(name: str) -> None:
    bad = []
    for number, line in requirement_lines(name):
        if line in ("-r requirements.txt",):
            continue
        if not PINNED.match(line):
            bad.append(f"{name}:{number}: {line}")
    assert not bad, "not a pinned registry name:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "line",
    [
        "pyfingerprint @ file:///tmp/pf/pyfingerprint-1.5-py3-none-any.whl",
        "foo @ https://example.org/foo-1.0.tar.gz",
        "git+https://github.com/a/b.git",
        "./wheels/foo-1.0-py3-none-any.whl",
        "-e .",
        "--find-links /tmp/wheels",
        "foo>=1.0",
        "foo",
    ],
)
def test_the_check_refuses_paths_urls_vcs_and_loose_pins(line: str) -> None:
    assert not PINNED.match(line)


def test_no_package_is_pinned_twice() -> None:
    names: dict[str, str] = {}
    for name in FILES:
        for number, line in requirement_lines(name):
            if line.startswith("-r "):
                continue
            key = re.split(r"[\[=]", line)[0].lower().replace("_", "-")
            assert key not in names, f"{key} pinned in {names[key]} and {name}:{number}"
            names[key] = f"{name}:{number}"
