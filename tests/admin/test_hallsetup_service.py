"""The set-up services of SPEC 10 (kiosk.services.hallsetup, kiosk.services.staffing).

Each change is checked field by field, stored through the importer and audited; the
decisive test makes the same change by the service and by an import into two databases
and compares what they export.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from kiosk import create_app
from kiosk.extensions import db
from kiosk.interchange import export_rows, import_file
from kiosk.interchange.hallfile import parse_hall_file
from kiosk.models import Assignment, AuditEntry, Hall, Staff, StaffPhoto, Unit, Window
from kiosk.services import hallsetup, staffing
from kiosk.services.hallsetup import ScheduleInput, SettingsInput, SetupError
from tests.conftest import EXAMPLE_DIR, _base_config, _empty_postgresql

WAIT = 1.0


def _hall() -> Hall:
    return db.session.scalars(select(Hall)).one()


@pytest.fixture
def ctx(app: Flask, example_hall: Path) -> Iterator[Hall]:
    with app.app_context():
        yield _hall()


def _settings_input(view: hallsetup.SettingsView, **changes: object) -> SettingsInput:
    base = {
        "schedules": view.schedules,
        "grace_minutes": str(view.grace_minutes),
        "debounce_seconds": str(view.debounce_seconds),
        "closed_days": "\n".join(view.closed_days),
        "extra_workdays": "\n".join(view.extra_workdays),
        "reasons": "\n".join(view.reasons),
    }
    base.update(changes)
    return SettingsInput(**base)  # type: ignore[arg-type]


def test_the_hall_file_written_reads_back_as_the_imported_one(ctx: Hall) -> None:
    text = hallsetup.export_hall_file(db.session, ctx)
    again = parse_hall_file(text.encode())
    original = parse_hall_file((EXAMPLE_DIR / "hall.toml").read_bytes())
    assert again == original
    assert tomllib.loads(text)["window"][2] == {
        "code": "W03",
        "name": "综合咨询",
        "unit": "ZWB",
        "handles_cases": False,
    }


def test_add_and_rename_a_unit_audited(ctx: Hall) -> None:
    hallsetup.add_unit(db.session, ctx, code="GAJ", name="市公安局", user_id=None, lock_wait=WAIT)
    hallsetup.rename_unit(
        db.session, ctx, code="GAJ", name="市公安局出入境", user_id=None, lock_wait=WAIT
    )
    db.session.commit()
    assert db.session.scalar(select(Unit.name).where(Unit.code == "GAJ")) == "市公安局出入境"
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action != "import").order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.before, e.after) for e in entries] == [
        ("unit.add", None, {"code": "GAJ", "name": "市公安局"}),
        ("unit.rename", {"name": "市公安局"}, {"name": "市公安局出入境"}),
    ]


@pytest.mark.parametrize(
    ("code", "name", "field", "words"),
    [
        ("SCJG", "又一个", "code", "已存在"),
        ("", "名称", "code", "请填写"),
        ("X" * 33, "名称", "code", "32"),
        ("A B", "名称", "code", "字母"),
        ("NEW", "", "name", "请填写"),
        ("NEW", "名" * 201, "name", "200"),
        ("NEW", "名\x00称", "name", "控制字符"),
    ],
)
def test_a_bad_unit_is_refused_beside_its_field(
    ctx: Hall, code: str, name: str, field: str, words: str
) -> None:
    with pytest.raises(SetupError) as caught:
        hallsetup.add_unit(db.session, ctx, code=code, name=name, user_id=None, lock_wait=WAIT)
    db.session.rollback()
    assert words in caught.value.fields[field]
    assert db.session.scalar(select(db.func.count(Unit.id))) == 2


def test_add_and_edit_a_window(ctx: Hall) -> None:
    hallsetup.add_window(
        db.session,
        ctx,
        code="W05",
        name="不动产登记",
        unit="ZWB",
        handles_cases=True,
        user_id=None,
        lock_wait=WAIT,
    )
    hallsetup.edit_window(
        db.session,
        ctx,
        code="W05",
        name="不动产登记",
        unit="SCJG",
        handles_cases=False,
        user_id=None,
        lock_wait=WAIT,
    )
    db.session.commit()
    window = db.session.scalars(select(Window).where(Window.code == "W05")).one()
    assert (window.unit.code, window.handles_cases) == ("SCJG", False)
    edit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "window.edit")).one()
    assert edit.before == {"unit": "ZWB", "handles_cases": True}
    assert edit.after == {"unit": "SCJG", "handles_cases": False}


@pytest.mark.parametrize(
    ("code", "unit", "field"),
    [("W01", "SCJG", "code"), ("W09", "NOPE", "unit"), ("W09", "", "unit"), ("", "ZWB", "code")],
)
def test_a_bad_window_is_refused(ctx: Hall, code: str, unit: str, field: str) -> None:
    with pytest.raises(SetupError) as caught:
        hallsetup.add_window(
            db.session,
            ctx,
            code=code,
            name="窗口",
            unit=unit,
            handles_cases=True,
            user_id=None,
            lock_wait=WAIT,
        )
    db.session.rollback()
    assert field in caught.value.fields
    assert db.session.scalar(select(db.func.count(Window.id))) == 4


def test_settings_change_is_stored_as_the_import_stores_it(ctx: Hall) -> None:
    view = hallsetup.settings_view(db.session, ctx)
    assert view.grace_minutes == 5 and view.closed_days == ("2026-10-16",)
    winter = view.schedules[0]
    changed = ScheduleInput(
        winter.name, winter.start, winter.end, "09:00", "12:00", "14:00", "17:30"
    )
    stored = hallsetup.update_settings(
        db.session,
        ctx,
        _settings_input(
            view,
            schedules=(changed, view.schedules[1]),
            grace_minutes="10",
            closed_days="2026-10-16, 2026-12-24",
            reasons="态度不好\n效率低",
        ),
        user_id=None,
        lock_wait=WAIT,
    )
    db.session.commit()
    assert stored["schedules"][0]["am"] == ["09:00", "12:00"]
    assert stored["grace_minutes"] == 10
    assert stored["closed_days"] == ["2026-10-16", "2026-12-24"]
    assert stored["rating_reasons"] == ["态度不好", "效率低"]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "hall.settings")).one()
    assert set(entry.after) == {"schedules", "grace_minutes", "closed_days", "rating_reasons"}
    assert entry.before["grace_minutes"] == 5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grace_minutes": "121"}, "grace_minutes"),
        ({"grace_minutes": "-1"}, "grace_minutes"),
        ({"grace_minutes": "五"}, "grace_minutes"),
        ({"debounce_seconds": "99999999999"}, "debounce_seconds"),
        ({"closed_days": "2026-13-01"}, "closed_days"),
        ({"closed_days": "1999-12-31"}, "closed_days"),
        ({"extra_workdays": "2026-10-16"}, "extra_workdays"),
        ({"reasons": ""}, "reasons"),
        ({"reasons": "a|b"}, "reasons"),
        ({"reasons": "长" * 51}, "reasons"),
        ({"schedules": ()}, "schedule-0-from"),
        (
            {
                "schedules": (
                    ScheduleInput("x", "13-01", "04-30", "08:30", "12:00", "14:00", "17:30"),
                )
            },
            "schedule-0-from",
        ),
        (
            {
                "schedules": (
                    ScheduleInput("x", "10-01", "04-30", "12:00", "08:30", "14:00", "17:30"),
                )
            },
            "schedule-0-am-end",
        ),
        (
            {
                "schedules": (
                    ScheduleInput("x", "10-01", "04-30", "08:30", "12:00", "25:00", "17:30"),
                )
            },
            "schedule-0-pm-start",
        ),
        (
            {
                "schedules": (
                    ScheduleInput("x", "10-01", "04-30", "08:30", "15:00", "14:00", "17:30"),
                )
            },
            "schedule-0-pm-start",
        ),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(
    ctx: Hall, changes: dict[str, object], field: str
) -> None:
    before = dict(ctx.settings)
    view = hallsetup.settings_view(db.session, ctx)
    with pytest.raises(SetupError) as caught:
        hallsetup.update_settings(
            db.session, ctx, _settings_input(view, **changes), user_id=None, lock_wait=WAIT
        )
    db.session.rollback()
    assert field in caught.value.fields, caught.value.fields
    assert _hall().settings == before


def test_add_move_and_leave_a_person(ctx: Hall) -> None:
    staffing.add_staff(
        db.session,
        ctx,
        staff_no="S100",
        name="王小明",
        window_code="W01",
        start_date="2026-09-01",
        user_id=None,
        lock_wait=WAIT,
    )
    staffing.move_staff(
        db.session,
        ctx,
        staff_no="S100",
        window_code="W02",
        start_date="2026-10-15",
        user_id=None,
        lock_wait=WAIT,
    )
    staffing.end_assignment(
        db.session, ctx, staff_no="S100", end_date="2026-11-30", user_id=None, lock_wait=WAIT
    )
    db.session.commit()
    rows = [r for r in export_rows(db.session, "roster", ctx, None, None) if r[0] == "S100"]
    assert rows == [
        ["S100", "王小明", "W01", "2026-09-01", "2026-10-14"],
        ["S100", "王小明", "W02", "2026-10-15", "2026-11-30"],
    ]
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action != "import").order_by(AuditEntry.id)
    ).all()
    assert actions == ["staff.add", "staff.move", "staff.leave"]
    move = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.move")).one()
    assert move.before == {"window_code": "W01", "start_date": "2026-09-01", "end_date": None}
    page = staffing.person_view(db.session, ctx, "S100", dt.date(2026, 12, 5))
    assert page.line.left and [h.window_code for h in page.history] == ["W02", "W01"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"staff_no": "S001"}, "staff_no"),  # taken
        ({"staff_no": "S" * 33}, "staff_no"),
        ({"name": "名" * 101}, "name"),
        ({"window_code": "W99"}, "window_code"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "0001-01-01"}, "start_date"),
        ({"start_date": "2026-9-1"}, "start_date"),
        ({"end_date": "2026-08-01"}, "end_date"),
    ],
)
def test_a_bad_new_person_is_refused(ctx: Hall, fields: dict[str, str], field: str) -> None:
    args = {
        "staff_no": "S100",
        "name": "王小明",
        "window_code": "W01",
        "start_date": "2026-09-01",
        **fields,
    }
    count = db.session.scalar(select(db.func.count(Staff.id)))
    with pytest.raises(SetupError) as caught:
        staffing.add_staff(db.session, ctx, user_id=None, lock_wait=WAIT, **args)
    db.session.rollback()
    assert field in caught.value.fields, caught.value.fields
    assert db.session.scalar(select(db.func.count(Staff.id))) == count


def test_an_overlapping_move_and_a_bad_leave_are_refused(ctx: Hall) -> None:
    person = db.session.scalars(select(Staff).where(Staff.staff_no == "S001")).one()
    start = max(a.start_date for a in person.assignments)
    count = db.session.scalar(select(db.func.count(Assignment.id)))
    for window, day, field in (
        ("W02", start.isoformat(), "start_date"),
        ("W02", (start - dt.timedelta(days=10)).isoformat(), "start_date"),
        ("W99", (start + dt.timedelta(days=10)).isoformat(), "window_code"),
        ("W02", "2026-02-31", "start_date"),
    ):
        with pytest.raises(SetupError) as caught:
            staffing.move_staff(
                db.session,
                ctx,
                staff_no="S001",
                window_code=window,
                start_date=day,
                user_id=None,
                lock_wait=WAIT,
            )
        db.session.rollback()
        assert field in caught.value.fields
    with pytest.raises(SetupError) as caught:
        staffing.end_assignment(
            db.session,
            ctx,
            staff_no="S001",
            end_date=(start - dt.timedelta(days=1)).isoformat(),
            user_id=None,
            lock_wait=WAIT,
        )
    db.session.rollback()
    assert "end_date" in caught.value.fields
    with pytest.raises(SetupError) as caught:
        staffing.move_staff(
            db.session,
            ctx,
            staff_no="NOBODY",
            window_code="W02",
            start_date="2026-12-01",
            user_id=None,
            lock_wait=WAIT,
        )
    assert caught.value.code == "not_found"
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(Assignment.id))) == count


def test_the_staff_list_searches_filters_and_pages(ctx: Hall) -> None:
    today = dt.date(2026, 10, 20)
    everyone = staffing.staff_page(db.session, ctx, today=today)
    assert everyone.total == db.session.scalar(select(db.func.count(Staff.id)))
    first = everyone.lines[0]
    assert staffing.staff_page(db.session, ctx, today=today, q=first.name).lines[0] == first
    by_window = staffing.staff_page(db.session, ctx, today=today, window=first.window_code)
    assert by_window.total >= 1 and all(x.window_code == first.window_code for x in by_window.lines)
    by_unit = staffing.staff_page(db.session, ctx, today=today, unit="ZWB")
    assert all(x.unit_code == "ZWB" for x in by_unit.lines)
    for n in range(30):
        staffing.add_staff(
            db.session,
            ctx,
            staff_no=f"T{n:03d}",
            name=f"测试{n}",
            window_code="W04",
            start_date="2026-09-01",
            user_id=None,
            lock_wait=WAIT,
        )
    second = staffing.staff_page(db.session, ctx, today=today, q="T", page=2)
    assert second.total == 30 and second.pages == 2 and len(second.lines) == 5
    assert staffing.staff_page(db.session, ctx, today=today, q="T", page=99).page == 2


def _jpeg(width: int = 1200, height: int = 1600, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def test_a_photo_is_resized_and_stored(ctx: Hall) -> None:
    photo = staffing.save_photo(db.session, ctx, staff_no="S001", data=_jpeg(), user_id=None)
    db.session.commit()
    assert (photo.width, photo.height) == (480, 640)
    with Image.open(io.BytesIO(photo.content)) as image:
        assert image.format == "JPEG" and image.size == (480, 640)
    png = staffing.save_photo(
        db.session, ctx, staff_no="S001", data=_jpeg(300, 300, "PNG"), user_id=None
    )
    db.session.commit()
    assert (png.width, png.height) == (300, 300)
    assert db.session.scalar(select(db.func.count(StaffPhoto.id))) == 1
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "staff.photo")).all()
    assert entries[1].before["sha256"] == entries[0].after["sha256"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a not really",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        _jpeg()[:200],  # truncated: the header reads, the pixels do not
        b"x" * (staffing.PHOTO_MAX_BYTES + 1),
    ],
)
def test_a_bad_photo_is_refused(ctx: Hall, data: bytes) -> None:
    with pytest.raises(SetupError) as caught:
        staffing.save_photo(db.session, ctx, staff_no="S001", data=data, user_id=None)
    db.session.rollback()
    assert "photo" in caught.value.fields
    assert db.session.scalar(select(db.func.count(StaffPhoto.id))) == 0


def test_a_gif_is_refused_by_what_it_decodes_to(ctx: Hall) -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(SetupError):
        staffing.save_photo(db.session, ctx, staff_no="S001", data=out.getvalue(), user_id=None)


def test_the_month_of_a_person_uses_the_attendance_rules(ctx: Hall) -> None:
    month = staffing.person_month(
        db.session, ctx, "S005", dt.date(2026, 10, 1), now=dt.datetime(2026, 11, 5)
    )
    days = {r.record.day: r.record for r in month.attendance.records}
    assert dt.date(2026, 10, 16) not in days  # a closed day of the hall file
    assert any(s.status == "missing" for s in days[dt.date(2026, 10, 10)].slots)
    assert month.punches and all(p.local_time.month == 10 for p in month.punches)


# --------------------------------------------------- the same change by form and by import


def _exports(hall: Hall) -> dict[str, str]:
    out = {"hall": hallsetup.export_hall_file(db.session, hall)}
    for kind in ("roster",):
        out[kind] = "\n".join(",".join(r) for r in export_rows(db.session, kind, hall, None, None))
    return out


def _fresh_app(template: dict[str, object], tmp_path: Path, name: str) -> Flask:
    """An app on an empty, migrated database: a copy of the template (SQLite), the
    session's database emptied (PostgreSQL)."""
    if template["backend"] == "postgresql":
        _empty_postgresql(str(template["uri"]))
        uri = str(template["uri"])
    else:
        path = tmp_path / f"{name}.sqlite"
        shutil.copyfile(str(template["template"]), path)
        uri = f"sqlite:///{path}"
    instance = tmp_path / f"instance-{name}"
    instance.mkdir()
    return create_app(_base_config(uri, instance))


def _import_example(kinds: tuple[str, ...] = ("hall", "roster")) -> None:
    for kind in kinds:
        name = "hall.toml" if kind == "hall" else f"{kind}.csv"
        import_file(db.session, kind, (EXAMPLE_DIR / name).read_bytes())


def test_a_browser_change_exports_as_the_same_change_imported(
    database_template: dict[str, object], tmp_path: Path
) -> None:
    by_form = _fresh_app(database_template, tmp_path, "form")
    with by_form.app_context():
        _import_example()
        hall = _hall()
        hallsetup.add_unit(
            db.session, hall, code="GAJ", name="市公安局", user_id=None, lock_wait=WAIT
        )
        hallsetup.add_window(
            db.session,
            hall,
            code="W05",
            name="出入境",
            unit="GAJ",
            handles_cases=True,
            user_id=None,
            lock_wait=WAIT,
        )
        hallsetup.edit_window(
            db.session,
            hall,
            code="W04",
            name="备用窗口",
            unit="ZWB",
            handles_cases=False,
            user_id=None,
            lock_wait=WAIT,
        )
        view = hallsetup.settings_view(db.session, hall)
        hallsetup.update_settings(
            db.session,
            hall,
            _settings_input(view, grace_minutes="3", extra_workdays="2026-09-12\n2026-11-07"),
            user_id=None,
            lock_wait=WAIT,
        )
        staffing.add_staff(
            db.session,
            hall,
            staff_no="S900",
            name="李华",
            window_code="W05",
            start_date="2026-10-01",
            user_id=None,
            lock_wait=WAIT,
        )
        staffing.move_staff(
            db.session,
            hall,
            staff_no="S900",
            window_code="W01",
            start_date="2026-11-01",
            user_id=None,
            lock_wait=WAIT,
        )
        staffing.end_assignment(
            db.session, hall, staff_no="S900", end_date="2026-12-31", user_id=None, lock_wait=WAIT
        )
        db.session.commit()
        form_exports = _exports(hall)
        db.session.remove()
        db.engine.dispose()

    by_import = _fresh_app(database_template, tmp_path, "import")
    with by_import.app_context():
        _import_example()
        text = (EXAMPLE_DIR / "hall.toml").read_text(encoding="utf-8")
        text = text.replace("grace_minutes = 5", "grace_minutes = 3")
        text = text.replace(
            'extra_workdays = ["2026-09-12"]', 'extra_workdays = ["2026-09-12", "2026-11-07"]'
        )
        text = text.replace(
            'name = "备用窗口"\nunit = "ZWB"\nhandles_cases = true',
            'name = "备用窗口"\nunit = "ZWB"\nhandles_cases = false',
        )
        text += '\n[[unit]]\ncode = "GAJ"\nname = "市公安局"\n\n[[window]]\ncode = "W05"\nname = "出入境"\nunit = "GAJ"\nhandles_cases = true\n'
        import_file(db.session, "hall", text.encode())
        roster = "staff_no,name,window_code,start_date,end_date\nS900,李华,W05,2026-10-01,2026-10-31\nS900,李华,W01,2026-11-01,2026-12-31\n"
        import_file(db.session, "roster", roster.encode())
        hall = _hall()
        import_exports = _exports(hall)
        assert dict(hall.settings)["grace_minutes"] == 3
        db.session.remove()
        db.engine.dispose()
    assert form_exports == import_exports


def test_a_schedule_that_never_applies_is_named(ctx: Hall) -> None:
    settings = dict(ctx.settings)
    assert hallsetup.unused_schedules(settings) == []
    holiday = {
        "name": "国庆",
        "from": "10-01",
        "to": "10-07",
        "am": ["09:00", "12:00"],
        "pm": ["14:00", "17:00"],
    }
    assert hallsetup.unused_schedules(
        {**settings, "schedules": [*settings["schedules"], holiday]}
    ) == ["国庆"]
    assert (
        hallsetup.unused_schedules({**settings, "schedules": [holiday, *settings["schedules"]]})
        == []
    )


def test_a_change_in_the_browser_keeps_every_key_the_hall_file_gave(
    app: Flask, tmp_path: Path
) -> None:
    """The provincial codes, the loop's days and the alert thresholds survive a rename."""
    text = (EXAMPLE_DIR / "hall.toml").read_text("utf-8")
    text = text.replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghai"\narea_code = "420102"', 1
    )
    text += "\n[alerts]\nburst_minutes = 20\nburst_bad_share = 0.4\n"
    doc = tomllib.loads(text)
    doc.setdefault("ratings", {}).update(callback_workdays=2, default_after_days=7)
    doc["unit"][0]["org_code"] = "11429005MB1234567K"
    with app.app_context():
        import_file(
            db.session, "hall", hallsetup.hall_toml(doc).encode(), None, source_name="hall.toml"
        )
        db.session.commit()
        hall = _hall()
        first_code = doc["unit"][0]["code"]
        before = hallsetup.export_hall_file(db.session, hall)
        hallsetup.rename_unit(
            db.session, hall, code=first_code, name="新名称", user_id=None, lock_wait=WAIT
        )
        db.session.commit()
        db.session.expire_all()
        hall = _hall()
        after = tomllib.loads(hallsetup.export_hall_file(db.session, hall))
    assert after["hall"]["area_code"] == "420102"
    assert after["ratings"]["callback_workdays"] == 2
    assert after["ratings"]["default_after_days"] == 7
    assert after["alerts"] == {"burst_minutes": 20, "burst_bad_share": 0.4}
    renamed = next(u for u in after["unit"] if u["code"] == first_code)
    assert renamed["name"] == "新名称"
    assert renamed["org_code"] == "11429005MB1234567K"
    assert "org_code" in before
