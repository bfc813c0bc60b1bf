"""The back office's upload page ``/admin/imports`` (SPEC 10, 6): roles, all or nothing,
every bad row by line and column, hostile files refused with nothing changed."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Event, Punch, Staff
from tests.admin.conftest import csrf_token

PUNCHES = b"staff_no,punched_at,source\nS001,2026-11-02T08:01:00,\nS002,2026-11-02T08:03:00,\n"


def _post(client: FlaskClient, kind: str, data: bytes, name: str = "upload.csv") -> object:
    token = csrf_token(client, "/admin/imports")
    return client.post(
        "/admin/imports",
        data={"csrf_token": token, "kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def _imports_audited(app: Flask) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "import", AuditEntry.user_id.is_not(None)
                )
            )
        )


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("duty", 200), ("leader", 403), ("unit", 403)]
)
def test_who_may_open_the_page(
    login_as: Callable[..., FlaskClient], role: str, status: int
) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    response = client.get("/admin/imports")
    assert response.status_code == status
    if status == 200:
        text = response.get_data(as_text=True)
        assert 'name="file"' in text and 'name="kind"' in text and "打卡记录" in text


def test_anonymous_is_sent_to_sign_in(client: FlaskClient, example_hall: object) -> None:
    response = client.post("/admin/imports", data={"kind": "punches"})
    assert response.status_code in (302, 400)
    assert client.get("/admin/imports").status_code == 302


def test_duty_officer_uploads_punches_with_a_summary_and_an_audit_entry(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    before = _count(app, Punch)
    response = _post(client, "punches", PUNCHES, "十一月打卡.csv")
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get("/admin/imports").get_data(as_text=True)
    assert "已导入打卡记录“十一月打卡.csv”：共 2 行，新增 2，更新 0" in page
    assert _count(app, Punch) == before + 2
    [entry] = _imports_audited(app)
    assert entry.object_type == "punches" and entry.reason == "十一月打卡.csv"
    assert entry.after == {"rows": 2, "inserted": 2, "updated": 0}
    assert entry.user_id is not None
    # The same file again changes nothing (SPEC 6) and says so.
    _post(client, "punches", PUNCHES, "十一月打卡.csv")
    assert "新增 0，更新 0，未变 2" in client.get("/admin/imports").get_data(as_text=True)
    assert _count(app, Punch) == before + 2


@pytest.mark.parametrize("kind", ["roster", "ratings", "hall"])
def test_duty_officer_may_not_upload_other_kinds(
    app: Flask, login_as: Callable[..., FlaskClient], kind: str
) -> None:
    client = login_as("duty")
    staff = _count(app, Staff)
    roster = b"staff_no,name,window_code,start_date,end_date\nS901,new,W01,2026-11-01,\n"
    response = _post(client, kind, roster)
    assert response.status_code == 403  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "您的角色不能导入此类数据" in text and 'data-field="kind"' in text
    assert _count(app, Staff) == staff and not _imports_audited(app)


@pytest.mark.parametrize("role", ["leader", "unit"])
def test_other_roles_may_not_post(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    token = csrf_token(client, "/admin/")
    before = _count(app, Punch)
    response = client.post(
        "/admin/imports",
        data={"csrf_token": token, "kind": "punches", "file": (io.BytesIO(PUNCHES), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert _count(app, Punch) == before


def test_admin_uploads_a_roster(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("admin")
    roster = b"staff_no,name,window_code,start_date,end_date\nS901,\xe8\xb5\xb5\xe5\x85\xad,W01,2026-11-01,\n"
    assert _post(client, "roster", roster).status_code == 302  # type: ignore[attr-defined]
    with app.app_context():
        assert db.session.scalar(select(Staff.name).where(Staff.staff_no == "S901")) == "赵六"


def test_every_bad_row_is_shown_by_line_and_column_and_nothing_changes(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    before = _count(app, Event)
    events = (
        "event_id,staff_no,at,kind,category,points,veto,note\n"
        "E900,S001,2026-11-02T10:00:00,spot_check,玩手机,-2,false,好的一行\n"
        "E901,S999,2026-11-02T10:00:00,spot_check,,-2,,\n"
        "E902,S001,not-a-time,spot_check,,-2,,\n"
        "E903,S001,2026-11-02T10:00:00,party,,x,,\n"
    ).encode()
    response = _post(client, "events", events, "抽查.csv")
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "“抽查.csv”未导入" in text and "未导入任何数据" in text
    assert 'id="import-problems"' in text
    for line, column in (("3", "staff_no"), ("4", "at"), ("5", "kind"), ("5", "points")):
        assert f'<td class="line">{line}</td><td class="column">{column}</td>' in text
    # In the page's words, with the importer's own beside them.
    assert "工号“S999”不存在（请先导入人员名册）" in text and "unknown staff number" in text
    assert _count(app, Event) == before and not _imports_audited(app)


def test_a_binary_file_is_refused_with_the_encoding_message(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    before = _count(app, Punch)
    gbk = "staff_no,punched_at,source\nS001,2026-11-02T08:01:00,指纹\n".encode("gbk")
    response = _post(client, "punches", gbk, "gbk.csv")
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "not UTF-8" in text and '<td class="line">2</td>' in text
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    response = _post(client, "punches", png, "photo.png")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "not UTF-8" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert _count(app, Punch) == before and not _imports_audited(app)


def test_an_empty_file_and_a_missing_file_are_refused_beside_the_field(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("admin")
    empty = _post(client, "punches", b"", "empty.csv")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    assert 'data-field="file"' in empty.get_data(as_text=True)  # type: ignore[attr-defined]
    token = csrf_token(client, "/admin/imports")
    missing = client.post("/admin/imports", data={"csrf_token": token, "kind": "punches"})
    assert missing.status_code == 400
    assert "请选择要上传的文件" in missing.get_data(as_text=True)
    unknown = _post(client, "payroll", PUNCHES)
    assert unknown.status_code == 400  # type: ignore[attr-defined]
    assert "请选择导入类型" in unknown.get_data(as_text=True)  # type: ignore[attr-defined]


def test_a_wrong_kind_for_the_columns_is_refused(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("duty")
    response = _post(client, "absences", PUNCHES)
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "missing column(s)" in text and '<td class="line">1</td>' in text


def test_a_huge_upload_is_refused_unread_with_the_limit(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    app.config["IMPORT_MAX_CONTENT_LENGTH"] = 64 * 1024
    client = login_as("duty")
    before = _count(app, Punch)
    body = PUNCHES + b"".join(
        f"S001,2026-11-03T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d},\n".encode()
        for n in range(4000)
    )
    response = _post(client, "punches", body)
    assert response.status_code == 413  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "文件过大（上限 0.0625 MiB）" in text and 'data-field="file"' in text
    assert _count(app, Punch) == before
    # Above MAX_CONTENT_LENGTH but below the import limit: accepted.
    app.config["IMPORT_MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024
    app.config["MAX_CONTENT_LENGTH"] = 1024
    assert _post(client, "punches", body).status_code == 302  # type: ignore[attr-defined]


def test_formula_cells_are_stored_as_text_and_shown_escaped(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    roster = (
        b"staff_no,name,window_code,start_date,end_date\n"
        b'S902,"=HYPERLINK(""http://evil.example"",""x"")",W01,2026-11-01,\n'
        b"S903,<script>alert(1)</script>,W01,2026-11-01,\n"
    )
    assert _post(client, "roster", roster).status_code == 302  # type: ignore[attr-defined]
    with app.app_context():
        names = dict(db.session.execute(select(Staff.staff_no, Staff.name)).tuples().all())
    assert names["S902"].startswith("=HYPERLINK(") and names["S903"] == "<script>alert(1)</script>"
    bad = b"staff_no,name,window_code,start_date,end_date\nS904,<img src=x onerror=alert(1)>,W99,2026-11-01,\n"
    text = _post(client, "roster", bad).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "<img src=x" not in text


def test_an_admin_of_one_hall_may_not_load_another_halls_file(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    from tests.conftest import EXAMPLE_DIR

    client = login_as("admin")
    with app.app_context():
        from kiosk.models import Hall, User

        hall = db.session.scalars(select(Hall)).one()
        user = db.session.scalars(select(User).where(User.username == "admin-user")).one()
        user.hall_id = hall.id
        db.session.commit()
    other = (EXAMPLE_DIR / "hall.toml").read_bytes().replace(b'code = "QJ"', b'code = "XX"', 1)
    response = _post(client, "hall", other, "hall.toml")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "与本中心（QJ）不符" in response.get_data(as_text=True)  # type: ignore[attr-defined]
    same = (EXAMPLE_DIR / "hall.toml").read_bytes()
    assert _post(client, "hall", same, "hall.toml").status_code == 302  # type: ignore[attr-defined]


def test_the_csrf_token_is_required(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    before = _count(app, Punch)
    response = client.post(
        "/admin/imports",
        data={"kind": "punches", "file": (io.BytesIO(PUNCHES), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and _count(app, Punch) == before
