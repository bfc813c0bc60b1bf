"""The services' contract (issue 10): one refusal family, no request, no commit.

Services take plain arguments and leave the transaction to the request or command that
called them; every refusal is a :class:`~kiosk.services.errors.Refused`, which the edges
translate (the terminal API through one table of HTTP statuses).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kiosk import interchange
from kiosk.api.views import HTTP_STATUS
from kiosk.services import accounts, halls, publishing, ratings, records, roster, workorders
from kiosk.services.errors import Invalid, Refused

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted((ROOT / "kiosk" / "services").glob("*.py"))

# Names of the request's world a service must not import.
REQUEST_NAMES = {
    "flask": {"request", "session", "g", "current_app"},
    "flask_login": {"current_user"},
}
# Services that read the running app (never the request), and why they may.
APP_READERS = {
    # The rule file in force: one reader of SCORING_RULES for every service (SPEC 5.3).
    "rulefile.py": {("flask", "current_app")},
    # The rate limiter the app holds (its storage is shared by all processes).
    "ratings.py": {("flask", "current_app")},
}
# (module, function or class) that commit, and why they may.
COMMITS_ALLOWED = {
    # The lockout counter must hold at once, whatever the password check then does.
    ("accounts.py", "count_attempt"),
    # The listener process's unit of work: each reader event is its own transaction, as
    # a request is the web's.
    ("readers.py", "DatabaseSink"),
    # The listener's jobs thread: each claim and each outcome of an enrolment is its own
    # transaction, so the clock screen sees the prompt while the job runs.
    ("readers.py", "DatabaseJobs"),
}


@pytest.mark.parametrize(
    "refusal",
    [
        accounts.AccountError,
        records.RecordError,
        roster.RosterError,
        publishing.PublishError,
        workorders.WorkOrderError,
        ratings.RatingRefused,
        interchange.ImportFailed,
        halls.HallNotFound,
    ],
)
def test_every_service_refusal_is_a_refused(refusal: type[Exception]) -> None:
    assert issubclass(refusal, Refused)


def test_a_refusal_carries_a_code_and_its_message() -> None:
    refused = ratings.RatingRefused("expired", "评价链接已过期。")
    assert (refused.code, refused.message, str(refused)) == (
        "expired",
        "评价链接已过期。",
        "评价链接已过期。",
    )
    assert not hasattr(refused, "status")  # only the API knows HTTP statuses
    assert Invalid("请填写原因。").code == "invalid"
    assert workorders.WorkOrderError("已核实", "conflict").code == "conflict"
    assert halls.HallNotFound('unknown hall "X"').code == "not_found"
    failed = interchange.ImportFailed(["line 2: bad", "line 3: bad"])
    assert (failed.code, failed.message, failed.problems) == (
        "import_failed",
        "line 2: bad\nline 3: bad",
        ["line 2: bad", "line 3: bad"],
    )


def test_the_api_has_a_status_for_every_code_the_ratings_raise() -> None:
    raised = set()
    for path in (ROOT / "kiosk/services/ratings.py", ROOT / "kiosk/api/views.py"):
        raised |= set(re.findall(r'(?:Refused|RatingRefused)\(\s*"(\w+)"', path.read_text()))
    assert {"invalid", "unauthorized", "too_many_requests", "already_rated"} <= raised
    assert raised <= set(HTTP_STATUS)
    assert HTTP_STATUS["wrong_terminal"] == 403 and HTTP_STATUS["expired"] == 410


def _imports(tree: ast.AST) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {(node.module, alias.name) for alias in node.names}
    return found


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_service_never_reads_the_request(path: Path) -> None:
    imported = _imports(ast.parse(path.read_text()))
    bad = {(m, n) for m, n in imported if n in REQUEST_NAMES.get(m, set())}
    bad -= APP_READERS.get(path.name, set())
    assert not bad, f"{path.name} imports {bad}"


def _commits(tree: ast.Module) -> set[str]:
    """Top-level functions and classes of a module that call ``.commit()``."""
    holders = set()
    for top in tree.body:
        for node in ast.walk(top):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "commit"
            ):
                holders.add(getattr(top, "name", "<module>"))
    return holders


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_a_service_leaves_the_commit_to_its_caller(path: Path) -> None:
    holders = _commits(ast.parse(path.read_text()))
    assert {(path.name, h) for h in holders} <= COMMITS_ALLOWED


def test_the_contract_scan_sees_a_commit() -> None:
    # The scan itself can fail: a commit in a service function is found.
    tree = ast.parse("def f(session):\n    session.commit()\n")
    assert _commits(tree) == {"f"}
    assert ("flask", "request") in _imports(ast.parse("from flask import request\n"))
