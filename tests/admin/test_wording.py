"""What people read in the back office: plain Chinese, hall-local times, names (issue 11)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.interchange import resolve_hall
from kiosk.models import Device


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
    assert "Errno" not in text and "No such file" not in text  # not even in a tooltip


def test_admin_sees_the_technical_detail_as_a_tooltip(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    _add_device(app, "no reply within the deadline to 0x01")
    client = login_as("admin")
    text = client.get("/admin/today").get_data(as_text=True)
    assert "设备无响应" in text
    assert 'title="no reply within the deadline to 0x01"' in text
