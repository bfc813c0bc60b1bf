"""Reading the audit log (it is written only through :func:`kiosk.services.audit.record`).

Entries are shown as people read them: who by display name, when in hall-local time,
what in words, and each changed field as ``field: old → new`` (stored JSON is kept for
the record; the page never prints it raw).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import AuditEntry, Hall, User
from kiosk.rules.wording import period_label
from kiosk.services.listing import EXPORT_MAX_ROWS, like_pattern, page_bounds
from kiosk.textlimits import EARLIEST_DAY, LATEST_DAY

PAGE_SIZE = 50


# What an action did, in words (unknown actions are shown by their code).
ACTION_TEXT: dict[str, Any] = {
    "punch.add": _l("补录打卡"),
    "punch.void": _l("作废打卡"),
    "absence.leave.add": _l("登记请假"),
    "absence.out.add": _l("登记外出"),
    "absence.leave.withdraw": _l("撤销请假"),
    "absence.out.withdraw": _l("撤销外出"),
    "event.spot_check.add": _l("登记巡查抽查"),
    "event.complaint.add": _l("登记投诉"),
    "event.commendation.add": _l("登记表扬"),
    "event.withdraw": _l("撤销事件"),
    "workorder.verify": _l("核实差评"),
    "workorder.rectify": _l("登记整改"),
    "push.resend": _l("重新上报省平台"),
    "period.publish": _l("发布考评通报"),
    "period.revise": _l("发布通报修订版"),
    "duty.set": _l("安排带班"),
    "duty.clear": _l("取消带班"),
    "user.create": _l("创建用户"),
    "user.locked": _l("账号被锁定"),
    "user.unlock": _l("解锁账号"),
    "user.password": _l("修改密码"),
    "user.password.reset": _l("重置密码"),
    "duty.handover": _l("停用时处理带班日"),
    "user.activate": _l("启用账号"),
    "user.deactivate": _l("停用账号"),
    "terminal.add": _l("登记评价终端"),
    "terminal.rekey": _l("更换终端密钥"),
    "terminal.revoke": _l("停用评价终端"),
    "device.add": _l("登记指纹机"),
    "device.map": _l("登记指纹"),
    "device.enroll": _l("录入指纹"),
    "device.enroll.start": _l("发起指纹录入"),
    "device.enroll.cancel": _l("取消指纹录入"),
    "device.remove": _l("移除指纹机"),
    "device.template_copy": _l("同步指纹模板"),
    "device.template_delete": _l("删除离岗人员指纹"),
    "device.prune": _l("清除离岗人员指纹"),
    "import": _l("导入数据"),
    "rules.upload": _l("上传规则文件"),
    "rules.adopt": _l("启用规则文件"),
    "unit.add": _l("添加单位"),
    "unit.rename": _l("单位更名"),
    "unit.edit": _l("修改单位"),
    "window.add": _l("添加窗口"),
    "window.edit": _l("修改窗口"),
    "hall.settings": _l("修改中心设置"),
    "hall.create": _l("新建服务中心"),
    "staff.add": _l("添加工作人员"),
    "staff.move": _l("工作人员调岗"),
    "staff.leave": _l("工作人员离岗"),
    "staff.photo": _l("更新工作人员照片"),
}

OBJECT_TEXT: dict[str, Any] = {
    "punch": _l("打卡"),
    "absence": _l("请假/外出"),
    "event": _l("事件"),
    "rating": _l("评价"),
    "published_period": _l("考评通报"),
    "duty_roster": _l("带班表"),
    "user": _l("用户"),
    "terminal": _l("评价终端"),
    "device": _l("指纹机"),
    "rule_file": _l("考评规则文件"),
    "staff": _l("工作人员"),
    "hall": _l("服务中心设置"),
    "roster": _l("人员名册"),
    "punches": _l("打卡记录"),
    "ratings": _l("评价记录"),
    "cases": _l("办件记录"),
    "absences": _l("请假/外出"),
    "events": _l("巡查抽查与奖惩"),
    "unit": _l("进驻单位"),
    "window": _l("窗口"),
}

FIELD_TEXT: dict[str, Any] = {
    "staff_no": _l("工号"),
    "punched_at_local": _l("打卡时间"),
    "source": _l("来源"),
    "voided": _l("已作废"),
    "kind": _l("类型"),
    "start_local": _l("开始"),
    "end_local": _l("结束"),
    "note": _l("备注"),
    "at_local": _l("时间"),
    "category": _l("类别"),
    "points": _l("分值"),
    "veto": _l("一票否决"),
    "withdrawn": _l("已撤销"),
    "must_change_password": _l("须修改密码"),
    "days": _l("带班日期"),
    "handed_to": _l("移交给"),
    "review": _l("核实结果"),
    "review_note": _l("核实说明"),
    "reviewed_at": _l("核实时间"),
    "rectified_at": _l("整改时间"),
    "rectification_note": _l("整改说明"),
    "push_state": _l("上报状态"),
    "push_reason": _l("退回原因"),
    "push_answered_at": _l("平台答复时间"),
    "locked_until": _l("锁定至"),
    "failed_logins": _l("连续登录失败"),
    "username": _l("用户名"),
    "display_name": _l("姓名"),
    "role": _l("角色"),
    "unit": _l("单位"),
    "active": _l("启用"),
    "day": _l("日期"),
    "user": _l("带班人员"),
    "revision": _l("版本"),
    "as_of": _l("计算时点"),
    "sha256": _l("结果校验码"),
    "inputs_sha256": _l("输入数据校验码"),
    "rules_sha256": _l("规则校验码"),
    "name": _l("名称"),
    "window": _l("窗口"),
    "key_id": _l("密钥编号"),
    "port": _l("串口"),
    "baud": _l("波特率"),
    "address": _l("模块地址"),
    "page": _l("指纹页号"),
    "pages": _l("指纹机与页号"),
    "from": _l("来源指纹机"),
    "from_page": _l("来源页号"),
    "was_there": _l("已有该指纹"),
    "job": _l("任务编号"),
    "queued": _l("待删除数"),
    "copies_cancelled": _l("取消同步数"),
    "period": _l("考评期"),
    "rows": _l("行数"),
    "inserted": _l("新增"),
    "updated": _l("更新"),
    "code": _l("代码"),
    "handles_cases": _l("承办办件"),
    "window_code": _l("窗口"),
    "start_date": _l("起始日期"),
    "end_date": _l("截止日期"),
    "schedules": _l("作息时间"),
    "grace_minutes": _l("宽限分钟"),
    "debounce_seconds": _l("重复打卡间隔（秒）"),
    "closed_days": _l("闭厅日"),
    "extra_workdays": _l("加班工作日"),
    "rating_reasons": _l("差评原因"),
    "default_after_days": _l("默认评价天数"),
    "callback_workdays": _l("回访时限（工作日）"),
    "appeal_workdays": _l("申诉时限（工作日）"),
    "area_code": _l("行政区划代码"),
    "org_code": _l("统一社会信用代码"),
    "timezone": _l("时区"),
    "width": _l("宽"),
    "height": _l("高"),
    "bytes": _l("字节"),
}

# Stored code values shown in words.
VALUE_TEXT: dict[str, Any] = {
    "device": _l("指纹机"),
    "import": _l("导入"),
    "correction": _l("补录"),
    "leave": _l("请假"),
    "out": _l("外出"),
    "spot_check": _l("巡查抽查"),
    "complaint": _l("投诉"),
    "commendation": _l("表扬"),
    "upheld": _l("属实"),
    "unfounded": _l("不属实"),
    "admin": _l("管理员"),
    "leader": _l("中心领导"),
    "duty": _l("带班人员"),
}
CODE_VALUED = {"source", "kind", "review", "role"}


@dataclass(frozen=True, slots=True)
class Change:
    """One field of an entry: its name in words, the value before and after ("" = none)."""

    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit entry ready for display."""

    id: int
    at_local: dt.datetime
    username: str
    action: str
    object_type: str
    object_id: str | None
    before: str
    after: str
    reason: str | None
    who: str = ""
    what: str = ""
    target: str = ""
    changes: tuple[Change, ...] = ()


def value_text(key: str, value: Any, zone: Any) -> str:
    """One stored value as people read it: times hall-local to the minute, yes/no,
    codes in words, check digests shortened; "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(_l("是") if value else _l("否"))
    if isinstance(value, str):
        if key in CODE_VALUED and value in VALUE_TEXT:
            return str(VALUE_TEXT[value])
        if key.endswith("sha256"):
            return value[:12] + "…"
        if "T" in value and value[:4].isdigit():
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                return value
            if moment.tzinfo is not None:
                moment = moment.astimezone(zone).replace(tzinfo=None)
            elif not key.endswith("_local"):
                moment = to_local(moment, zone)  # stored instants are naive UTC
            return moment.strftime("%Y-%m-%d %H:%M")
        return value
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(before: Any, after: Any, zone: Any) -> tuple[Change, ...]:
    """The fields of ``before`` and ``after`` (dicts or None) as ``field: old → new``;
    a field unchanged on both sides of a two-sided entry is left out."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    keys = list(before) + [k for k in after if k not in before]
    rows = []
    for key in keys:
        old = value_text(key, before.get(key), zone)
        new = value_text(key, after.get(key), zone)
        if before and after and key in before and key in after and old == new:
            continue
        if not old and not new:
            continue  # an empty field of a one-sided entry says nothing
        rows.append(Change(str(FIELD_TEXT.get(key, key)), old, new))
    return tuple(rows)


def target_text(object_type: str, object_id: str | None, language: str = "zh") -> str:
    """What the entry is about: the object's kind in words and its id (a period by name)."""
    kind = str(OBJECT_TEXT.get(object_type, object_type))
    if object_id is None:
        return kind
    if object_type == "published_period" and "#" in object_id:
        code, revision = object_id.split("#", 1)
        return f"{kind} {period_label(code, language)} #{revision}"
    return f"{kind} {object_id}"


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of audit entries, newest first, and whether there are more."""

    lines: list[AuditLine]
    page: int
    pages: int
    total: int
    actions: list[str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _conditions(
    hall: Hall,
    *,
    action: str | None,
    object_type: str | None,
    start: dt.date | None,
    end: dt.date | None,
    q: str | None,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        (AuditEntry.hall_id == hall.id) | (AuditEntry.hall_id.is_(None))
    ]
    if action:
        conditions.append(AuditEntry.action.startswith(action[:64], autoescape=True))
    if object_type:
        conditions.append(AuditEntry.object_type == object_type[:64])
    if start or end:
        lo, hi = local_day_bounds(
            start or EARLIEST_DAY, end or LATEST_DAY, hall_zone(hall.timezone)
        )
        conditions += [AuditEntry.at >= lo, AuditEntry.at < hi]
    if q:
        # Who did it (username or name) or what it was about (the object's id).
        pattern = like_pattern(q.lower())
        who = select(User.id).where(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
        conditions.append(
            or_(
                AuditEntry.user_id.in_(who),
                func.lower(AuditEntry.object_id).like(pattern, escape="\\"),
            )
        )
    return conditions


def _line(
    entry: AuditEntry, username: str | None, display_name: str | None, zone: Any, language: str
) -> AuditLine:
    return AuditLine(
        entry.id,
        to_local(entry.at, zone),
        username or "system",
        entry.action,
        entry.object_type,
        entry.object_id,
        _text(entry.before),
        _text(entry.after),
        entry.reason,
        who=display_name or username or str(_l("系统")),
        what=str(ACTION_TEXT.get(entry.action, entry.action)),
        target=target_text(entry.object_type, entry.object_id, language),
        changes=changes(entry.before, entry.after, zone),
    )


def audit_page(
    session: Session,
    hall: Hall,
    *,
    page: int = 1,
    action: str | None = None,
    object_type: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    q: str | None = None,
    language: str = "zh",
) -> AuditPage:
    """Entries of ``hall`` (and hall-less ones, e.g. user accounts), filtered, newest first."""
    conditions = _conditions(
        hall, action=action, object_type=object_type, start=start, end=end, q=q
    )
    total = session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    page, pages = page_bounds(total, page, PAGE_SIZE)
    zone = hall_zone(hall.timezone)
    rows = session.execute(
        select(AuditEntry, User.username, User.display_name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    actions = list(
        session.scalars(
            select(AuditEntry.action).where(conditions[0]).distinct().order_by(AuditEntry.action)
        )
    )
    return AuditPage(
        [_line(entry, username, display, zone, language) for entry, username, display in rows],
        page,
        pages,
        total,
        actions,
    )


def audit_headers() -> list[str]:
    """The columns of the audit log's Excel export."""
    return [
        str(_l("时间")),
        str(_l("操作人")),
        str(_l("操作")),
        str(_l("对象")),
        str(_l("变更（修改前 → 修改后）")),
        str(_l("原因")),
    ]


def audit_export_rows(
    session: Session,
    hall: Hall,
    *,
    action: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    q: str | None = None,
    language: str = "zh",
    limit: int = EXPORT_MAX_ROWS,
) -> Iterator[list[Any]]:
    """The cells of every filtered entry, newest first, at most ``limit`` (streamed)."""
    conditions = _conditions(hall, action=action, object_type=None, start=start, end=end, q=q)
    zone = hall_zone(hall.timezone)
    result = session.execute(
        select(AuditEntry, User.username, User.display_name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(limit),
        execution_options={"yield_per": 1000},
    )
    for entry, username, display in result:
        line = _line(entry, username, display, zone, language)
        yield [
            line.at_local.strftime("%Y-%m-%d %H:%M:%S"),
            line.who,
            line.what,
            line.target,
            "\n".join(f"{c.field}: {c.before} → {c.after}" for c in line.changes),
            line.reason or "",
        ]
