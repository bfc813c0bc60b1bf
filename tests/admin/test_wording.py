"""What people read in the back office: plain Chinese, hall-local times, names (issue 11)."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.models import Device, User
from kiosk.services.halls import resolve_hall
from tests.admin.conftest import csrf_token


def _add_device(app: Flask, error: str) -> None:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        db.session.add(
            Device(
                hall_id=hall.id,
                name="entrance",
                port="/dev/ttyUSB0",
                state="error",
                last_error=error,
            )
        )
        db.session.commit()


def test_reader_error_is_plain_chinese_with_detail_for_admins(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    raw = "cannot open /dev/ttyUSB0: [Errno 2] No such file or directory: '/dev/ttyUSB0'"
    _add_device(app, raw)
    client = login_as("duty")
    text = client.get("/admin/today").get_data(as_text=True)
    assert "串口未连接" in text
    # Open bad reviews by the level's name, not its number.
    orders = text.split('id="work-orders"')[1].split("</section>")[0]
    assert "非常不满意" in orders and "<td>1（" not in orders
    assert "Errno" not in text and "No such file" not in text  # not even in a tooltip


def test_admin_sees_the_technical_detail_as_a_tooltip(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    _add_device(app, "no reply within the deadline to 0x01")
    client = login_as("admin")
    text = client.get("/admin/today").get_data(as_text=True)
    assert "设备无响应" in text
    assert 'title="no reply within the deadline to 0x01"' in text


def test_weekly_details_print_no_empty_entry_for_a_leave_day(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("duty")
    # S004 is on leave all of 2026-09-10 (the example's absences.csv).
    page = client.get("/admin/reports/weekly?week=2026-W37").get_data(as_text=True)
    for row in page.split('data-staff="')[1:]:
        cells = row.split("</tr>")[0]
        details = cells.rsplit("<td>", 1)[1]
        assert not re.search(r"\d\d-\d\d：(；|</td>|$)", details), details
    assert "09-10：" not in page.split('data-staff="S004"')[1].split("</tr>")[0]


def test_minutes_and_out_of_office_in_words(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    # S004 is out of the office on 2026-10-27 from 13:50 (the example's absences.csv).
    page = client.get("/admin/corrections?staff_no=S004&day=2026-10-27").get_data(as_text=True)
    assert "外出" in page and "已准假" not in page
    weeks = [
        client.get(f"/admin/reports/weekly?week=2026-W{n}").get_data(as_text=True)
        for n in range(36, 45)
    ]
    assert any(re.search(r"上班迟到\d+分钟", weekly) for weekly in weeks), "迟到37分钟"
    assert not any("′" in weekly or " 分钟" in weekly for weekly in weeks)


def test_audit_log_is_a_readable_table(
    app: Flask, client: FlaskClient, login_as: Callable[..., FlaskClient]
) -> None:
    duty = login_as("duty", username="duty1")
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.username == "duty1"))
        assert user is not None
        user.display_name = "王值班"
        db.session.commit()
    path = "/admin/corrections?staff_no=S001&day=2026-10-12"
    token = csrf_token(duty, path)
    added = duty.post(
        path,
        data={
            "csrf_token": token,
            "action": "add",
            "add-staff_no": "S001",
            "add-punched_at": "2026-10-12T08:31",
            "add-reason": "指纹机故障，本人当面确认",
        },
    )
    assert added.status_code in (302, 303), added.get_data(as_text=True)[:500]
    with duty.session_transaction() as session:
        session.clear()
    login_as("admin", username="boss")
    page = client.get("/admin/audit").get_data(as_text=True)
    (row,) = [r.split("</tr>")[0] for r in page.split('id="audit-')[1:] if "补录打卡" in r]
    assert "王值班" in row and "补录打卡" in row
    assert "打卡时间" in row and "2026-10-12 08:31" in row and "工号" in row
    assert "{" not in row and "punched_at_local" not in row and "punch.add" not in row
    assert "指纹机故障，本人当面确认" in row
    assert "创建用户" in page  # other actions in words too
