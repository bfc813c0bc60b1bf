"""Every URL rule of the back office × every role × GET/POST against ONE permission table.

The table below says, for each endpoint under ``admin.`` and each method it answers,
which roles may use it (``admin`` may use everything but :data:`ADMIN_OF_NO_HALL` pages;
:data:`PUBLIC` needs no sign-in).
The test walks ``app.url_map`` itself: a new page that is not in the table fails loudly,
naming the endpoint, so whoever adds a page adds its line here. A role that may not
use a rule must get 403 (a sign-in redirect when anonymous); a role that may must get
anything else but an error (a form refusal, 400, is still "allowed": the role check came
first). POSTs carry a valid CSRF token and no fields, so nothing is changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.admin.conftest import sign_in

PUBLIC = "public"
SIGNED_IN = ("admin", "leader", "duty", "unit")
READERS = ("admin", "leader", "duty", "unit")  # unit viewers: their own unit's rows only
DUTY = ("admin", "duty")
LEADER = ("admin", "leader")
OFFICERS = ("admin", "leader", "duty")  # everyone but unit viewers
# An admin of no hall only; the walk's admin has the example hall (see test_setup_pages).
ADMIN_OF_NO_HALL: tuple[str, ...] = ()
ADMIN = ("admin",)

# endpoint -> {method: roles allowed, or PUBLIC}. Keep it sorted by room; one line a page.
PERMISSIONS: dict[str, dict[str, Any]] = {
    # sign-in, language, static files
    "admin.static": {"GET": PUBLIC},
    "admin.login": {"GET": PUBLIC, "POST": PUBLIC},
    "admin.logout": {"POST": PUBLIC},
    "admin.set_language": {"GET": PUBLIC},
    "admin.index": {"GET": SIGNED_IN},
    "admin.password": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    # the duty officer's hall
    "admin.today": {"GET": OFFICERS},
    "admin.roster_page": {"GET": OFFICERS, "POST": ADMIN},
    "admin.corrections": {"GET": DUTY, "POST": DUTY},
    "admin.alerts": {"GET": OFFICERS},
    "admin.alerts_acknowledge": {"POST": DUTY},
    "admin.alerts_count": {"GET": OFFICERS},
    "admin.imports": {"GET": DUTY, "POST": DUTY},  # duty: punches, absences, events, cases
    "admin.push_state": {"GET": OFFICERS},
    "admin.push_resend": {"POST": DUTY},
    # setting up the hall (SPEC 10)
    "admin.units": {"GET": OFFICERS},
    "admin.unit_new": {"GET": ADMIN, "POST": ADMIN},
    "admin.unit_edit": {"GET": ADMIN, "POST": ADMIN},
    "admin.windows": {"GET": OFFICERS},
    "admin.window_new": {"GET": ADMIN, "POST": ADMIN},
    "admin.window_edit": {"GET": ADMIN, "POST": ADMIN},
    "admin.hall_new": {"GET": ADMIN_OF_NO_HALL, "POST": ADMIN_OF_NO_HALL},
    "admin.hall_settings": {"GET": OFFICERS, "POST": ADMIN},
    "admin.hall_file": {"GET": OFFICERS},
    "admin.staff": {"GET": READERS},
    "admin.staff_new": {"GET": ADMIN, "POST": ADMIN},
    "admin.person": {"GET": READERS},
    "admin.person_change": {"POST": ADMIN},
    "admin.person_photo": {"POST": ADMIN},
    "admin.person_photo_file": {"GET": READERS},
    "admin.terminals": {"GET": ADMIN},
    "admin.terminal_add": {"POST": ADMIN},
    "admin.terminal_revoke": {"POST": ADMIN},
    "admin.devices": {"GET": ADMIN},
    "admin.devices_status": {"GET": ADMIN},
    "admin.device_add": {"POST": ADMIN},
    "admin.device_map": {"POST": ADMIN},
    "admin.device_enroll": {"POST": ADMIN},
    "admin.device_remove": {"POST": ADMIN},
    "admin.device_job": {"GET": ADMIN},
    "admin.device_job_state": {"GET": ADMIN},
    "admin.device_job_cancel": {"POST": ADMIN},
    "admin.rules": {"GET": LEADER},
    "admin.rules_upload": {"POST": LEADER},
    "admin.rules_compare": {"GET": LEADER},
    "admin.rules_adopt": {"POST": LEADER},
    # the growing lists (issue 13)
    "admin.punches": {"GET": READERS},
    "admin.absences": {"GET": READERS, "POST": DUTY},
    "admin.events": {"GET": READERS, "POST": DUTY},
    "admin.ratings": {"GET": READERS},
    "admin.workorders": {"GET": READERS},
    "admin.workorder": {"GET": READERS},
    "admin.workorder_verify": {"POST": DUTY},
    "admin.workorder_rectify": {"POST": DUTY},
    "admin.workorder_callback": {"POST": DUTY},
    "admin.workorder_appeal": {"POST": ("admin", "unit")},  # the window's unit appeals
    "admin.workorder_appeal_decide": {"POST": LEADER},  # never the verifying officer
    "admin.workorder_report": {"GET": READERS},  # a unit viewer: its own unit's row
    "admin.audit_log": {"GET": LEADER},
    # periods, notices and reports
    "admin.periods": {"GET": READERS},
    "admin.review": {"GET": LEADER},
    "admin.publish": {"POST": LEADER},
    "admin.published": {"GET": READERS},
    "admin.notice_pdf": {"GET": READERS},
    "admin.bundle_zip": {"GET": ("admin", "leader", "duty")},  # every unit's raw data
    "admin.notice_docx": {"GET": READERS},
    "admin.notice_xlsx": {"GET": ("admin", "leader", "unit")},
    "admin.weekly": {"GET": READERS},
    "admin.appraisal_sheet": {"GET": ("admin", "leader", "unit")},
    "admin.monthly": {"GET": READERS},
    "admin.monthly_xlsx": {"GET": READERS},
    "admin.fraud": {"GET": OFFICERS},
    "admin.charts": {"GET": READERS},
    # accounts
    "admin.users": {"GET": ADMIN, "POST": ADMIN},
}

# A value for each URL argument of a rule (the example hall of tests/data/small).
ARGUMENTS: dict[str, str] = {
    "filename": "admin.css",
    "code": "SCJG",  # a unit (admin.set_language's <code> is not walked)
    "period": "2026-B5",
    "unit": "SCJG",
    "rating_id": "R0053",
    "staff_no": "S001",
    "job_id": "1",  # no enrolment job in the example hall: 404
    "rule_file_id": "1",  # no uploaded rule file in the example hall: 404
}

ROLES = (None, "admin", "leader", "duty", "unit")
ALLOWED_STATUSES = {200, 302, 303, 400, 404}


def _admin_rules(app: Flask) -> list[Rule]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")),
        key=lambda r: (r.endpoint, r.rule),
    )


def _path(rule: Rule) -> str:
    missing = sorted(set(rule.arguments) - set(ARGUMENTS))
    assert not missing, f"{rule.rule}: add a sample value for {missing} to ARGUMENTS"
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", ARGUMENTS[name], path)
    return path


def test_every_admin_rule_is_in_the_permission_table(app: Flask) -> None:
    missing = []
    for rule in _admin_rules(app):
        methods = sorted((rule.methods or set()) & {"GET", "POST"})
        entry = PERMISSIONS.get(rule.endpoint)
        if entry is None:
            missing.append(f"{rule.endpoint} ({rule.rule}, {'/'.join(methods)})")
            continue
        for method in methods:
            if method not in entry:
                missing.append(f"{rule.endpoint} {method} ({rule.rule})")
    assert not missing, "endpoints missing from PERMISSIONS in tests/admin/test_role_table.py: " + (
        "; ".join(missing)
    )
    known = {r.endpoint for r in _admin_rules(app)}
    stale = sorted(set(PERMISSIONS) - known)
    assert not stale, f"PERMISSIONS names endpoints the app no longer has: {stale}"


def _token(client: FlaskClient, signed_in: bool) -> str:
    page = client.get("/admin/password" if signed_in else "/admin/login")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert match, page.status_code
    return match.group(1)


def _allowed(entry: dict[str, Any], method: str, role: str | None) -> bool:
    roles = entry[method]
    if roles == PUBLIC:
        return True
    return role is not None and role in roles


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_every_admin_rule_answers_each_role_as_the_table_says(
    app: Flask,
    client: FlaskClient,
    make_user: Callable[..., int],
    example_hall: Any,
    role: str | None,
) -> None:
    if role is not None:
        make_user(f"{role}-t", role, "SCJG" if role == "unit" else None)
        assert sign_in(client, f"{role}-t") == 302
    token = _token(client, role is not None)
    wrong = []
    for rule in _admin_rules(app):
        if rule.endpoint in ("admin.logout", "admin.login", "admin.set_language"):
            continue  # they end or change the session this walk runs in; tested elsewhere
        entry = PERMISSIONS[rule.endpoint]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            path = _path(rule)
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={"csrf_token": token})
            status = response.status_code
            response.close()  # static and download answers hold an open file
            to_login = status == 302 and "/admin/login" in response.headers.get("Location", "")
            if _allowed(entry, method, role):
                ok = status in ALLOWED_STATUSES and not to_login
            elif role is None:
                ok = to_login
            else:
                ok = status == 403
            if not ok:
                wrong.append(f"{method} {path} as {role or 'anonymous'}: {status}")
    assert not wrong, "\n".join(wrong)
