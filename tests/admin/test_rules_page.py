"""The rule file in the back office (SPEC 5.3, 10 ``/admin/rules``): in force by name and
sha256, upload (checked by the parser), the ranking's changes, adopt (audited; leaders
and admins), and the adopted file in force for every process sharing the database."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kiosk import create_app
from kiosk.extensions import db
from kiosk.models import AuditEntry
from kiosk.models_rules import RuleAdoption, RuleFile
from kiosk.rules.ruleset import DEFAULT_RULES_PATH
from kiosk.services.rulefile import rules_in_force
from tests.admin.conftest import csrf_token

DEFAULT = DEFAULT_RULES_PATH.read_bytes()
# A short late or early defect costs four points instead of one: in the example hall
# S002 (many short defects) falls from 5th to 7th, S007 and S005 move up.
STRICT = DEFAULT.replace(b'name = "default"', b'name = "strict-2027"').replace(
    b"short_defect_points = 1", b"short_defect_points = 4"
)


def _upload(client: FlaskClient, data: bytes, name: str = "strict.toml") -> Any:
    token = csrf_token(client, "/admin/rules")
    return client.post(
        "/admin/rules",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _rule_files(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(RuleFile.id))) or 0)


@pytest.mark.parametrize("role", ["duty", "unit"])
def test_duty_officers_and_unit_viewers_may_not_open_or_post(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/rules").status_code == 403
    token = csrf_token(client, "/admin/")
    upload = client.post(
        "/admin/rules",
        data={"csrf_token": token, "file": (io.BytesIO(STRICT), "s.toml")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403 and _rule_files(app) == 0
    with app.app_context():
        row = RuleFile(name="x", sha256="0" * 64, content=STRICT)
        db.session.add(row)
        db.session.commit()
        row_id = row.id
    assert client.get(f"/admin/rules/{row_id}").status_code == 403
    adopt = {"csrf_token": token, "reason": "x", "confirmed": "1"}
    assert client.post(f"/admin/rules/{row_id}/adopt", data=adopt).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(RuleAdoption.id)) is None


@pytest.mark.parametrize("role", ["leader", "admin"])
def test_the_rule_file_in_force_is_shown_by_name_and_sha256(
    login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role)
    text = client.get("/admin/rules").get_data(as_text=True)
    assert 'id="in-force-name">default<' in text
    assert hashlib.sha256(DEFAULT).hexdigest() in text and "系统默认规则" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name = [unclosed", "规则文件有误"),
        (DEFAULT.replace(b"[window]", b"[windows]"), "KeyError"),
        (DEFAULT.replace(b"1 = 0", b"1 = 0\n6 = 10"), "[levels] must give a value"),
        (
            DEFAULT.replace(b"on_time_points = 10", b"on_time_points = 11"),
            "must equal workload.max",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "规则文件有误"),
        (b"# " + b"x" * (70 * 1024), "规则文件过大"),
        (b"", "请选择要上传的规则文件"),
    ],
)
def test_a_bad_rule_file_is_refused_with_the_parsers_message(
    app: Flask, login_as: Callable[..., FlaskClient], data: bytes, message: str
) -> None:
    client = login_as("leader")
    response = _upload(client, data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert 'data-field="file"' in text and message in text
    assert _rule_files(app) == 0


def test_upload_compare_adopt(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    uploaded = _upload(client, STRICT)
    assert uploaded.status_code == 302
    compare_url = uploaded.headers["Location"]
    # Uploading changes nothing in force.
    with app.app_context():
        assert rules_in_force().name == "default"
    page = client.get(compare_url + "?period=2026-B5").get_data(as_text=True)
    assert "已上传并通过校验" in page
    changes = page[page.index('id="rule-changes"') : page.index('id="ranking-changes"')]
    assert (
        "short_defect_points" in changes
        and '<td class="num">1</td><td class="num">4</td>' in changes
    )
    movers = page[page.index('id="movers"') :]
    assert (
        "考勤" in movers and 'data-direction="down"' in movers and 'data-direction="up"' in movers
    )
    assert "2026年第5期（9—10月）" in page
    # Scored with the service directly: the page lists exactly whose attendance changed.
    with app.app_context():
        from kiosk.rules.ruleset import default_rules, parse_rules
        from kiosk.services.scoring import score_hall_period

        at = "2026-11-15T00:00:00+08:00"
        import datetime as dt

        as_of = dt.datetime.fromisoformat(at)
        old = score_hall_period(db.session, "2026-B5", as_of, None, default_rules())
        new = score_hall_period(db.session, "2026-B5", as_of, None, parse_rules(STRICT))
        missing = {
            i.staff_no
            for i in old.individuals
            if i.attendance != new.individual(i.staff_no).attendance  # type: ignore[union-attr]
        }
    assert missing and all(f'data-staff="{s}"' in movers for s in missing)
    row_id = int(compare_url.rsplit("/", 1)[1])
    token = csrf_token(client, compare_url)
    # A reason is required, beside the field.
    refused = client.post(f"/admin/rules/{row_id}/adopt", data={"csrf_token": token})
    assert refused.status_code == 400 and 'data-field="reason"' in refused.get_data(as_text=True)
    asked = client.post(
        f"/admin/rules/{row_id}/adopt", data={"csrf_token": token, "reason": "主任办公会决定"}
    )
    assert "确认启用规则文件" in asked.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(RuleAdoption.id)) is None
    done = client.post(
        f"/admin/rules/{row_id}/adopt",
        data={"csrf_token": token, "reason": "主任办公会决定", "confirmed": "1"},
    )
    assert done.status_code == 302
    listed = client.get("/admin/rules").get_data(as_text=True)
    assert "已启用规则文件“strict-2027”" in listed and 'id="in-force-name">strict-2027<' in listed
    assert hashlib.sha256(STRICT).hexdigest() in listed and "主任办公会决定" in listed
    with app.app_context():
        assert rules_in_force().name == "strict-2027"
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "rules.adopt")
        ).one()
        assert entry.before == {"name": "default", "sha256": hashlib.sha256(DEFAULT).hexdigest()}
        assert entry.after == {"name": "strict-2027", "sha256": hashlib.sha256(STRICT).hexdigest()}
        assert db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "rules.upload")
        ).one()
    # Adopting it again is refused.
    again = client.post(
        f"/admin/rules/{row_id}/adopt",
        data={"csrf_token": token, "reason": "again", "confirmed": "1"},
    )
    assert again.status_code == 409 and "已在使用中" in again.get_data(as_text=True)


def test_an_adopted_file_is_in_force_for_another_process(
    app: Flask, login_as: Callable[..., FlaskClient], tmp_path: Any
) -> None:
    client = login_as("admin")
    row_id = int(_upload(client, STRICT).headers["Location"].rsplit("/", 1)[1])
    # Another process: its own app on the same database, even with SCORING_RULES set.
    other = create_app(
        {
            **{k: app.config[k] for k in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")},
            "TESTING": True,
            "SCORING_RULES": str(DEFAULT_RULES_PATH),
        }
    )
    with other.app_context():
        assert rules_in_force().name == "default"
    token = csrf_token(client, f"/admin/rules/{row_id}")
    client.post(
        f"/admin/rules/{row_id}/adopt",
        data={"csrf_token": token, "reason": "r", "confirmed": "1"},
    )
    from kiosk.services import rulefile

    rulefile.forget_adopted(other)  # instead of waiting RECHECK_SECONDS
    with other.app_context():
        assert rules_in_force().name == "strict-2027"
        result = other.test_cli_runner().invoke(args=["score", "2026-B5", "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["rules"]["name"] == "strict-2027"
        db.session.remove()
        db.engine.dispose()


def test_the_period_field_is_checked(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    client = login_as("leader")
    url = _upload(client, STRICT).headers["Location"]
    for bad in ("2026-B9", "<script>", "2150-B1", "1999-B1"):
        text = client.get(url, query_string={"period": bad}).get_data(as_text=True)
        assert 'data-field="period"' in text and "<script>" not in text
    assert client.get("/admin/rules/99999").status_code == 404
    assert re.search(r"参与计分 \d+ 人", client.get(url).get_data(as_text=True))
