"""The weekly attendance notice and the audit log page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.services.halls import resolve_hall
from kiosk.services.reports import parse_week, weekly_report


def test_weekly_report_counts_per_person_and_unit(app: Flask, example_hall: object) -> None:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        # Week of Mon 5 Oct 2026: 1–7 Oct holiday, Thu 8, Fri 9 and Sat 10 (make-up) work.
        report = weekly_report(db.session, hall, dt.date(2026, 10, 5))
        assert report.workdays == (
            dt.date(2026, 10, 8),
            dt.date(2026, 10, 9),
            dt.date(2026, 10, 10),
        )
        people = {p.staff_no: p for u in report.units for p in u.people}
        assert people["S005"].totals.absent_half_days == 2  # no punches on Sat 10 Oct
        assert "S007" not in people  # starts 12 Oct
        assert people["S001"].totals.defects == 0 and people["S001"].totals.workdays == 3
        units = {u.code: u for u in report.units}
        assert units["SCJG"].totals.absent_half_days == sum(
            p.totals.absent_half_days for p in units["SCJG"].people
        )
        assert report.totals.defects == sum(u.totals.defects for u in report.units)


def test_parse_week_accepts_week_or_date_and_explains_errors() -> None:
    today = dt.date(2026, 11, 26)
    assert parse_week(None, today) == dt.date(2026, 11, 23)
    assert parse_week("2026-W41", today) == dt.date(2026, 10, 5)
    assert parse_week("2026-10-08", today) == dt.date(2026, 10, 5)
    try:
        parse_week("last week", today)
    except ValueError as exc:
        assert "2026-W45" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_unit_viewer_sees_only_own_unit(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="ZWB")
    page = client.get("/admin/reports/weekly?week=2026-W41").get_data(as_text=True)
    assert 'data-staff="S004"' in page  # W03 is a window of ZWB
    for other in ("S001", "S002", "S005", "S006"):
        assert f'data-staff="{other}"' not in page
    assert "市场监督管理局" not in page


def test_weekly_page_for_duty_has_every_unit(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    page = client.get("/admin/reports/weekly?week=2026-W41")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-staff="S001"' in text and 'data-staff="S004"' in text
    bad = client.get("/admin/reports/weekly?week=nonsense").get_data(as_text=True)
    assert "不是有效的周" in bad


def test_audit_page_is_for_admins_only(
    client: FlaskClient, login_as: Callable[..., FlaskClient], make_user: Callable[..., int]
) -> None:
    duty = login_as("duty")
    assert duty.get("/admin/audit").status_code == 403
    with duty.session_transaction() as session:
        session.clear()
    make_user("boss", "admin")
    from tests.admin.conftest import sign_in

    assert sign_in(client, "boss") == 302
    page = client.get("/admin/audit")
    assert page.status_code == 200 and "创建用户" in page.get_data(as_text=True)


def test_appraisal_sheet_collects_published_periods(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    from tests.admin.test_publishing import _publish

    client = login_as("leader")
    _publish(app)
    page = client.get("/admin/reports/appraisal?year=2026&scope=h2")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        'data-sheet="S001"' in text
        and "2026年第5期（9—10月）" in text
        and "2026年第4期（7—8月）" in text
    )  # B4 missing
    with app.test_request_context():
        from kiosk.services.appraisal import appraisal

        sheet = appraisal(db.session, resolve_hall(db.session, None), 2026, "year")
        assert sheet.periods == ["2026-B5"]
        s005 = next(p for p in sheet.people if p.staff_no == "S005")
        assert s005.vetoed_periods == 1 and s005.total("absent_half_days") == 2
        only_zwb = appraisal(db.session, resolve_hall(db.session, None), 2026, "year", "ZWB")
        assert [p.staff_no for p in only_zwb.people] == ["S004"]


def test_appraisal_is_refused_to_duty_officers(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    assert client.get("/admin/reports/appraisal").status_code == 403


def test_weekly_details_do_not_count_an_absent_session_as_missing_punches(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("duty")
    page = client.get("/admin/reports/weekly?week=2026-W41").get_data(as_text=True)
    row = page.split('data-staff="S005"')[1].split("</tr>")[0]
    assert "旷工半天×2" in row and "缺卡" not in row


def test_weekly_report_for_one_unit(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    page = client.get("/admin/reports/weekly?week=2026-W41&unit=ZWB").get_data(as_text=True)
    assert 'data-staff="S004"' in page and 'data-staff="S001"' not in page
    bad = client.get("/admin/reports/weekly?week=2026-W41&unit=NOPE").get_data(as_text=True)
    assert "没有代码为" in bad and 'data-staff="S001"' in bad


def test_unit_viewer_cannot_widen_the_weekly_report(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="ZWB")
    page = client.get("/admin/reports/weekly?week=2026-W41&unit=SCJG").get_data(as_text=True)
    assert 'data-staff="S004"' in page and 'data-staff="S001"' not in page
