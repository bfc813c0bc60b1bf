"""Uploads of the SPEC 6 files through the back office (SPEC 10 ``/admin/imports``).

The upload goes through the same importer as ``flask --app kiosk import`` (all or
nothing, one at a time, audited as ``import``); this module adds what the browser needs
on top: which kinds a role may upload, that a hall file names the uploader's own hall,
and the importer's problems split into line, column and message for a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kiosk.interchange import KINDS, ImportReport, import_file
from kiosk.interchange.hallfile import HallFileError, parse_hall_file
from kiosk.interchange.report import ImportFailed
from kiosk.services.errors import Invalid

__all__ = [
    "DUTY_KINDS",
    "ImportRefused",
    "Problem",
    "kinds_for_role",
    "problem_rows",
    "upload",
]

# SPEC 10: duty officers upload what they record day to day; admins every kind.
DUTY_KINDS = ("punches", "absences", "events", "cases")


class ImportRefused(Invalid):
    """An upload refused before the importer ran (kind, role, hall); nothing changed."""


def kinds_for_role(role: str) -> tuple[str, ...]:
    """The import kinds ``role`` may upload, in SPEC 6 order."""
    if role == "admin":
        return tuple(KINDS)
    if role == "duty":
        return tuple(k for k in KINDS if k in DUTY_KINDS)
    return ()


@dataclass(frozen=True)
class Problem:
    """One problem of a refused file: its line and column when the importer names them;
    ``message`` as the importer wrote it, ``said`` in the page's words when known."""

    line: int | None
    column: str | None
    message: str
    said: str | None = None


_LOCATED = re.compile(r"^line (\d+)(?:, column ([^:]+))?: (.*)$", re.DOTALL)

# The importer's messages (shared with the command line, which prints them as they are)
# in the page's words: (pattern, gettext message with %(a)s / %(b)s for the groups).
_SAID: tuple[tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(pattern, re.DOTALL), message)
    for pattern, message in (
        (r'^"(.*)" is not a (?:finite )?number$', _l("“%(a)s”不是数字")),
        (r'^"(.*)" is not a positive weight$', _l("“%(a)s”不是正数权重")),
        (r'^"(.*)" is not a date YYYY-MM-DD$', _l("“%(a)s”不是日期（格式如 2026-09-01）")),
        (
            r'^"(.*)" is not an ISO 8601 .*$',
            _l("“%(a)s”不是日期时间（格式如 2026-09-01T08:30:00）"),
        ),
        (r'^"(.*)" is not a level 1–5$', _l("“%(a)s”不是 1 至 5 的评价等级")),
        (r'^"(.*)" is not true or false$', _l("“%(a)s”应填 true 或 false")),
        (r'^"(.*)" is not one of (.*)$', _l("“%(a)s”不是可填的值（可填：%(b)s）")),
        (r'^"(.*)" is outside (.*)$', _l("“%(a)s”超出允许的日期范围（%(b)s）")),
        (r"^is empty.*$", _l("不能为空")),
        (r"^is before (\w+)$", _l("早于 %(a)s")),
        (r'^unknown staff number "(.*)".*$', _l("工号“%(a)s”不存在（请先导入人员名册）")),
        (r'^unknown window "(.*)".*$', _l("窗口代码“%(a)s”不存在（请先导入服务中心设置）")),
        (r"^missing column\(s\) (.*)$", _l("缺少列：%(a)s")),
        (
            r"^unknown column\(s\) (.*) \(columns: (.*)\)$",
            _l("无法识别的列：%(a)s（可用的列：%(b)s）"),
        ),
        (r"^column\(s\) (.*) appear more than once$", _l("列重复：%(a)s")),
        (
            r"^the file is not UTF-8.*$",
            _l("文件不是 UTF-8 编码，请在 Excel 中另存为“CSV UTF-8”后重新上传"),
        ),
        (r"^the file is empty.*$", _l("文件为空，第一行应为列名")),
        (r"^the file is not comma-separated.*$", _l("文件不是逗号分隔的，请另存为逗号分隔的 CSV")),
        (
            r"^(\d+) fields, but the header has (\d+) columns$",
            _l("本行有 %(a)s 个字段，而列名行有 %(b)s 列"),
        ),
        (r"^contains a control character.*$", _l("含有控制字符，请删除后重新上传")),
        (r"^is larger than .*$", _l("内容过长")),
    )
)


def _said(message: str) -> str | None:
    for pattern, words in _SAID:
        match = pattern.match(message)
        if match:
            groups = match.groups()
            values = {"a": groups[0] if groups else "", "b": groups[1] if len(groups) > 1 else ""}
            return str(words) % values
    return None


def problem_rows(problems: list[str]) -> list[Problem]:
    """The importer's messages (``line 3, column staff_no: ...``) as table rows."""
    rows = []
    for text in problems:
        match = _LOCATED.match(text)
        if match:
            message = match.group(3)
            rows.append(Problem(int(match.group(1)), match.group(2), message, _said(message)))
        else:
            rows.append(Problem(None, None, text, _said(text)))
    return rows


def upload(
    session: Session,
    *,
    kind: str,
    data: bytes,
    role: str,
    hall_code: str,
    own_hall_code: str | None,
    user_id: int,
    filename: str,
    lock_wait: float,
) -> ImportReport:
    """Import ``data`` as ``kind`` into the hall ``hall_code`` for a user of ``role``.

    ``own_hall_code`` is the hall the user belongs to (None for an admin of every hall):
    a hall file may only describe that hall. Raises :class:`ImportRefused` for a kind
    the role may not upload and :class:`~kiosk.interchange.ImportFailed` (every bad row
    by line and column) for a bad file; either way nothing is changed. The importer
    ends the transaction itself (it holds the import lock until its commit).
    """
    if kind not in KINDS:
        raise ImportRefused(_("请选择导入类型。"))
    if kind not in kinds_for_role(role):
        raise ImportRefused(_("您的角色不能导入此类数据。"), code="forbidden")
    if not data:
        raise ImportRefused(_("请选择要上传的文件（文件不能为空）。"))
    if kind == "hall" and own_hall_code is not None:
        try:
            named = parse_hall_file(data).code
        except HallFileError as exc:
            raise ImportFailed(exc.problems) from exc
        if named != own_hall_code:
            raise ImportRefused(
                _(
                    "该服务中心文件的代码为 %(named)s，与本中心（%(own)s）不符，未予导入。",
                    named=named,
                    own=own_hall_code,
                )
            )
    return import_file(
        session,
        kind,
        data,
        hall_code,
        source_name=filename,
        user_id=user_id,
        lock_wait=lock_wait,
    )
