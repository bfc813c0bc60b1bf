"""Uploads of the SPEC 6 files through the back office (SPEC 10 ``/admin/imports``).

The upload goes through the same importer as ``flask --app kiosk import`` (all or
nothing, one at a time, audited as ``import``); this module adds what the browser needs
on top: which kinds a role may upload, that a hall file names the uploader's own hall,
and the importer's problems split into line, column and message for a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
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
    """One problem of a refused file: its line and column when the importer names them."""

    line: int | None
    column: str | None
    message: str


_LOCATED = re.compile(r"^line (\d+)(?:, column ([^:]+))?: (.*)$", re.DOTALL)


def problem_rows(problems: list[str]) -> list[Problem]:
    """The importer's messages (``line 3, column staff_no: ...``) as table rows."""
    rows = []
    for text in problems:
        match = _LOCATED.match(text)
        if match:
            rows.append(Problem(int(match.group(1)), match.group(2), match.group(3)))
        else:
            rows.append(Problem(None, None, text))
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
