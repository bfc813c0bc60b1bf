"""The floor plan holds: the direction of imports, read from the code itself (see ARCHITECTURE.md).

Every module of ``kiosk/``, ``admin/`` and ``devices/`` is parsed with :mod:`ast` (nothing is
imported or run) into a table of its imports: which module it names, on which line, and
whether the import runs when the module loads (module level) or only when a function is
called (function level). The rules below are checked against that table; a failure names
each offending import as ``file:line  importer -> imported``.

What counts as an edge: ``import a.b`` and ``from a.b import c`` name ``a.b`` (or ``a.b.c``
when that is a module of the project). Loading ``a.b`` also runs the package ``a``'s
``__init__``; that is not counted as an edge, since a package's face only hands names on.
Imports under ``if TYPE_CHECKING:`` never run and are not counted.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kiosk", "admin", "devices")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as the importing module names it."""

    importer: str  # dotted module name, e.g. kiosk.services.halls
    imported: str  # dotted name of the imported module (or of a name's module)
    path: str  # file, relative to the repository
    line: int
    module_level: bool  # False: inside a function (runs only when it is called)
    name: str = ""  # of ``from m import name``: the name taken

    def __str__(self) -> str:
        taken = f" ({self.name})" if self.name and not project(self.imported) else ""
        where = "" if self.module_level else "  (in a function)"
        return f"{self.path}:{self.line}  {self.importer} -> {self.imported}{taken}{where}"


def module_name(path: Path) -> str:
    """``kiosk/services/halls.py`` -> ``kiosk.services.halls``; a package's ``__init__`` -> it."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


MODULES = {module_name(p): p for p in project_files()}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(body: Iterable[ast.stmt], module_level: bool) -> Iterator[tuple[ast.stmt, bool]]:
    """Every statement with whether it runs at load time (class bodies do; functions do not)."""
    for node in body:
        yield node, module_level
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _statements(node.orelse, module_level)
            continue
        inner = not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(node, field, None)
            if isinstance(children, list):
                stmts = [c for c in children if isinstance(c, ast.stmt)]
                for handler in children:
                    if isinstance(handler, ast.ExceptHandler | ast.match_case):
                        stmts.extend(handler.body)
                yield from _statements(stmts, module_level and inner)


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name of a (possibly relative) ``from`` import's module."""
    if not level:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(source: str, importer: str, path: str, is_package: bool = False) -> list[Import]:
    """The imports of one module's source text."""
    tree = ast.parse(source, filename=path)
    found: list[Import] = []
    for node, module_level in _statements(tree.body, True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(importer, alias.name, path, node.lineno, module_level))
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(importer, is_package, node.module, node.level)
            for alias in node.names:
                # ``from kiosk.services import halls`` names the module kiosk.services.halls.
                name = f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                found.append(Import(importer, name, path, node.lineno, module_level, alias.name))
    return found


def _all_imports() -> list[Import]:
    found = []
    for name, path in MODULES.items():
        rel = str(path.relative_to(ROOT))
        found.extend(
            imports_of(path.read_text(encoding="utf-8"), name, rel, path.name == "__init__.py")
        )
    return found


IMPORTS = _all_imports()


def within(name: str, prefixes: Iterable[str]) -> bool:
    """``name`` is one of ``prefixes`` or a module inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def project(name: str) -> bool:
    return within(name, PACKAGES)


# ------------------------------------------------------------------------- cycles


def cycles(edges: Iterable[Import]) -> list[list[Import]]:
    """Each import cycle (a strongly connected group of modules), as the imports that tie it."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, []).append(edge)
        graph.setdefault(edge.imported, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            target = edge.imported
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    found = []
    for group in groups:
        ties = [e for m in sorted(group) for e in graph[m] if e.imported in group]
        if len(group) > 1 or ties:
            found.append(ties)
    return sorted(found, key=lambda ties: str(ties[0]))


def one_loop(ties: list[Import]) -> list[Import]:
    """The shortest loop through a cycle's first import: the imports to follow, in order."""
    start = ties[0]
    paths: dict[str, list[Import]] = {start.imported: [start]}
    queue = [start.imported]
    for node in queue:
        for edge in ties:
            if edge.importer == node and edge.imported not in paths:
                paths[edge.imported] = [*paths[node], edge]
                queue.append(edge.imported)
    return paths.get(start.importer, [start]) if start.importer != start.imported else [start]


@pytest.mark.parametrize("late_too", [False, True], ids=["module level", "function level too"])
def test_no_import_cycle_among_the_project_modules(late_too: bool) -> None:
    # Module level: the cycles that break loading. Function level too: a late import only
    # hides a cycle from the loader, not from the reader (the app factory's late imports of
    # its blueprints close no circle as long as no view imports the factory's package).
    edges = [
        i
        for i in IMPORTS
        if (i.module_level or late_too) and project(i.imported) and i.imported != i.importer
    ]
    found = cycles(edges)
    text = "\n\n".join(
        "one loop:\n"
        + "\n".join(f"  {e}" for e in one_loop(ties))
        + f"\n({len(ties)} imports tie it)"
        for ties in found
    )
    assert not found, f"{len(found)} import cycle(s), each with the imports that tie it:\n{text}"


# ------------------------------------------------------------- who may import what

# Each rule: a predicate over one import, True when the import breaks it. Function-level imports
# count here too: a late import is still a dependency.
VIEW_ROOMS = ("admin", "kiosk.api", "kiosk.clock", "kiosk.counter", "kiosk.display", "kiosk.pages")
# What the pure rules never import: the web framework (and its extensions) and the database.
THIRD_PARTY_IMPURE = ("flask", "werkzeug", "sqlalchemy", "alembic", "psycopg", "psycopg2")


def _view_room(name: str) -> str | None:
    return next((room for room in VIEW_ROOMS if within(name, [room])), None)


def _impure(name: str) -> bool:
    root = name.split(".")[0]
    return root.startswith("flask_") or root in THIRD_PARTY_IMPURE


def reader_core_violation(i: Import) -> bool:
    """The reader core (devices/) names nothing of the service (kiosk/, admin/)."""
    return within(i.importer, ["devices"]) and within(i.imported, ["kiosk", "admin"])


def rules_violation(i: Import) -> bool:
    """kiosk/rules/ is pure: of the project only kiosk.rules; no web framework or database."""
    if not within(i.importer, ["kiosk.rules"]):
        return False
    if project(i.imported):
        return not within(i.imported, ["kiosk.rules"])
    return _impure(i.imported)


def views_violation(i: Import) -> bool:
    """A view room (admin/, kiosk/api|clock|counter|display|pages) names no other view room."""
    own, other = _view_room(i.importer), _view_room(i.imported)
    return own is not None and other is not None and own != other


def services_request_violation(i: Import) -> bool:
    """Services take plain arguments: no module of kiosk/services names flask.request."""
    names_request = i.imported == "flask.request" or (i.imported == "flask" and i.name == "request")
    return within(i.importer, ["kiosk.services"]) and names_request


def services_upward_violation(i: Import) -> bool:
    """Services sit under the views and commands: they import no view room, no cli, no demo."""
    return within(i.importer, ["kiosk.services"]) and (
        _view_room(i.imported) is not None or within(i.imported, ["kiosk.cli", "kiosk.demo"])
    )


RULES = {
    "reader core imports nothing of kiosk/ or admin/": reader_core_violation,
    "kiosk/rules imports nothing of the project but kiosk/rules (and nothing impure)": (
        rules_violation
    ),
    "views import no other view room's modules (they meet in the services)": views_violation,
    "services do not import flask.request": services_request_violation,
    "services import no views, cli or demo": services_upward_violation,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_import_direction(rule: str) -> None:
    bad = [i for i in IMPORTS if RULES[rule](i)]
    assert not bad, f"{rule}: {len(bad)} import(s) break it:\n" + "\n".join(map(str, bad))


def test_the_reader_core_and_the_rules_are_found() -> None:
    # The rules above bind something: an empty or renamed package would pass them silently.
    assert {"devices.protocol", "devices.transport", "devices.client"} <= set(MODULES)
    assert {"kiosk.rules.scoring", "kiosk.rules.calendar", "kiosk.services.halls"} <= set(MODULES)
    assert len([i for i in IMPORTS if i.importer.startswith("kiosk.rules")]) > 10


# ------------------------------------------------------------- the checker itself


def _edge(importer: str, imported: str, module_level: bool = True) -> Import:
    """An import for the tables below; ``flask:request`` is ``from flask import request``."""
    module, _, name = imported.partition(":")
    return Import(importer, module, importer.replace(".", "/") + ".py", 1, module_level, name)


@pytest.mark.parametrize(
    ("edges", "count"),
    [
        ([("a", "b"), ("b", "c")], 0),
        ([("a", "b"), ("b", "a")], 1),
        ([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], 1),
        ([("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")], 2),
        ([("a", "a")], 1),
    ],
)
def test_cycle_finder(edges: list[tuple[str, str]], count: int) -> None:
    found = cycles([_edge(a, b) for a, b in edges])
    assert len(found) == count
    for ties in found:
        loop = one_loop(ties)
        # A loop: each import starts where the last one ended, and it comes back.
        assert loop[0].importer == loop[-1].imported
        assert all(a.imported == b.importer for a, b in zip(loop, loop[1:], strict=False))


@pytest.mark.parametrize(
    ("source", "importer", "is_package", "expected"),
    [
        ("import kiosk.models\n", "kiosk.app", False, [("kiosk.models", True)]),
        ("from kiosk.services import halls\n", "kiosk.cli", True, [("kiosk.services.halls", True)]),
        (
            "from . import halls\n",
            "kiosk.services.scoring",
            False,
            [("kiosk.services.halls", True)],
        ),
        ("from .rows import x\n", "kiosk.interchange", True, [("kiosk.interchange.rows", True)]),
        ("def f():\n    import kiosk.app\n", "devices.client", False, [("kiosk.app", False)]),
        ("class C:\n    import kiosk.app\n", "devices.client", False, [("kiosk.app", True)]),
        ("try:\n    import a\nexcept E:\n    import b\n", "m", False, [("a", True), ("b", True)]),
        ("if TYPE_CHECKING:\n    import kiosk.app\n", "devices.client", False, []),
    ],
)
def test_import_reader(
    source: str, importer: str, is_package: bool, expected: list[tuple[str, bool]]
) -> None:
    found = imports_of(source, importer, "x.py", is_package)
    assert [(i.imported, i.module_level) for i in found] == expected


@pytest.mark.parametrize(
    ("rule", "importer", "imported", "broken"),
    [
        (reader_core_violation, "devices.listener", "kiosk.services.readers", True),
        (reader_core_violation, "devices.listener", "admin", True),
        (reader_core_violation, "devices.listener", "devices.protocol", False),
        (reader_core_violation, "kiosk.cli.devices", "devices.client", False),
        (rules_violation, "kiosk.rules.scoring", "kiosk.models", True),
        (rules_violation, "kiosk.rules.scoring", "kiosk", True),
        (rules_violation, "kiosk.rules.scoring", "sqlalchemy.orm", True),
        (rules_violation, "kiosk.rules.scoring", "flask_babel", True),
        (rules_violation, "kiosk.rules.scoring", "kiosk.rules.calendar", False),
        (rules_violation, "kiosk.rules.calendar", "chinese_calendar", False),
        (rules_violation, "kiosk.rules.calendar", "kiosk_rules_elsewhere", False),
        (rules_violation, "kiosk.rules.calendar", "psycopg2.extras", True),
        (rules_violation, "kiosk.services.scoring", "kiosk.models", False),
        (views_violation, "kiosk.pages", "admin.views", True),
        (views_violation, "admin.views", "kiosk.display.data", True),
        (views_violation, "admin.views", "admin.forms", False),
        (views_violation, "kiosk.display", "kiosk.services.publishing", False),
        (services_request_violation, "kiosk.services.ratings", "flask.request", True),
        (services_request_violation, "kiosk.services.ratings", "flask:request", True),
        (services_request_violation, "kiosk.services.ratings", "flask:current_app", False),
        (services_request_violation, "kiosk.api.views", "flask.request", False),
        (services_upward_violation, "kiosk.services.notices", "admin.forms", True),
        (services_upward_violation, "kiosk.services.notices", "kiosk.cli.common", True),
        (services_upward_violation, "kiosk.services.notices", "kiosk.rules.scoring", False),
    ],
)
def test_rules_flag_what_they_should(
    rule: Callable[[Import], bool], importer: str, imported: str, broken: bool
) -> None:
    assert rule(_edge(importer, imported)) is broken
