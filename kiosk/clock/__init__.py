"""The clock-in screen next to a fingerprint reader (``/clock``), fed live over SSE.

The listener is another process; it writes a ``DeviceEvent`` per press. This blueprint
polls those rows by increasing id and streams each one, already worded in Chinese, as a
server-sent event. ``/clock/events?after=ID`` gives the same as JSON for simple clients.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from devices.held import held
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Device, Hall, Staff
from kiosk.models_devices import DeviceEvent
from kiosk.rules.attendance import SlotStatus, classify_punch
from kiosk.rules.calendar import calendar_from_settings, is_workday, schedule_for

bp = Blueprint("clock", __name__, url_prefix="/clock", template_folder="templates")

NOT_RECOGNISED = "未能识别，请重按手指"
DEFAULT_GRACE_MINUTES = 5.0


def _grace(settings: dict[str, Any]) -> float:
    value = settings.get("grace_minutes", settings.get("attendance", {}).get("grace_minutes"))
    return DEFAULT_GRACE_MINUTES if value is None else float(value)


def verdict(hall: Hall, local: dt.datetime) -> tuple[str | None, str, str]:
    """Slot label, verdict text and a CSS class for a punch at naive hall-local ``local``."""
    settings = hall.settings or {}
    calendar = calendar_from_settings(settings)
    if not is_workday(local.date(), calendar):
        return None, "非工作日", "neutral"
    result = classify_punch(schedule_for(local.date(), calendar.schedules), _grace(settings), local)
    if result.slot is None:
        return None, "不在打卡时段", "neutral"
    # Whole minutes, as a clock shows them; the exact fraction is in the records.
    minutes = math.floor(result.minutes)
    if result.status == SlotStatus.LATE:
        return result.slot.label, f"迟到 {minutes} 分钟", "late"
    if result.status == SlotStatus.EARLY:
        return result.slot.label, f"早退 {minutes} 分钟", "early"
    return result.slot.label, "正常", "ok"


def describe(event: DeviceEvent, device: Device, hall: Hall, staff: Staff | None) -> dict[str, Any]:
    """One event as the screen shows it."""
    zone = hall_zone(hall.timezone)
    local = to_local(event.at, zone)
    item: dict[str, Any] = {
        "id": event.id,
        "device": device.name,
        "kind": event.kind,
        "time": local.strftime("%H:%M:%S"),
        "date": local.date().isoformat(),
    }
    if event.kind != "punch" or staff is None:
        item.update(name=None, staff_no=None, slot=None, verdict=NOT_RECOGNISED, css="unknown")
        return item
    slot, text, css = verdict(hall, local)
    item.update(name=staff.name, staff_no=staff.staff_no, slot=slot, verdict=text, css=css)
    return item


def events_after(after: int, hall_code: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Events with id greater than ``after`` (optionally of one hall), oldest first."""
    query = (
        select(DeviceEvent, Device, Hall, Staff)
        .join(Device, Device.id == DeviceEvent.device_id)
        .join(Hall, Hall.id == Device.hall_id)
        .outerjoin(Staff, Staff.id == DeviceEvent.staff_id)
        .where(DeviceEvent.id > after)
        .order_by(DeviceEvent.id)
        .limit(limit)
    )
    if hall_code:
        query = query.where(Hall.code == hall_code)
    return [describe(*row) for row in db.session.execute(query)]


def latest_id() -> int:
    """The id of the newest event (0 when none)."""
    return int(db.session.scalar(select(func.max(DeviceEvent.id))) or 0)


def _start_id() -> int:
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        if raw is not None and raw.isdigit():
            return int(raw)
    # A fresh screen shows only what happens from now on.
    return latest_id()


@bp.get("")
def screen() -> str:
    """The full-screen page for the reader's monitor."""
    hall = request.args.get("hall")
    start = latest_id()
    recent = events_after(max(0, start - 6), hall)
    # The stream starts after the newest event at render time, so a press between
    # rendering and the EventSource connecting is not lost.
    # The header clock shows the hall's local time, whatever the monitor's PC is set to.
    query = select(Hall.timezone).order_by(Hall.id).limit(1)
    if hall:
        query = query.where(Hall.code == hall)
    zone = db.session.scalar(query) or "Asia/Shanghai"
    return render_template(
        "clock/screen.html", hall=hall, recent=recent[-6:], start=start, zone=zone
    )


@bp.get("/events")
def events() -> Response:
    """Events after ``?after=ID`` as JSON (for polling clients and tests)."""
    after = request.args.get("after", "0")
    if not after.isdigit():
        return Response(
            json.dumps({"error": "invalid", "message": "after must be a number"}),
            status=400,
            mimetype="application/json",
        )
    items = events_after(int(after), request.args.get("hall"))
    return Response(json.dumps({"events": items}, ensure_ascii=False), mimetype="application/json")


def _stream(app: Flask, last: int, hall: str | None, poll: float, lifetime: float) -> Iterator[str]:
    # Each poll opens and closes its own app context (and session): the stream outlives the
    # request, and a session held open would pin an old snapshot of the database.
    yield "retry: 1000\n\n"
    ends = time.monotonic() + lifetime
    quiet_since = time.monotonic()
    while time.monotonic() < ends:
        with app.app_context():
            items = events_after(last, hall)
            db.session.remove()
        for item in items:
            last = item["id"]
            yield f"id: {last}\nevent: punch\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
        if items:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 15:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        time.sleep(poll)
    # The stream ends now and then so a worker thread is never held forever; EventSource
    # reconnects by itself with Last-Event-ID.


@bp.get("/stream")
def stream() -> Response:
    """Server-sent events: one ``punch`` event per press, from the last id the client saw."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    last = _start_id()
    hall = request.args.get("hall")
    poll = float(app.config.get("CLOCK_POLL_SECONDS", 0.5))
    lifetime = float(app.config.get("CLOCK_STREAM_SECONDS", 300))
    db.session.remove()
    return Response(
        _stream(app, last, hall, poll, lifetime),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def held_notice(hall_code: str | None = None) -> dict[str, Any] | None:
    """The "punches held" notice of the clock screen, or None: presses the listener keeps in
    its journal while the database is away (issue 12). Data the screen's feed can carry."""
    names: list[str] | None = None
    try:
        query = select(Device.name)
        if hall_code:
            query = query.join(Hall, Hall.id == Device.hall_id).where(Hall.code == hall_code)
        names = list(db.session.scalars(query))
    except SQLAlchemyError:
        db.session.rollback()  # the database is away: count every reader's presses
    found = held(current_app.instance_path, names)
    if found is None:
        return None
    return {"count": found.count, "since": found.since, "message": found.message()}


@bp.get("/held")
def held_view() -> Response:
    """``{"held": null}`` or ``{"held": {"count", "since", "message"}}`` for the screen."""
    notice = held_notice(request.args.get("hall"))
    return Response(json.dumps({"held": notice}, ensure_ascii=False), mimetype="application/json")
