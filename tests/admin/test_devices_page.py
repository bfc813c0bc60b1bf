"""Fingerprint readers in the back office (SPEC 7, 10 ``/admin/devices``): add, map, enrol
through the running listener (a job the page follows by short polls), live status,
remove; admins only, audited, bad input refused beside the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from devices.emulator import EmulatorProcess
from kiosk.extensions import db
from kiosk.models import AuditEntry, Device, DeviceJob, DeviceTemplate, Punch, utcnow
from tests.admin.conftest import csrf_token
from tests.devices.conftest import FAST_CONFIG
from tests.devices.helpers import wait_for
from tests.devices.test_enrol_listening import job, listening


def _add(client: FlaskClient, **fields: str) -> Any:
    data = {"add-name": "东门", "add-port": "/dev/ttyUSB0", "add-baud": "57600"}
    data |= {"add-address": "FFFFFFFF", "add-password": "0"}
    data |= {f"add-{k}": v for k, v in fields.items()}
    return client.post(
        "/admin/devices", data={"csrf_token": csrf_token(client, "/admin/devices"), **data}
    )


def _device_id(app: Flask, name: str = "东门") -> int:
    with app.app_context():
        found = db.session.scalar(select(Device.id).where(Device.name == name))
        db.session.remove()
        assert found is not None
        return int(found)


@pytest.mark.parametrize("role", ["duty", "leader", "unit"])
def test_only_admins_open_and_post(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    token = csrf_token(client, "/admin/")
    for path in ("/admin/devices", "/admin/devices/status.json", "/admin/devices/jobs/1"):
        assert client.get(path).status_code == 403, path
    for path, data in (
        ("/admin/devices", {"add-name": "x", "add-port": "/dev/x", "add-baud": "57600"}),
        ("/admin/devices/map", {"map-device_id": "1", "map-page": "1", "map-staff_no": "S001"}),
        ("/admin/devices/enroll", {"enrol-device_id": "1", "enrol-staff_no": "S001"}),
        ("/admin/devices/remove", {"remove-device_id": "1", "confirmed": "1"}),
        ("/admin/devices/jobs/1/cancel", {}),
    ):
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    with app.app_context():
        assert db.session.scalar(select(Device.id)) is None


def test_add_map_and_remove(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("admin")
    assert "尚未登记指纹机" in client.get("/admin/devices").get_data(as_text=True)
    assert _add(client).status_code == 302
    page = client.get("/admin/devices").get_data(as_text=True)
    assert "已登记指纹机“东门”" in page and "/dev/ttyUSB0" in page and "离线" in page
    device_id = _device_id(app)
    token = csrf_token(client, "/admin/devices")
    mapped = client.post(
        "/admin/devices/map",
        data={
            "csrf_token": token,
            "map-device_id": str(device_id),
            "map-page": "7",
            "map-staff_no": "S002",
        },
    )
    assert mapped.status_code == 302
    assert "7：S002 李强" in client.get("/admin/devices").get_data(as_text=True)
    taken = client.post(
        "/admin/devices/map",
        data={
            "csrf_token": token,
            "map-device_id": str(device_id),
            "map-page": "7",
            "map-staff_no": "S001",
        },
    )
    assert taken.status_code == 409
    assert "已对应工号 S002" in taken.get_data(as_text=True)
    with app.app_context():
        actions = [
            (e.action, e.after)
            for e in db.session.scalars(
                select(AuditEntry).where(AuditEntry.object_type == "device").order_by(AuditEntry.id)
            )
        ]
    assert actions == [
        (
            "device.add",
            {"name": "东门", "port": "/dev/ttyUSB0", "baud": 57600, "address": "FFFFFFFF"},
        ),
        ("device.map", {"page": 7, "staff_no": "S002"}),
    ]
    remove = {"csrf_token": token, "remove-device_id": str(device_id)}
    asked = client.post("/admin/devices/remove", data=remove)
    assert "确认移除指纹机" in asked.get_data(as_text=True)
    assert _device_id(app) == device_id
    assert (
        client.post("/admin/devices/remove", data={**remove, "confirmed": "1"}).status_code == 302
    )
    with app.app_context():
        assert db.session.scalar(select(Device.id)) is None
        assert db.session.scalar(select(DeviceTemplate.id)) is None
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.remove")
        ).one()
        assert entry.before == {
            "name": "东门",
            "port": "/dev/ttyUSB0",
            "punches": 0,
            "templates": 1,
        }


def test_a_reader_with_punches_is_retired_not_deleted(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    _add(client)
    device_id = _device_id(app)
    with app.app_context():
        from kiosk.models import Staff

        staff = db.session.scalars(select(Staff).where(Staff.staff_no == "S001")).one()
        db.session.add(
            Punch(staff_id=staff.id, punched_at=utcnow(), source="device", device_id=device_id)
        )
        db.session.commit()
    token = csrf_token(client, "/admin/devices")
    client.post(
        "/admin/devices/remove",
        data={"csrf_token": token, "remove-device_id": str(device_id), "confirmed": "1"},
    )
    assert "其打卡记录保留" in client.get("/admin/devices").get_data(as_text=True)
    with app.app_context():
        device = db.session.get(Device, device_id)
        assert device is not None and device.retired_at is not None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "add-name", "此项必填"),
        ({"port": ""}, "add-port", "此项必填"),
        ({"baud": "12345"}, "add-baud", "9600 的 1 至 12 倍"),
        ({"baud": "abc"}, "add-baud", ""),
        ({"address": "XYZ"}, "add-address", "8 位十六进制"),
        ({"password": "-1"}, "add-password", ""),
        ({"name": "x" * 65}, "add-name", "不能超过 64 个字符"),
    ],
)
def test_bad_readers_are_refused_beside_the_field(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    client = login_as("admin")
    response = _add(client, **fields)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert f'data-field="{field}"' in text and message in text
    with app.app_context():
        assert db.session.scalar(select(Device.id)) is None


def test_a_name_is_taken_once(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("admin")
    _add(client)
    again = _add(client, port="/dev/ttyUSB1")
    assert again.status_code == 409 and "已有名为“东门”的指纹机" in again.get_data(as_text=True)


def test_enrol_is_refused_while_no_listener_polls_the_reader(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    _add(client)
    token = csrf_token(client, "/admin/devices")
    response = client.post(
        "/admin/devices/enroll",
        data={
            "csrf_token": token,
            "enrol-device_id": str(_device_id(app)),
            "enrol-staff_no": "S004",
            "enrol-timeout": "30",
        },
    )
    assert response.status_code == 409
    assert "未在线" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(DeviceJob.id)) is None


def test_enrol_through_the_running_listener(
    app: Flask, login_as: Callable[..., FlaskClient], tmp_path: Path
) -> None:
    app.config.update(FAST_CONFIG)
    client = login_as("admin")
    with EmulatorProcess(tmp_path / "fp0", templates=5) as emu:
        _add(client, port=str(emu.link))
        device_id = _device_id(app)
        with listening(app):
            page = client.get("/admin/devices").get_data(as_text=True)
            assert '<span class="tag good">在线</span>' in page
            status = client.get("/admin/devices/status.json").get_json()
            assert status["devices"][0]["alive"] is True
            token = csrf_token(client, "/admin/devices")
            started = client.post(
                "/admin/devices/enroll",
                data={
                    "csrf_token": token,
                    "enrol-device_id": str(device_id),
                    "enrol-staff_no": "S004",
                    "enrol-timeout": "10",
                },
            )
            assert started.status_code == 302
            job_url = started.headers["Location"]
            job_page = client.get(job_url).get_data(as_text=True)
            assert "录入指纹：S004" in job_page and "取消录入" in job_page
            # A second job on the same reader is refused while this one is open.
            second = client.post(
                "/admin/devices/enroll",
                data={
                    "csrf_token": token,
                    "enrol-device_id": str(device_id),
                    "enrol-staff_no": "S005",
                    "enrol-timeout": "10",
                },
            )
            assert second.status_code == 409 and "正在进行录入" in second.get_data(as_text=True)

            def state() -> dict[str, Any]:
                return json.loads(client.get(job_url + ".json").get_data(as_text=True))

            wait_for(lambda: state()["stage"] == "press", timeout=20, what="press prompt")
            assert state()["text"] == "请工作人员在指纹机上按压手指"
            emu.ok("press unknown")
            wait_for(lambda: (job(app) or ("",))[1] == "lift", timeout=20, what="lift")
            emu.ok("release")
            wait_for(lambda: state()["stage"] == "again", timeout=20, what="again")
            emu.ok("press unknown")
            wait_for(lambda: state()["final"], timeout=20, what="done")
            emu.ok("release")
            final = state()
            assert final["state"] == "done" and final["page"] == 5
            assert final["text"] == "录入成功（第 5 页）"
    with app.app_context():
        mapping = db.session.scalars(select(DeviceTemplate)).one()
        assert (mapping.page, mapping.staff.staff_no) == (5, "S004")
        started_entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.enroll.start")
        ).one()
        assert started_entry.user_id is not None
        assert started_entry.after["staff_no"] == "S004"


def test_an_open_job_is_cancelled(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("admin")
    _add(client)
    device_id = _device_id(app)
    with app.app_context():
        from kiosk.models import Staff

        staff = db.session.scalars(select(Staff).where(Staff.staff_no == "S001")).one()
        row = DeviceJob(device_id=device_id, staff_id=staff.id, kind="enroll", timeout=30)
        db.session.add(row)
        db.session.commit()
        job_id = row.id
    token = csrf_token(client, f"/admin/devices/jobs/{job_id}")
    assert (
        client.post(f"/admin/devices/jobs/{job_id}/cancel", data={"csrf_token": token}).status_code
        == 302
    )
    assert client.get(f"/admin/devices/jobs/{job_id}.json").get_json()["state"] == "cancelled"
    again = client.post(f"/admin/devices/jobs/{job_id}/cancel", data={"csrf_token": token})
    assert again.status_code == 302
    assert "已结束" in client.get(f"/admin/devices/jobs/{job_id}").get_data(as_text=True)
    assert client.get("/admin/devices/jobs/999999.json").status_code == 404
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "device.enroll.cancel")
        ).one()
        assert entry.before == {"job": job_id, "state": "pending"}
