"""Fingerprint readers in the back office (SPEC 7, 10 ``/admin/devices``): add, map a
page, enrol through the running listener, remove; with the same checks as
``flask --app kiosk devices add|map|enroll|remove``.

The web process never opens a serial port: an enrolment is a ``device_jobs`` row that
the running listener (the port's one owner) claims and reports on
(:class:`kiosk.services.readers.DatabaseJobs`); the page follows the row. Every change
is audited with before and after; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kiosk.models import Device, DeviceJob, DeviceTemplate, Hall, Punch, Staff, utcnow
from kiosk.models_devices import DeviceEvent
from kiosk.services import audit
from kiosk.services.errors import Invalid
from kiosk.services.readers import (
    OPEN_STATES,
    cancel_job,
    listener_alive,
    new_enrol_job,
    open_job,
    punches_today,
)
from kiosk.textlimits import control_character

__all__ = [
    "MAX_PAGE",
    "ReaderError",
    "ReaderLine",
    "add_reader",
    "cancel_enrolment",
    "job_of",
    "map_page",
    "readers_of",
    "remove_reader",
    "start_enrolment",
]

MAX_PAGE = 0xFFFF - 1
NAME_MAX = 64
PORT_MAX = 300


class ReaderError(Invalid):
    """A refused reader change; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str, code: str = "invalid") -> None:
        super().__init__(message, code)
        self.field = field


@dataclass(frozen=True)
class ReaderLine:
    """One reader as the page shows it."""

    id: int
    name: str
    port: str
    baud: int
    address: str
    state: str
    alive: bool
    last_seen: dt.datetime | None
    last_error: str | None
    punches_today: int
    unrecognised: int
    pages: tuple[tuple[int, str, str], ...]
    """(page, staff_no, name) of every mapped page."""
    backlog: int
    job: DeviceJob | None


def _device(session: Session, hall: Hall, device_id: int | None) -> Device:
    device = session.get(Device, device_id) if device_id else None
    if device is None or device.hall_id != hall.id or device.retired_at is not None:
        raise ReaderError(_("没有这台指纹机。"), "device_id", "not_found")
    return device


def _staff(session: Session, hall: Hall, staff_no: str) -> Staff:
    staff = session.scalar(
        select(Staff).where(Staff.hall_id == hall.id, Staff.staff_no == (staff_no or "").strip())
    )
    if staff is None:
        raise ReaderError(_("本中心没有工号为“%(no)s”的工作人员。", no=staff_no), "staff_no")
    return staff


def readers_of(
    session: Session,
    hall: Hall,
    *,
    stale_seconds: float,
    held: dict[str, Any],
    now: dt.datetime | None = None,
) -> list[ReaderLine]:
    """The hall's readers (not retired) with their state, mapped pages and open job;
    ``held`` is the listener's status file's ``devices`` (each reader's backlog)."""
    now = now or utcnow()
    lines = []
    devices = session.scalars(
        select(Device)
        .where(Device.hall_id == hall.id, Device.retired_at.is_(None))
        .order_by(Device.name)
    )
    for device in devices:
        pages = session.execute(
            select(DeviceTemplate.page, Staff.staff_no, Staff.name)
            .join(Staff, Staff.id == DeviceTemplate.staff_id)
            .where(DeviceTemplate.device_id == device.id)
            .order_by(DeviceTemplate.page)
        ).all()
        entry = held.get(device.name)
        backlog = entry.get("backlog") if isinstance(entry, dict) else 0
        lines.append(
            ReaderLine(
                device.id,
                device.name,
                device.port,
                device.baud,
                f"{device.address:08X}",
                device.state,
                listener_alive(device, stale_seconds, now),
                device.last_seen,
                device.last_error,
                punches_today(device),
                device.unrecognised_count,
                tuple((p, no, name) for p, no, name in pages),
                backlog if isinstance(backlog, int) else 0,
                open_job(device),
            )
        )
    return lines


def _address(text: str) -> int:
    text = (text or "").strip() or "FFFFFFFF"
    digits = text[2:] if text.lower().startswith("0x") else text
    if len(digits) != 8 or any(c not in string.hexdigits for c in digits):
        raise ReaderError(_("模块地址应为 8 位十六进制数（如 FFFFFFFF）。"), "address")
    return int(digits, 16)


def add_reader(
    session: Session,
    hall: Hall,
    *,
    name: str,
    port: str,
    baud: int,
    address: str,
    password: int,
    user_id: int | None,
) -> Device:
    """Register a reader on a serial port; a running listener starts polling it."""
    name, port = (name or "").strip(), (port or "").strip()
    if not name or len(name) > NAME_MAX or control_character(name):
        raise ReaderError(_("名称应为 1 至 %(n)s 个字符。", n=NAME_MAX), "name")
    if not port or len(port) > PORT_MAX or control_character(port):
        raise ReaderError(_("请填写串口路径（如 /dev/ttyUSB0）。"), "port")
    if baud % 9600 or not 1 <= baud // 9600 <= 12:
        raise ReaderError(_("波特率应为 9600 的 1 至 12 倍（如 57600）。"), "baud")
    number = _address(address)
    if not 0 <= password <= 0xFFFFFFFF:
        raise ReaderError(_("模块密码应为 0 至 4294967295。"), "password")
    if session.scalar(select(Device.id).where(Device.name == name)) is not None:
        raise ReaderError(_("已有名为“%(name)s”的指纹机。", name=name), "name", "conflict")
    device = Device(
        hall_id=hall.id, name=name, port=port, baud=baud, address=number, password=password
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        action="device.add",
        object_type="device",
        object_id=device.id,
        user_id=user_id,
        hall_id=hall.id,
        after={"name": name, "port": port, "baud": baud, "address": f"{number:08X}"},
    )
    return device


def map_page(
    session: Session,
    hall: Hall,
    *,
    device_id: int | None,
    page: int,
    staff_no: str,
    user_id: int | None,
) -> DeviceTemplate:
    """Map a template page already on the module to a staff member of the hall."""
    device = _device(session, hall, device_id)
    if not 0 <= page <= MAX_PAGE:
        raise ReaderError(_("页号应为 0 至 %(n)s。", n=MAX_PAGE), "page")
    staff = _staff(session, hall, staff_no)
    existing = session.scalar(
        select(DeviceTemplate).where(
            DeviceTemplate.device_id == device.id, DeviceTemplate.page == page
        )
    )
    if existing is not None:
        other = session.get(Staff, existing.staff_id)
        who = other.staff_no if other else str(existing.staff_id)
        raise ReaderError(
            _("该指纹机第 %(page)s 页已对应工号 %(who)s，未做更改。", page=page, who=who),
            "page",
            "conflict",
        )
    row = DeviceTemplate(device_id=device.id, page=page, staff_id=staff.id)
    session.add(row)
    audit.record(
        session,
        action="device.map",
        object_type="device",
        object_id=device.id,
        user_id=user_id,
        hall_id=hall.id,
        before={"page": page, "staff_no": None},
        after={"page": page, "staff_no": staff.staff_no},
    )
    return row


def start_enrolment(
    session: Session,
    hall: Hall,
    *,
    device_id: int | None,
    staff_no: str,
    timeout: float,
    stale_seconds: float,
    user_id: int | None,
) -> DeviceJob:
    """Hand an enrol job to the listener that polls the reader; refused when none does
    (the web never opens the port) or the reader has a job open already."""
    device = _device(session, hall, device_id)
    staff = _staff(session, hall, staff_no)
    if not 5 <= timeout <= 600:
        raise ReaderError(_("每次按压的等待时间应为 5 至 600 秒。"), "timeout")
    if not listener_alive(device, stale_seconds):
        raise ReaderError(
            _("指纹机“%(name)s”未在线（监听程序未运行或未连接），无法录入。", name=device.name),
            "device_id",
            "conflict",
        )
    busy = open_job(device)
    if busy is not None:
        raise ReaderError(
            _("该指纹机正在进行录入（任务 %(id)s），请等待完成或取消。", id=busy.id),
            "device_id",
            "conflict",
        )
    job = new_enrol_job(device, staff, timeout)
    audit.record(
        session,
        action="device.enroll.start",
        object_type="device",
        object_id=device.id,
        user_id=user_id,
        hall_id=hall.id,
        after={"job": job.id, "staff_no": staff.staff_no, "state": "pending"},
    )
    return job


def job_of(session: Session, hall: Hall, job_id: int | None) -> DeviceJob:
    """An enrol job of a reader of ``hall``."""
    job = session.get(DeviceJob, job_id) if job_id else None
    if job is None:
        raise ReaderError(_("没有这个录入任务。"), "job_id", "not_found")
    device = session.get(Device, job.device_id)
    if device is None or device.hall_id != hall.id:
        raise ReaderError(_("没有这个录入任务。"), "job_id", "not_found")
    return job


def cancel_enrolment(
    session: Session, hall: Hall, job_id: int | None, *, user_id: int | None
) -> DeviceJob:
    """Cancel an open enrol job (the listener stops it at its next look)."""
    job = job_of(session, hall, job_id)
    before = job.state
    if before not in OPEN_STATES or not cancel_job(job.id):
        raise ReaderError(_("该录入任务已结束，无需取消。"), "job_id", "conflict")
    audit.record(
        session,
        action="device.enroll.cancel",
        object_type="device",
        object_id=job.device_id,
        user_id=user_id,
        hall_id=hall.id,
        before={"job": job.id, "state": before},
        after={"job": job.id, "state": "cancelled"},
    )
    return job


def remove_reader(
    session: Session, hall: Hall, device_id: int | None, *, user_id: int | None
) -> bool:
    """Remove a reader; one whose punches exist is retired instead (punches are never
    edited and keep pointing at it). True when it was retired."""
    device = _device(session, hall, device_id)
    if open_job(device) is not None:
        raise ReaderError(_("该指纹机正在进行录入，请先取消录入任务。"), "device_id", "conflict")
    punches = int(
        session.scalar(select(func.count(Punch.id)).where(Punch.device_id == device.id)) or 0
    )
    templates = int(
        session.scalar(
            select(func.count(DeviceTemplate.id)).where(DeviceTemplate.device_id == device.id)
        )
        or 0
    )
    before = {"name": device.name, "port": device.port, "punches": punches, "templates": templates}
    device_id = device.id
    session.execute(delete(DeviceTemplate).where(DeviceTemplate.device_id == device_id))
    if punches:
        device.retired_at = utcnow()
        device.name = f"{device.name[:40]}~retired-{device_id}"
        device.state = "retired"
    else:
        session.execute(delete(DeviceJob).where(DeviceJob.device_id == device_id))
        session.execute(delete(DeviceEvent).where(DeviceEvent.device_id == device_id))
        session.delete(device)
    audit.record(
        session,
        action="device.remove",
        object_type="device",
        object_id=device_id,
        user_id=user_id,
        hall_id=hall.id,
        before=before,
        after={"retired": bool(punches)},
    )
    return bool(punches)
