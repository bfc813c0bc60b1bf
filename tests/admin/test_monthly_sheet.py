"""The monthly attendance sheet (考勤月报): on screen, in Excel, by role (issue 15)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from kiosk.extensions import db
from kiosk.models import Hall
from kiosk.services.insight import monthly_sheet


@pytest.mark.parametrize(
    ("role", "status"), [("duty", 200), ("leader", 200), ("unit", 200), ("admin", 200)]
)
def test_who_opens_the_sheet(login_as: Callable[..., FlaskClient], role: str, status: int) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/reports/monthly?month=2026-10").status_code == status
    assert client.get("/admin/reports/monthly.xlsx?month=2026-10").status_code == status


def test_anonymous_is_sent_to_sign_in(client: FlaskClient, example_hall) -> None:
    assert client.get("/admin/reports/monthly?month=2026-10").status_code == 302


def test_sheet_lines_match_the_day_records(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    html = client.get("/admin/reports/monthly?month=2026-09").get_data(as_text=True)
    assert "2026年9月考勤月报" in html and "市场监督管理局" in html and "市政务服务中心" in html
    with app.test_request_context():
        hall = db.session.scalars(db.select(Hall)).one()
        sheet = monthly_sheet(db.session, hall, 2026, 9)
    scjg = next(u for u in sheet.units if u.code == "SCJG")
    numbers = [p.staff_no for p in scjg.people]
    assert numbers == sorted(numbers) and "S001" in numbers
    # S003 moved from W01 (SCJG) to W02 (SCJG) on 09-25: one line, both windows.
    s003 = next(p for p in scjg.people if p.staff_no == "S003")
    assert s003.windows == ("W01", "W02")
    # S004 had a day of leave on 2026-09-10: two half-days of leave.
    s004 = next(p for u in sheet.units for p in u.people if p.staff_no == "S004")
    assert s004.line.leave_half_days >= 2
    assert scjg.totals.workdays == sum(p.line.workdays for p in scjg.people)
    assert f'data-staff="{s004.staff_no}"' in html


def test_unit_viewer_sees_only_their_unit(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="SCJG")
    html = client.get("/admin/reports/monthly?month=2026-09&unit=ZWB").get_data(as_text=True)
    assert 'data-unit="SCJG"' in html and 'data-unit="ZWB"' not in html


@pytest.mark.parametrize("month", ["2026-13", "1999-12", "abc", "2026-1x"])
def test_bad_month_is_refused_with_a_message(
    login_as: Callable[..., FlaskClient], month: str
) -> None:
    client = login_as("duty")
    response = client.get(f"/admin/reports/monthly?month={month}")
    assert response.status_code == 200
    assert "月份" in response.get_data(as_text=True)


def test_excel_is_one_sheet_per_unit_and_formula_safe(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    with app.app_context():
        hall = db.session.scalars(db.select(Hall)).one()
        from kiosk.models import Staff

        person = db.session.scalars(db.select(Staff).where(Staff.staff_no == "S001")).one()
        person.name = '=HYPERLINK("http://x")'
        db.session.commit()
        assert hall.code == "QJ"
    client = login_as("duty")
    response = client.get("/admin/reports/monthly.xlsx?month=2026-09")
    assert response.status_code == 200
    assert "attendance-QJ-2026-09.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["市场监督管理局", "市政务服务中心"]
    ws = book["市场监督管理局"]
    assert ws["A1"].value == "潜江市行政服务中心 2026年9月考勤月报"
    header = [c.value for c in ws[3]]
    assert header[:5] == ["工号", "姓名", "窗口", "应出勤(天)", "在岗(天)"]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=4)}
    cell = rows["S001"][1]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
    assert "合计" in rows
