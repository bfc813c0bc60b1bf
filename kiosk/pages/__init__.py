"""Public pages of the hall: the landing page that links the screens of the service.

The blueprint also gives every template of the service the same words for the same
things: ``period_name`` (a period as people say it) and ``device_fault`` (a reader's
stored error in plain Chinese).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from kiosk.localtime import to_local
from kiosk.rules.wording import device_fault, period_label, schedule_label
from kiosk.services.texts import language

bp = Blueprint("pages", __name__)

DEVICE_FAULT_TEXT: dict[str, Any] = {
    "not_connected": _l("串口未连接"),
    "no_response": _l("设备无响应"),
    "checksum": _l("校验错误"),
    "protocol": _l("通讯数据异常"),
    "busy": _l("串口被其他程序占用"),
    "stopped": _l("监听程序已停止"),
    "unknown": _l("设备故障"),
}


@bp.app_template_filter("period_name")
def period_name(code: Any) -> str:
    """``2026-B5`` as ``2026年第5期（9—10月）`` (English: ``2026 period 5 (Sep–Oct)``)."""
    return "" if code is None else period_label(str(code), language())


@bp.app_template_filter("schedule_name")
def schedule_name(name: Any) -> str:
    """A schedule's name as the office says it (``winter`` as ``冬季作息``)."""
    return "" if name is None else schedule_label(str(name), language())


@bp.app_template_filter("level_name")
def level_name(level: Any) -> str:
    """A rating level (1–5) by its name (SPEC 4.1): 1 is 非常不满意."""
    from kiosk.services.ratings import LEVEL_LABELS

    return str(LEVEL_LABELS.get(level, level)) if level is not None else ""


@bp.app_template_filter("hall_local")
def hall_local(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    """A stored naive-UTC instant as naive hall-local time (never shown as UTC)."""
    return None if value is None else to_local(value, zone)


@bp.app_template_filter("device_fault")
def device_fault_text(error: str | None) -> str:
    """A reader's stored error in plain words; empty when there is none."""
    kind = device_fault(error)
    return "" if kind is None else str(DEVICE_FAULT_TEXT[kind])


@bp.get("/")
def index() -> str:
    """The landing page: links to the clock-in screen, counters, public display, back office."""
    return render_template("index.html")


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """A liveness probe for the process supervisor."""
    return {"status": "ok"}
