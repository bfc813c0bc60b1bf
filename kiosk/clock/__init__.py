"""The clock-in screen next to a fingerprint reader (``/clock``), fed by short polling.

The listener is another process; it writes a ``DeviceEvent`` per press and keeps each
reader's state in its ``Device`` row. The screen asks ``/clock/events?after=ID`` every
second or two for the events after the last id it saw, and gets at once a small JSON
answer: those events (already worded in Chinese) and the readers' health. No request
waits for a press, so no number of idle screens holds the server's worker threads
(SPEC 9); an answer is a few milliseconds of one thread.

The screen is public, so its data is limited to the last ``CLOCK_FEED_MINUTES`` of the
current hall-local day: no history and no other day, whatever the parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError

from devices.held import held
from kiosk import models
from kiosk.extensions import db
from kiosk.localtime import hall_zone, to_local
from kiosk.models import Device, DeviceJob, Hall, Staff
from kiosk.models_devices import DeviceEvent
from kiosk.rules.attendance import SlotStatus, classify_punch
from kiosk.rules.calendar import is_workday, schedule_for
from kiosk.rules.clockfeed import feed_window, reader_health
from kiosk.rules.settings import hall_settings

bp = Blueprint("clock", __name__, url_prefix="/clock", template_folder="templates")

NOT_RECOGNISED = "未能识别，请重按手指"
CURSOR_SETTLE_SECONDS = 5.0  # see _feed: how long the cursor waits behind a new event
FEED_LIMIT = 50  # events per answer; a screen that fell behind gets the rest next time
# A cursor is an event id: digits only (no sign, no Unicode digits), and small enough
# for a BIGINT on every database, so a hostile value is a 400 and never a 500.
_CURSOR = re.compile(r"[0-9]{1,18}")
_HALL_CODE = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class BadParameter(Exception):
    """A query parameter the feed refuses; ``message`` says why (shown to the caller)."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def verdict(hall: Hall, local: dt.datetime) -> tuple[str | None, str, str]:
    """Slot label, verdict text and a CSS class for a punch at naive hall-local ``local``."""
    settings = hall_settings(hall.settings)
    calendar = settings.calendar
    if not is_workday(local.date(), calendar):
        return None, "非工作日", "neutral"
    schedule = schedule_for(local.date(), calendar.schedules)
    result = classify_punch(schedule, settings.grace_minutes, local)
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


def _feed_minutes() -> float:
    return float(current_app.config["CLOCK_FEED_MINUTES"])


def screen_halls(code: str | None) -> list[Hall]:
    """The halls a screen shows: ``?hall=CODE``, else ``DEFAULT_HALL``, else every hall.

    Raises :class:`BadParameter` for a malformed (400) or unknown (404) code.
    """
    code = code if code is not None else current_app.config["DEFAULT_HALL"]
    if code is None:
        return list(db.session.scalars(select(Hall).order_by(Hall.id)))
    if not _HALL_CODE.fullmatch(code):
        raise BadParameter(_("参数 hall 应为大厅代码（字母、数字，最多 32 个字符）。"))
    hall = db.session.scalar(select(Hall).where(Hall.code == code))
    if hall is None:
        raise BadParameter(_("没有代码为 %(code)s 的大厅。", code=code), 404, "unknown_hall")
    return [hall]


def parse_cursor(raw: str | None) -> int:
    """``?after=ID`` as an int (0 when absent); :class:`BadParameter` for anything else."""
    if raw is None or raw == "":
        return 0
    if not _CURSOR.fullmatch(raw):
        raise BadParameter(_("参数 after 应为上次收到的事件编号（0 或正整数，最多 18 位）。"))
    return int(raw)


def events_after(
    after: int, halls: list[Hall], now: dt.datetime | None = None, limit: int = FEED_LIMIT
) -> list[dict[str, Any]]:
    """Events of ``halls`` with id greater than ``after`` inside each hall's feed window."""
    return [item for item, _at in _events_with_time(after, halls, now, limit)]


def _events_with_time(
    after: int, halls: list[Hall], now: dt.datetime | None, limit: int
) -> list[tuple[dict[str, Any], dt.datetime]]:
    if not halls:
        return []
    now = now or models.utcnow()
    minutes = _feed_minutes()
    windows = []
    for hall in halls:
        window = feed_window(now, hall_zone(hall.timezone), minutes)
        windows.append(
            and_(
                Device.hall_id == hall.id,
                DeviceEvent.at >= window.start,
                DeviceEvent.at < window.end,
            )
        )
    query = (
        select(DeviceEvent, Device, Hall, Staff)
        .join(Device, Device.id == DeviceEvent.device_id)
        .join(Hall, Hall.id == Device.hall_id)
        .outerjoin(Staff, Staff.id == DeviceEvent.staff_id)
        .where(DeviceEvent.id > after, or_(*windows))
        .order_by(DeviceEvent.id)
        .limit(limit)
    )
    return [(describe(*row), row[0].at) for row in db.session.execute(query)]


def readers_of(halls: list[Hall], now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Each reader of ``halls`` with whether it can take a press now (name, ok, state, seen).

    The listener's last error stays in the back office: it names ports and hosts, which
    a public screen does not show.
    """
    if not halls:
        return []
    now = now or models.utcnow()
    stale = float(current_app.config["CLOCK_READER_STALE_SECONDS"])
    devices = db.session.scalars(
        select(Device).where(Device.hall_id.in_([h.id for h in halls])).order_by(Device.name)
    )
    answer = []
    for device in devices:
        health = reader_health(device.state, device.last_seen, now, stale)
        answer.append(
            {
                "name": device.name,
                "ok": health.ok,
                "state": device.state,
                "seen_seconds": health.seen_seconds,
            }
        )
    return answer


ENROL_SHOWN_SECONDS = 8.0  # how long the end of an enrolment stays on the screen


def enrol_prompt(stage: str | None) -> str:
    """What the person at the reader is told at an enrolment stage."""
    prompts = {
        "press": _("请按压手指"),
        "lift": _("请抬起手指"),
        "again": _("请再按一次"),
        "done": _("录入成功"),
        "duplicate": _("该指纹已录入"),
        "mismatch": _("两次按压不是同一手指，录入失败"),
        "full": _("指纹库已满，录入失败"),
        "timeout": _("录入超时，已取消"),
        "cancelled": _("录入已取消"),
    }
    return prompts.get(stage or "press", _("录入失败，请联系值班人员"))


def enrolment_of(halls: list[Hall], now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The enrolment the screen shows (issue 12): a running job on a reader of ``halls``,
    or one that ended in the last few seconds (so the person reads how it ended)."""
    if not halls:
        return None
    now = now or models.utcnow()
    shown_since = now - dt.timedelta(seconds=ENROL_SHOWN_SECONDS)
    row = db.session.execute(
        select(DeviceJob, Device.name, Staff.name)
        .join(Device, Device.id == DeviceJob.device_id)
        .join(Staff, Staff.id == DeviceJob.staff_id)
        .where(
            Device.hall_id.in_([h.id for h in halls]),
            # Enrolments only: a template copy or deletion asks nobody for a finger.
            DeviceJob.kind == "enroll",
            or_(
                DeviceJob.state == "running",
                and_(DeviceJob.finished_at >= shown_since, DeviceJob.started_at.is_not(None)),
            ),
        )
        .order_by(DeviceJob.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    job, device, name = row
    return {
        "id": job.id,
        "device": device,
        "name": name,
        "stage": job.stage,
        "prompt": enrol_prompt(job.stage),
        "state": job.state,
        "final": job.state != "running",
    }


def latest_id() -> int:
    """The id of the newest event (0 when none)."""
    return int(db.session.scalar(select(func.max(DeviceEvent.id))) or 0)


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _refused(refusal: BadParameter) -> Response:
    return _json({"error": refusal.code, "message": refusal.message}, refusal.status)


def _feed(after: int, halls: list[Hall]) -> dict[str, Any]:
    now = models.utcnow()
    rows = _events_with_time(after, halls, now, FEED_LIMIT)
    readers = readers_of(halls, now)
    # The client sends the cursor back as ``after``. It moves only past events older than
    # a few seconds: with two listeners on PostgreSQL, id 11 may commit before id 10, and
    # a cursor already at 11 would skip 10 for ever. Newer events come again in the next
    # polls and the page shows each id once.
    settled = now - dt.timedelta(seconds=CURSOR_SETTLE_SECONDS)
    return {
        "events": [item for item, _at in rows],
        "cursor": max([after, *(item["id"] for item, at in rows if at <= settled)]),
        "readers": readers,
        "readers_ok": bool(readers) and all(r["ok"] for r in readers),
        "enrolment": enrolment_of(halls, now),
    }


@bp.get("")
def screen() -> Any:
    """The full-screen page for the reader's monitor."""
    try:
        halls = screen_halls(request.args.get("hall"))
    except BadParameter as refusal:
        return refusal.message, refusal.status
    # The page polls for events after the newest at render time, so a press between
    # rendering and the first poll is not lost; the footer shows the feed's last few.
    start = latest_id()
    recent = events_after(max(0, start - 6), halls)
    readers = readers_of(halls)
    # The header clock shows the hall's local time, whatever the monitor's PC is set to.
    zone = halls[0].timezone if halls else "Asia/Shanghai"
    return render_template(
        "clock/screen.html",
        hall=request.args.get("hall"),
        recent=recent[-6:],
        start=start,
        zone=zone,
        readers=readers,
        readers_ok=bool(readers) and all(r["ok"] for r in readers),
        refresh_ms=int(float(current_app.config["CLOCK_REFRESH_SECONDS"]) * 1000),
        stale_ms=int(float(current_app.config["CLOCK_READER_STALE_SECONDS"]) * 1000),
    )


@bp.get("/events")
def events() -> Response:
    """The screen's poll: events after ``?after=ID`` (feed window only) and the readers' state."""
    try:
        after = parse_cursor(request.args.get("after"))
        halls = screen_halls(request.args.get("hall"))
    except BadParameter as refusal:
        return _refused(refusal)
    return _json(_feed(after, halls))


@bp.get("/stream")
def stream() -> Response:
    """For a screen still running the old page during an upgrade: one short SSE answer.

    It sends the feed's events after ``Last-Event-ID`` and ends at once with ``retry``,
    so the browser's EventSource asks again in two seconds: polling, never a held thread.
    """
    try:
        after = parse_cursor(request.headers.get("Last-Event-ID") or request.args.get("after"))
        halls = screen_halls(request.args.get("hall"))
    except BadParameter as refusal:
        return _refused(refusal)
    feed = _feed(after, halls)
    blocks = ["retry: 2000\n\n"]
    for item in feed["events"]:
        blocks.append(
            f"id: {item['id']}\nevent: punch\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
        )
    return Response(
        "".join(blocks),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store"},
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
