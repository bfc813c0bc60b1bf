"""hall.toml's provincial codes and the loop's day counts in the back office (SPEC 2, 10, 11).

``[hall] area_code`` and ``[ratings] default_after_days``, ``callback_workdays`` and
``appeal_workdays`` on ``/admin/hall``, each unit's ``org_code`` on the unit form: checked
with the hall-file importer's own ranges and code checker, refused beside the field with
nothing changed, audited, and exported exactly as the same hall.toml imported.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.interchange import import_file
from kiosk.interchange.hallfile import LOOP_DAYS, hall_file_text, parse_hall_file
from kiosk.models import AuditEntry, Hall, Unit
from kiosk.services import hallsetup
from kiosk.services.hallsetup import SettingsInput, SetupError
from tests.admin.conftest import csrf_token
from tests.admin.test_hallsetup_service import _exports, _fresh_app, _import_example
from tests.admin.test_setup_pages import _hall_form
from tests.conftest import EXAMPLE_DIR

WAIT = 1.0
# Valid 统一社会信用代码 (their check characters computed by GB 32100).
SCJG_CODE = "11429005MB1234567K"
ZWB_CODE = "91350100M000100Y43"
WRONG_CHECK = "11429005MB1234567X"  # the SPEC's example as printed: its check is K


def _hall() -> Hall:
    return db.session.scalars(select(Hall)).one()


def _audits() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action != "import", ~AuditEntry.action.startswith("user."))
            .order_by(AuditEntry.id)
        )
    )


@pytest.fixture
def ctx(app: Flask, example_hall: Path) -> Iterator[Hall]:
    with app.app_context():
        yield _hall()


def _form(hall: Hall, **changes: str) -> SettingsInput:
    """The settings form as the page shows it, with ``changes``."""
    view = hallsetup.settings_view(db.session, hall)
    base: dict[str, Any] = {
        "schedules": view.schedules,
        "grace_minutes": str(view.grace_minutes),
        "debounce_seconds": str(view.debounce_seconds),
        "closed_days": "\n".join(view.closed_days),
        "extra_workdays": "\n".join(view.extra_workdays),
        "reasons": "\n".join(view.reasons),
        "default_after_days": str(view.default_after_days),
        "callback_workdays": str(view.callback_workdays),
        "appeal_workdays": str(view.appeal_workdays),
        "area_code": view.area_code,
    }
    return SettingsInput(**(base | changes))


def _save(hall: Hall, **changes: str) -> None:
    hallsetup.update_settings(
        db.session, hall, _form(hall, **changes), user_id=None, lock_wait=WAIT
    )
    db.session.commit()


def _imported_settings(extra_ratings: str = "", extra_hall: str = "") -> dict[str, Any]:
    """What importing the example hall.toml with these keys added stores as settings."""
    text = (EXAMPLE_DIR / "hall.toml").read_text("utf-8")
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"' + extra_hall)
    if extra_ratings:
        text += "\n[ratings]\n" + extra_ratings
    return parse_hall_file(text.encode()).settings


# ------------------------------------------------------------------------------ the service


def test_the_ranges_are_the_importers() -> None:
    importer = {key: (low, high) for key, low, high in LOOP_DAYS}
    assert importer == hallsetup.LOOP_RANGES
    assert set(hallsetup.LOOP_DEFAULTS) == set(hallsetup.LOOP_RANGES)
    assert hallsetup.LOOP_RANGES["callback_workdays"] == (1, 30)
    assert hallsetup.LOOP_RANGES["default_after_days"] == (0, 366)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("callback_workdays", 30),
        ("callback_workdays", 1),
        ("appeal_workdays", 30),
        ("appeal_workdays", 1),
        ("default_after_days", 366),
        ("default_after_days", 0),
    ],
)
def test_a_day_count_is_saved_at_its_bounds_as_an_import_stores_it(
    ctx: Hall, key: str, value: int
) -> None:
    first = 2 if value != 2 else 3  # set a value first, so saving the bound is a change
    _save(ctx, **{key: str(first)})
    _save(ctx, **{key: f" {value} "})
    db.session.expire_all()
    hall = _hall()
    assert hall.settings[key] == value
    assert hall.settings == _imported_settings(f"{key} = {value}\n")
    assert getattr(hallsetup.settings_view(db.session, hall), key) == value
    entry = _audits()[-1]
    assert (entry.action, entry.before, entry.after) == (
        "hall.settings",
        {key: first},
        {key: value},
    )


@pytest.mark.parametrize(
    ("key", "text", "words"),
    [
        ("callback_workdays", "0", "1 至 30"),
        ("callback_workdays", "31", "1 至 30"),
        ("appeal_workdays", "0", "1 至 30"),
        ("appeal_workdays", "31", "1 至 30"),
        ("appeal_workdays", "５", "1 至 30"),
        ("default_after_days", "367", "0 至 366"),
        ("default_after_days", "-1", "0 至 366"),
        ("callback_workdays", "", "整数"),
        ("callback_workdays", "2.5", "整数"),
    ],
)
def test_a_day_count_out_of_range_is_refused_beside_its_field(
    ctx: Hall, key: str, text: str, words: str
) -> None:
    settings = dict(ctx.settings)
    with pytest.raises(SetupError) as caught:
        hallsetup.update_settings(
            db.session, ctx, _form(ctx, **{key: text}), user_id=None, lock_wait=WAIT
        )
    db.session.rollback()
    assert set(caught.value.fields) == {key}
    assert words in caught.value.fields[key]
    assert dict(_hall().settings) == settings and _audits() == []


def test_a_day_count_left_at_its_default_stays_out_of_the_file(ctx: Hall) -> None:
    """Saving the page unchanged, day counts shown at their defaults, changes nothing."""
    before = hallsetup.export_hall_file(db.session, ctx)
    with pytest.raises(SetupError) as caught:
        hallsetup.update_settings(db.session, ctx, _form(ctx), user_id=None, lock_wait=WAIT)
    db.session.rollback()
    assert "没有变化" in caught.value.fields[""]
    _save(ctx, grace_minutes="6")
    text = hallsetup.export_hall_file(db.session, _hall())
    assert "callback_workdays" not in text and "appeal_workdays" not in text
    assert text == before.replace("grace_minutes = 5", "grace_minutes = 6")


def test_a_day_count_not_sent_is_kept(ctx: Hall) -> None:
    _save(ctx, appeal_workdays="9")
    form = dataclasses.replace(_form(_hall(), grace_minutes="7"), appeal_workdays=None)
    hallsetup.update_settings(db.session, _hall(), form, user_id=None, lock_wait=WAIT)
    db.session.commit()
    assert _hall().settings["appeal_workdays"] == 9


@pytest.mark.parametrize(
    ("text", "stored"),
    [("429005", "429005"), (" 110000 ", "110000"), ("４２９００５", "429005")],
)
def test_the_area_code_is_saved_and_audited(ctx: Hall, text: str, stored: str) -> None:
    _save(ctx, area_code=text)
    db.session.expire_all()
    hall = _hall()
    assert hall.area_code == stored
    assert hallsetup.settings_view(db.session, hall).area_code == stored
    entry = _audits()[-1]
    assert (entry.before, entry.after) == ({"area_code": None}, {"area_code": stored})
    imported = parse_hall_file(hallsetup.export_hall_file(db.session, hall).encode())
    assert imported.area_code == stored
    _save(hall, area_code="")
    db.session.expire_all()
    assert _hall().area_code is None
    assert "area_code" not in hallsetup.export_hall_file(db.session, _hall())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("42900", "6 位数字"),  # five digits
        ("4290050", "6 位数字"),
        ("42900A", "6 位数字"),
        ("999999", "“99”不是省级"),
        ("4" * 5000, "6 位数字"),
    ],
)
def test_a_bad_area_code_is_refused_beside_its_field(ctx: Hall, text: str, words: str) -> None:
    _save(ctx, area_code="429005")
    with pytest.raises(SetupError) as caught:
        hallsetup.update_settings(
            db.session,
            ctx,
            _form(ctx, area_code=text, grace_minutes="9"),
            user_id=None,
            lock_wait=WAIT,
        )
    db.session.rollback()
    assert set(caught.value.fields) == {"area_code"} and words in caught.value.fields["area_code"]
    db.session.expire_all()
    hall = _hall()
    assert hall.area_code == "429005" and hall.settings["grace_minutes"] == 5
    assert len(_audits()) == 1


def test_an_org_code_is_added_changed_removed_and_audited(ctx: Hall) -> None:
    hallsetup.add_unit(
        db.session,
        ctx,
        code="GAJ",
        name="市公安局",
        org_code=ZWB_CODE,
        user_id=None,
        lock_wait=WAIT,
    )
    hallsetup.edit_unit(
        db.session,
        ctx,
        code="SCJG",
        name="市场监督管理局",
        org_code=SCJG_CODE.lower(),
        user_id=None,
        lock_wait=WAIT,
    )
    db.session.commit()
    codes = {c: o for c, o in db.session.execute(select(Unit.code, Unit.org_code)).tuples()}
    assert codes == {"GAJ": ZWB_CODE, "SCJG": SCJG_CODE, "ZWB": None}
    assert [u.org_code for u in hallsetup.unit_lines(db.session, ctx)] == [ZWB_CODE, SCJG_CODE, ""]
    hallsetup.edit_unit(
        db.session, ctx, code="GAJ", name="公安局", org_code="", user_id=None, lock_wait=WAIT
    )
    hallsetup.edit_unit(
        db.session, ctx, code="SCJG", name="市场监管局", org_code=None, user_id=None, lock_wait=WAIT
    )
    db.session.commit()
    assert db.session.scalar(select(Unit.org_code).where(Unit.code == "GAJ")) is None
    assert db.session.scalar(select(Unit.org_code).where(Unit.code == "SCJG")) == SCJG_CODE
    assert [(e.action, e.before, e.after) for e in _audits()] == [
        ("unit.add", None, {"code": "GAJ", "name": "市公安局", "org_code": ZWB_CODE}),
        ("unit.edit", {"org_code": None}, {"org_code": SCJG_CODE}),
        (
            "unit.edit",
            {"name": "市公安局", "org_code": ZWB_CODE},
            {"name": "公安局", "org_code": None},
        ),
        ("unit.rename", {"name": "市场监督管理局"}, {"name": "市场监管局"}),
    ]
    with pytest.raises(SetupError) as caught:
        hallsetup.edit_unit(
            db.session,
            ctx,
            code="SCJG",
            name="市场监管局",
            org_code=SCJG_CODE,
            user_id=None,
            lock_wait=WAIT,
        )
    db.session.rollback()
    assert "没有任何变化" in caught.value.fields["name"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (WRONG_CHECK, "校验位"),
        ("91350100M000100Y44", "校验位"),
        ("91350100M000100Y4", "18 位，现为 17 位"),
        ("91350100I000100Y43", "不含 I、O、S、V、Z"),
        ("913501A0M000100Y43", "第 3 至 8 位"),
        ("9" * 5000, "18 位"),
    ],
)
def test_a_bad_org_code_is_refused_beside_its_field(ctx: Hall, text: str, words: str) -> None:
    with pytest.raises(SetupError) as caught:
        hallsetup.edit_unit(
            db.session, ctx, code="SCJG", name="新名称", org_code=text, user_id=None, lock_wait=WAIT
        )
    db.session.rollback()
    assert set(caught.value.fields) == {"org_code"} and words in caught.value.fields["org_code"]
    with pytest.raises(SetupError) as caught:
        hallsetup.add_unit(
            db.session,
            ctx,
            code="GAJ",
            name="市公安局",
            org_code=text,
            user_id=None,
            lock_wait=WAIT,
        )
    db.session.rollback()
    assert words in caught.value.fields["org_code"]
    units = db.session.execute(select(Unit.code, Unit.name, Unit.org_code).order_by(Unit.code))
    assert list(units.tuples()) == [
        ("SCJG", "市场监督管理局", None),
        ("ZWB", "市政务服务中心", None),
    ]
    assert _audits() == []


# ---------------------------------------------------------------------------------- the pages


def _unit_post(client: FlaskClient, path: str, **data: str) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_the_hall_page_shows_the_codes_and_terms_with_the_importers_ranges(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("admin")
    page = client.get("/admin/hall").get_data(as_text=True)
    for label in ("行政区划代码（6位", "回访时限（工作日", "申诉时限（工作日", "默认评价（自然日"):
        assert label in page
    assert re.search(r'name="callback_workdays" value="1" min="1" max="30"', page)
    assert re.search(r'name="appeal_workdays" value="5" min="1" max="30"', page)
    assert re.search(r'name="default_after_days" value="0" min="0" max="366"', page)
    assert 'name="area_code" value=""' in page
    english = client.get("/admin/hall?lang=en").get_data(as_text=True)
    assert "Callback term (workdays, callback_workdays)" in english
    assert "Administrative division code (6 digits, area_code)" in english


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("callback_workdays", "0", False),
        ("callback_workdays", "1", True),
        ("callback_workdays", "30", True),
        ("callback_workdays", "31", False),
        ("appeal_workdays", "0", False),
        ("appeal_workdays", "1", True),
        ("appeal_workdays", "30", True),
        ("appeal_workdays", "31", False),
        ("default_after_days", "366", True),
        ("default_after_days", "367", False),
        ("area_code", "42900", False),
        ("area_code", "429005", True),
    ],
)
def test_the_hall_page_saves_or_refuses_each_field_at_its_bounds(
    app: Flask, login_as: Callable[..., FlaskClient], field: str, value: str, ok: bool
) -> None:
    client = login_as("admin")
    # A first value of another kind, so that saving the bound is always a change.
    assert (
        client.post(
            "/admin/hall",
            data=_hall_form(client, **{field: {"area_code": "110000"}.get(field, "2")}),
        ).status_code
        == 302
    )
    with app.app_context():
        before = (dict(_hall().settings), _hall().area_code, len(_audits()))
    response = client.post("/admin/hall", data=_hall_form(client, **{field: value}))
    page = response.get_data(as_text=True)
    with app.app_context():
        hall = _hall()
        now = (dict(hall.settings), hall.area_code, len(_audits()))
        stored = hall.area_code if field == "area_code" else hall.settings[field]
    if ok:
        assert response.status_code == 302
        assert str(stored) == value and now[2] == before[2] + 1
        follow = client.get("/admin/hall").get_data(as_text=True)
        assert f'name="{field}" value="{value}"' in follow
    else:
        assert response.status_code == 400 and now == before
        message = re.search(rf'<span class="field-error" id="{field}-error">([^<]+)</span>', page)
        assert message, page[-3000:]
        assert (
            "1 至 30" if "workdays" in field else "0 至 366" if "after" in field else "6 位数字"
        ) in message.group(1)
        assert f'name="{field}" value="{value}"' in page  # shown as sent, to correct


def test_the_unit_form_edits_the_org_code_and_the_list_shows_it(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    form = client.get("/admin/units/SCJG").get_data(as_text=True)
    assert "统一社会信用代码（18位，org_code）" in form and 'name="org_code"' in form
    refused = _unit_post(client, "/admin/units/SCJG", name="市场监督管理局", org_code=WRONG_CHECK)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert re.search(r'id="org_code-error">[^<]*校验位', page)
    assert f'value="{WRONG_CHECK}"' in page
    with app.app_context():
        assert db.session.scalar(select(Unit.org_code).where(Unit.code == "SCJG")) is None
        assert _audits() == []
    done = _unit_post(client, "/admin/units/SCJG", name="市场监督管理局", org_code=SCJG_CODE)
    assert done.status_code == 302
    listed = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已更新单位 SCJG" in listed
    assert re.search(rf'data-unit="SCJG">.*?<td>{SCJG_CODE}</td>', listed)
    assert 'data-unit="ZWB"><td>ZWB</td><td>市政务服务中心</td><td>—</td>' in listed
    assert f'value="{SCJG_CODE}"' in client.get("/admin/units/SCJG").get_data(as_text=True)
    added = _unit_post(client, "/admin/units/new", code="GAJ", name="市公安局", org_code=ZWB_CODE)
    assert added.status_code == 302
    bad_new = _unit_post(client, "/admin/units/new", code="GA2", name="某局", org_code="123")
    assert bad_new.status_code == 400 and "18 位" in bad_new.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Unit.org_code).where(Unit.code == "GAJ")) == ZWB_CODE
        assert db.session.scalar(select(func.count(Unit.id))) == 3
        assert [e.action for e in _audits()] == ["unit.edit", "unit.add"]
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "修改单位" in audit and "统一社会信用代码" in audit


@pytest.mark.parametrize("role", ["leader", "duty"])
def test_readers_see_the_codes_and_terms_and_change_none(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role)
    page = client.get("/admin/hall").get_data(as_text=True)
    assert re.search(r'name="callback_workdays" value="1" [^>]*readonly', page)
    assert re.search(r'name="area_code" value="" [^>]*readonly', page)
    assert "统一社会信用代码" in client.get("/admin/units").get_data(as_text=True)
    assert client.get("/admin/units/SCJG").status_code == 403
    token = csrf_token(client, "/admin/hall")
    with app.app_context():
        settings = dict(_hall().settings)
    for path, data in (
        ("/admin/hall", {"callback_workdays": "3", "area_code": "429005"}),
        ("/admin/units/SCJG", {"name": "市场监督管理局", "org_code": SCJG_CODE}),
        ("/admin/units/new", {"code": "GAJ", "name": "市公安局", "org_code": SCJG_CODE}),
    ):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    with app.app_context():
        hall = _hall()
        assert dict(hall.settings) == settings and hall.area_code is None
        assert (
            db.session.scalar(select(func.count(Unit.id).filter(Unit.org_code.is_not(None)))) == 0
        )
        assert _audits() == []


def test_a_unit_viewer_and_a_visitor_reach_none_of_it(
    client: FlaskClient, login_as: Callable[..., FlaskClient]
) -> None:
    for path in ("/admin/hall", "/admin/units/SCJG"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    viewer = login_as("unit", unit="ZWB")
    for path in ("/admin/hall", "/admin/units", "/admin/units/SCJG"):
        assert viewer.get(path).status_code == 403, path


def test_a_browser_change_exports_as_the_same_hall_toml_imported(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    database_template: dict[str, object],
    tmp_path: Path,
) -> None:
    """SPEC 10: the codes and the day counts changed in the browser export exactly as if
    the same hall.toml had been imported (both writers: the page's and ``export hall``)."""
    client = login_as("admin")
    changes = {
        "area_code": "429005",
        "callback_workdays": "2",
        "appeal_workdays": "30",
        "default_after_days": "7",
    }
    assert client.post("/admin/hall", data=_hall_form(client, **changes)).status_code == 302
    posted = _unit_post(client, "/admin/units/ZWB", name="市政务服务中心", org_code=ZWB_CODE)
    assert posted.status_code == 302
    with app.app_context():
        hall = _hall()
        by_form = _exports(hall) | {"export hall": hall_file_text(hall)}
        form_settings = dict(hall.settings)
        db.session.remove()
        db.engine.dispose()

    other = _fresh_app(database_template, tmp_path, "imported")
    with other.app_context():
        _import_example()
        text = (EXAMPLE_DIR / "hall.toml").read_text("utf-8")
        text = text.replace(
            'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\narea_code = "429005"'
        )
        text = text.replace(
            'name = "市政务服务中心"', f'name = "市政务服务中心"\norg_code = "{ZWB_CODE}"'
        )
        text += "\n[ratings]\ndefault_after_days = 7\ncallback_workdays = 2\nappeal_workdays = 30\n"
        import_file(db.session, "hall", text.encode())
        db.session.commit()
        hall = _hall()
        by_import = _exports(hall) | {"export hall": hall_file_text(hall)}
        assert dict(hall.settings) == form_settings
        db.session.remove()
        db.engine.dispose()
    assert by_form == by_import
    assert (
        'area_code = "429005"' in by_form["hall"] and f'org_code = "{ZWB_CODE}"' in by_form["hall"]
    )
    assert "callback_workdays = 2" in by_form["export hall"]
