"""The set-up pages of SPEC 10 for each role, on every GET and POST, with hostile input.

Admins change; leaders and duty officers read (units, windows, hall, staff); unit viewers
read their own unit's staff only; anonymous visitors are sent to sign in. A refused form
comes back (400) with the message beside its field and nothing changed.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.interchange import import_file
from kiosk.models import Assignment, AuditEntry, Hall, Staff, StaffPhoto, Unit, Window
from tests.admin.conftest import csrf_token
from tests.admin.test_hallsetup_service import _exports, _fresh_app
from tests.conftest import EXAMPLE_DIR

READ_PAGES = ["/admin/units", "/admin/windows", "/admin/hall", "/admin/hall/hall.toml"]
STAFF_PAGES = ["/admin/staff", "/admin/staff/S001", "/admin/staff?q=S00&page=1"]
ADMIN_PAGES = [
    "/admin/units/new",
    "/admin/units/SCJG",
    "/admin/windows/new",
    "/admin/windows/W01",
    "/admin/staff/new",
]
POSTS = [
    ("/admin/units/new", {"code": "GAJ", "name": "市公安局"}),
    ("/admin/units/SCJG", {"name": "市场监管局"}),
    ("/admin/windows/new", {"code": "W09", "name": "新窗口", "unit": "ZWB", "handles_cases": "y"}),
    ("/admin/windows/W01", {"name": "企业开办", "unit": "SCJG", "handles_cases": "y"}),
    ("/admin/hall", {"grace_minutes": "7"}),
    (
        "/admin/staff/new",
        {"staff_no": "S900", "name": "李华", "window_code": "W01", "start_date": "2026-11-02"},
    ),
    ("/admin/staff/S001", {"action": "leave", "leave-end_date": "2026-12-31"}),
    ("/admin/staff/S001/photo", {}),
]


def _count() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(select(func.count(model.id)))
        for model in (Unit, Window, Staff, Assignment, StaffPhoto)
    )


def _changes() -> list[str]:
    """The audited actions other than the fixture's imports and accounts."""
    return [
        a
        for a in db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        if a != "import" and not a.startswith("user.")
    ]


def _settings(app: Flask) -> dict[str, object]:
    with app.app_context():
        return dict(db.session.scalars(select(Hall)).one().settings)


def _hall_form(client: FlaskClient, **changes: str) -> dict[str, str]:
    """The settings form as the page fills it, with ``changes``."""
    page = client.get("/admin/hall").get_data(as_text=True)
    data = dict(re.findall(r'<input type="(?:text|number)" name="([^"]+)" value="([^"]*)"', page))
    data.update(re.findall(r'<input class="ch\d" type="text" name="([^"]+)" value="([^"]*)"', page))
    for name in ("closed_days", "extra_workdays", "reasons"):
        found = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
        data[name] = found.group(1) if found else ""
    data["csrf_token"] = csrf_token(client, "/admin/hall")
    data.update(changes)
    return data


def _post(
    client: FlaskClient, path: str, data: dict[str, str], token_from: str | None = None
) -> object:
    if path == "/admin/hall":
        return client.post(path, data=_hall_form(client, **data))
    payload = {**data, "csrf_token": csrf_token(client, token_from or path)}
    if path.endswith("/photo"):
        image = io.BytesIO()
        Image.new("RGB", (800, 600), (10, 90, 200)).save(image, "JPEG")
        payload["photo"] = (io.BytesIO(image.getvalue()), "me.jpg")
        return client.post(path, data=payload, content_type="multipart/form-data")
    return client.post(path, data=payload)


@pytest.mark.parametrize("role", ["leader", "duty"])
def test_readers_see_the_lists_and_may_change_nothing(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role)
    for path in READ_PAGES + STAFF_PAGES:
        assert client.get(path).status_code == 200, path
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    page = client.get("/admin/units").get_data(as_text=True)
    assert "添加单位" not in page and "市场监督管理局" in page
    token = csrf_token(client, "/admin/hall")
    with app.app_context():
        before = _count()
    settings = _settings(app)
    for path, data in POSTS:
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403, path
    with app.app_context():
        assert _count() == before
        assert _changes() == []
    assert _settings(app) == settings


def test_a_unit_viewer_reads_only_the_staff_of_their_unit(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("unit", unit="ZWB")
    listed = client.get("/admin/staff").get_data(as_text=True)
    with app.app_context():
        zwb = set(
            db.session.scalars(
                select(Staff.staff_no)
                .join(Assignment)
                .join(Window)
                .join(Unit)
                .where(Unit.code == "ZWB")
            )
        )
        others = set(db.session.scalars(select(Staff.staff_no))) - zwb
    shown = set(re.findall(r'data-staff="([^"]+)"', listed))
    assert shown == zwb and others
    assert client.get(f"/admin/staff/{sorted(zwb)[0]}").status_code == 200
    assert client.get(f"/admin/staff/{sorted(others)[0]}").status_code == 404
    for path in READ_PAGES + ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/admin/staff")
    for path, data in POSTS:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, example_hall: object) -> None:
    for path in READ_PAGES + STAFF_PAGES + ADMIN_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"], path
    for path, data in POSTS:
        response = client.post(path, data=data)
        assert response.status_code in (302, 400), path
        if response.status_code == 302:
            assert "/admin/login" in response.headers["Location"]


def test_the_admin_makes_every_change_and_each_is_audited(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    for path in READ_PAGES + STAFF_PAGES + ADMIN_PAGES:
        assert client.get(path).status_code == 200, path
    for path, data in POSTS:
        token_from = path if not path.endswith("/photo") else "/admin/staff/S001"
        response = _post(client, path, data, token_from)
        assert response.status_code == 302, (path, response.get_data(as_text=True)[-3000:])  # type: ignore[attr-defined]
        follow = client.get(response.headers["Location"])  # type: ignore[attr-defined]
        assert "flash-success" in follow.get_data(as_text=True), path
    with app.app_context():
        assert _changes() == [
            "unit.add",
            "unit.rename",
            "window.add",
            "window.edit",
            "hall.settings",
            "staff.add",
            "staff.leave",
            "staff.photo",
        ]
        assert db.session.scalar(select(Unit.name).where(Unit.code == "SCJG")) == "市场监管局"
    assert _settings(app)["grace_minutes"] == 7
    photo = client.get("/admin/staff/S001/photo.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert 'id="person-photo"' in client.get("/admin/staff/S001").get_data(as_text=True)
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "添加单位" in audit and "修改中心设置" in audit


HOSTILE = [
    ("/admin/units/new", {"code": "SCJG", "name": "重复"}, "code", "已存在"),
    ("/admin/units/new", {"code": "X" * 60, "name": "长"}, "code", "32"),
    ("/admin/units/new", {"code": "A B", "name": "名"}, "code", "字母"),
    ("/admin/units/new", {"code": "OK", "name": "名" * 260}, "name", ""),
    ("/admin/units/SCJG", {"name": ""}, "name", "请填写"),
    ("/admin/windows/new", {"code": "W01", "name": "重复", "unit": "ZWB"}, "code", "已存在"),
    ("/admin/windows/new", {"code": "W10", "name": "窗口", "unit": "NOPE"}, "unit", "没有"),
    (
        "/admin/windows/W01",
        {"name": "企业登记", "unit": "", "handles_cases": "y"},
        "unit",
        "请选择",
    ),
    ("/admin/hall", {"grace_minutes": "999"}, "grace_minutes", "0 至 120"),
    ("/admin/hall", {"closed_days": "2026-02-30"}, "closed_days", "不是日期"),
    ("/admin/hall", {"extra_workdays": "2026-10-16"}, "extra_workdays", "闭厅日"),
    ("/admin/hall", {"schedule-0-am-start": "8点半"}, "schedule-0-am-start", "时:分"),
    ("/admin/hall", {"reasons": "a|b"}, "reasons", "|"),
    ("/admin/hall", {"schedule-0-name": "冬" * 300}, "schedule-0-name", "50"),
    ("/admin/hall", {"grace_minutes": "5" + " " * 300 + "x"}, "grace_minutes", "整数"),
    ("/admin/hall", {"reasons": "\n".join(f"原因{n}" for n in range(31))}, "reasons", "30"),
    ("/admin/hall", {"closed_days": " ".join(["2026-10-16"] * 401)}, "closed_days", "400"),
    (
        "/admin/staff/new",
        {"staff_no": "S001", "name": "重复", "window_code": "W01", "start_date": "2026-11-02"},
        "staff_no",
        "已存在",
    ),
    (
        "/admin/staff/new",
        {"staff_no": "S901", "name": "王", "window_code": "W77", "start_date": "2026-11-02"},
        "window_code",
        "没有",
    ),
    (
        "/admin/staff/new",
        {"staff_no": "S901", "name": "王", "window_code": "W01", "start_date": "9999-01-01"},
        "start_date",
        "2099",
    ),
    (
        "/admin/staff/new",
        {"staff_no": "S901", "name": "王", "window_code": "W01", "start_date": "昨天"},
        "start_date",
        "日期",
    ),
    (
        "/admin/staff/new",
        {"staff_no": "S" * 80, "name": "王", "window_code": "W01", "start_date": "2026-11-02"},
        "staff_no",
        "",
    ),
    (
        "/admin/staff/S001",
        {"action": "move", "move-window_code": "W02", "move-start_date": "2001-01-01"},
        "move-start_date",
        "重叠",
    ),
    (
        "/admin/staff/S001",
        {"action": "move", "move-window_code": "W99", "move-start_date": "2026-12-01"},
        "move-window_code",
        "没有",
    ),
    (
        "/admin/staff/S001",
        {"action": "leave", "leave-end_date": "2001-01-01"},
        "leave-end_date",
        "不能早于",
    ),
]


@pytest.mark.parametrize(("path", "data", "field", "words"), HOSTILE)
def test_a_refused_form_comes_back_with_the_message_beside_the_field(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    path: str,
    data: dict[str, str],
    field: str,
    words: str,
) -> None:
    client = login_as("admin")
    with app.app_context():
        before = _count()
    settings = _settings(app)
    response = _post(client, path, data)
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 400, body[-2000:]  # type: ignore[attr-defined]
    error = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', body)
    assert error, body[-3000:]
    assert words in error.group(1)
    assert f'aria-describedby="{field}-error"' in body
    with app.app_context():
        assert _count() == before
        assert _changes() == []
    assert _settings(app) == settings


def test_a_bad_photo_is_refused_beside_the_field(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    token = csrf_token(client, "/admin/staff/S001")
    for name, content in (("x.jpg", b"not an image"), ("x.svg", b"<svg/>"), ("x.jpg", b"")):
        response = client.post(
            "/admin/staff/S001/photo",
            data={"csrf_token": token, "photo": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert 'id="photo-error"' in response.get_data(as_text=True)
    # A body over the photo limit is refused unread (413), before any form is parsed. Sent
    # as bytes: a multipart file of this size would be spooled to a temporary file that
    # nothing closes once the body is refused unread.
    big = b"--x\r\n" + b"0" * (6 * 1024 * 1024) + b"\r\n--x--\r\n"
    response = client.post(
        "/admin/staff/S001/photo", data=big, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 413
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffPhoto.id))) == 0


def test_a_post_without_csrf_changes_nothing(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    response = client.post("/admin/units/new", data={"code": "GAJ", "name": "市公安局"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Unit.id))) == 2


def test_staff_list_searches_and_filters(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    everyone = set(
        re.findall(r'data-staff="([^"]+)"', client.get("/admin/staff").get_data(as_text=True))
    )
    assert len(everyone) >= 5
    one = sorted(everyone)[0]
    found = re.findall(
        r'data-staff="([^"]+)"', client.get(f"/admin/staff?q={one}").get_data(as_text=True)
    )
    assert found == [one]
    w03 = set(
        re.findall(
            r'data-staff="([^"]+)"', client.get("/admin/staff?window=W03").get_data(as_text=True)
        )
    )
    assert w03 and w03 < everyone
    hostile = client.get("/admin/staff?q=" + "x" * 5000 + "&page=99999999999&unit=%27")
    assert hostile.status_code == 200 and "没有符合条件" in hostile.get_data(as_text=True)
    assert client.get("/admin/staff?q=%00").status_code == 400  # the app's control-character check
    assert client.get("/admin/staff/S001?month=2026-13").status_code == 400
    assert client.get("/admin/staff/S001?month=1900-01").status_code == 400
    assert client.get("/admin/staff/NOBODY").status_code == 404
    page = client.get("/admin/staff/S005?month=2026-10").get_data(as_text=True)
    assert 'data-day="2026-10-10"' in page and "缺卡" in page


def test_changes_made_by_form_export_as_the_same_changes_imported(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    database_template: dict[str, object],
    tmp_path: Path,
) -> None:
    """SPEC 10: what is changed in the browser exports exactly as if it had been imported."""
    client = login_as("admin")
    for path, data in (
        ("/admin/units/new", {"code": "GAJ", "name": "市公安局"}),
        (
            "/admin/windows/new",
            {"code": "W05", "name": "出入境", "unit": "GAJ", "handles_cases": "y"},
        ),
        ("/admin/windows/W03", {"name": "综合咨询台", "unit": "ZWB"}),
        ("/admin/hall", {"grace_minutes": "4", "closed_days": "2026-10-16\n2026-12-24"}),
        (
            "/admin/staff/new",
            {"staff_no": "S900", "name": "李华", "window_code": "W05", "start_date": "2026-11-02"},
        ),
        (
            "/admin/staff/S900",
            {"action": "move", "move-window_code": "W01", "move-start_date": "2026-11-16"},
        ),
        ("/admin/staff/S900", {"action": "leave", "leave-end_date": "2026-12-31"}),
    ):
        response = _post(client, path, data)
        assert response.status_code == 302, (path, response.get_data(as_text=True)[-2000:])  # type: ignore[attr-defined]
    with app.app_context():
        by_form = _exports(db.session.scalars(select(Hall)).one())
        db.session.remove()
        db.engine.dispose()

    other = _fresh_app(database_template, tmp_path, "imported")
    with other.app_context():
        for kind in ("hall", "roster"):
            name = "hall.toml" if kind == "hall" else "roster.csv"
            import_file(db.session, kind, (EXAMPLE_DIR / name).read_bytes())
        text = (EXAMPLE_DIR / "hall.toml").read_text(encoding="utf-8")
        text = text.replace("grace_minutes = 5", "grace_minutes = 4")
        text = text.replace(
            'closed_days = ["2026-10-16"]', 'closed_days = ["2026-10-16", "2026-12-24"]'
        )
        text = text.replace('name = "综合咨询"', 'name = "综合咨询台"')
        text += (
            '\n[[unit]]\ncode = "GAJ"\nname = "市公安局"\n'
            '\n[[window]]\ncode = "W05"\nname = "出入境"\nunit = "GAJ"\nhandles_cases = true\n'
        )
        import_file(db.session, "hall", text.encode())
        roster = (
            "staff_no,name,window_code,start_date,end_date\n"
            "S900,李华,W05,2026-11-02,2026-11-15\nS900,李华,W01,2026-11-16,2026-12-31\n"
        )
        import_file(db.session, "roster", roster.encode())
        by_import = _exports(db.session.scalars(select(Hall)).one())
        db.session.remove()
        db.engine.dispose()
    assert by_form == by_import
    assert (
        "grace_minutes = 4" in by_form["hall"]
        and "S900,李华,W01,2026-11-16,2026-12-31" in by_form["roster"]
    )


def test_a_new_database_is_set_up_in_the_browser_alone(
    app: Flask, client: FlaskClient, make_user: Callable[..., int]
) -> None:
    """From an empty database: the hall, a unit, a window and a person, no terminal."""
    from tests.admin.conftest import sign_in

    make_user("root", "admin")
    assert sign_in(client, "root") == 302
    first = client.get("/admin/hall")
    assert first.status_code == 302 and first.headers["Location"].endswith("/admin/hall/new")
    token = csrf_token(client, "/admin/hall/new")
    refused = client.post(
        "/admin/hall/new",
        data={"code": "Q J", "name": "", "timezone": "Mars/Olympus", "csrf_token": token},
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400
    for field in ("code", "name", "timezone"):
        assert f'id="{field}-error"' in body
    created = client.post(
        "/admin/hall/new",
        data={
            "code": "QJ",
            "name": "潜江市行政服务中心",
            "timezone": "Asia/Shanghai",
            "csrf_token": token,
        },
    )
    assert created.status_code == 302
    again = client.post(
        "/admin/hall/new",
        data={"code": "QJ", "name": "又一个", "timezone": "Asia/Shanghai", "csrf_token": token},
    )
    assert again.status_code == 400 and "已存在" in again.get_data(as_text=True)
    for path, data in (
        ("/admin/units/new", {"code": "SCJG", "name": "市场监督管理局"}),
        (
            "/admin/windows/new",
            {"code": "W01", "name": "企业登记", "unit": "SCJG", "handles_cases": "y"},
        ),
        (
            "/admin/staff/new",
            {"staff_no": "S001", "name": "张敏", "window_code": "W01", "start_date": "2026-11-02"},
        ),
    ):
        assert _post(client, path, data).status_code == 302, path  # type: ignore[attr-defined]
    with app.app_context():
        hall = db.session.scalars(select(Hall)).one()
        text = _exports(hall)["hall"]
        assert 'code = "QJ"' in text and 'name = "winter"' in text
        assert _changes() == ["hall.create", "unit.add", "window.add", "staff.add"]
        assert _exports(hall)["roster"].endswith("S001,张敏,W01,2026-11-02,")


def test_only_an_admin_of_no_hall_creates_halls(
    app: Flask, login_as: Callable[..., FlaskClient], make_user: Callable[..., int]
) -> None:
    from tests.admin.conftest import sign_in

    assert login_as("leader").get("/admin/hall/new").status_code == 403
    make_user("hall-admin", "admin")  # in the only hall
    client = app.test_client()
    assert sign_in(client, "hall-admin") == 302
    assert client.get("/admin/hall/new").status_code == 403
    assert client.get("/admin/hall").status_code == 200
