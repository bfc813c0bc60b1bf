"""Staff from the back office (SPEC 10): the list, a new person, a move, a leaver, one
person's month, and their photo.

A browser change must export exactly as if it had been imported, so the roster changes
are made *by the roster importer itself*: each one is written as the rows of a roster
file (SPEC 6: ``staff_no, name, window_code, start_date, end_date``) and handed to
:func:`kiosk.interchange.kinds._import_roster`, the code ``flask --app kiosk import
roster`` runs, under the same import lock. Each field is checked here first with a
message for the form; a problem the importer still finds is shown beside the column it
names. Every change is audited with before and after; nothing is committed here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kiosk.interchange.importer import take_import_lock
from kiosk.interchange.kinds import _import_roster
from kiosk.interchange.report import ImportFailed, ImportReport
from kiosk.interchange.rows import _read_rows
from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import Assignment, Hall, Punch, Staff, StaffPhoto, Unit, Window, utcnow
from kiosk.rules.seating import holding_on
from kiosk.services import audit
from kiosk.services.hallsetup import SetupError
from kiosk.services.reports import AttendanceRange, attendance_records
from kiosk.services.texts import _
from kiosk.textlimits import control_character, day_in_range, max_length

STAFF_NO_LEN = max_length(Staff.__table__.c.staff_no)
NAME_LEN = max_length(Staff.__table__.c.name)
WINDOW_CODE_LEN = max_length(Window.__table__.c.code)
PAGE_SIZE = 25
SEARCH_MAX = 100

# A photo: what may be uploaded, and what is kept (a card on the counter screen is small).
PHOTO_MAX_BYTES = 5 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
PHOTO_BOX = (480, 640)
PHOTO_QUALITY = 85

_COLUMN = re.compile(r"column (\w+): (.*)$")


# ------------------------------------------------------------------------------- the list


@dataclass(frozen=True, slots=True)
class StaffLine:
    """A staff member with the assignment that holds today (else their latest one)."""

    staff_no: str
    name: str
    window_code: str
    window_name: str
    unit_code: str
    unit_name: str
    start_date: dt.date | None
    end_date: dt.date | None
    left: bool
    """The latest assignment ended before today: the person has left."""
    has_photo: bool


@dataclass(frozen=True, slots=True)
class StaffPage:
    """One page of the staff list and the numbers of the whole result."""

    lines: list[StaffLine]
    page: int
    pages: int
    total: int


def _current(assignments: list[Assignment], today: dt.date) -> Assignment | None:
    held = holding_on(assignments, today)
    if held is not None:
        return held
    return max(assignments, key=lambda a: a.start_date) if assignments else None


def _line(person: Staff, today: dt.date, photos: set[int]) -> StaffLine:
    current = _current(list(person.assignments), today)
    window = current.window if current else None
    unit = window.unit if window else None
    left = current is not None and current.end_date is not None and current.end_date < today
    return StaffLine(
        person.staff_no,
        person.name,
        window.code if window else "",
        window.name if window else "",
        unit.code if unit else "",
        unit.name if unit else "",
        current.start_date if current else None,
        current.end_date if current else None,
        left,
        person.id in photos,
    )


def staff_page(
    session: Session,
    hall: Hall,
    *,
    today: dt.date,
    q: str = "",
    unit: str = "",
    window: str = "",
    page: int = 1,
    only_unit_id: int | None = None,
) -> StaffPage:
    """The hall's staff by number: ``q`` in the number or the name, ``unit`` and ``window``
    (codes) of the assignment holding today (else the latest); ``only_unit_id`` keeps a
    unit viewer to the people of their unit."""
    q = (q or "").strip()[:SEARCH_MAX]
    people = session.scalars(
        select(Staff)
        .where(Staff.hall_id == hall.id)
        .options(
            selectinload(Staff.assignments)
            .selectinload(Assignment.window)
            .selectinload(Window.unit)
        )
        .order_by(Staff.staff_no)
    ).all()
    photos = set(
        session.scalars(select(StaffPhoto.staff_id).join(Staff).where(Staff.hall_id == hall.id))
    )
    lines = []
    needle = q.casefold()
    for person in people:
        if (
            needle
            and needle not in person.staff_no.casefold()
            and needle not in person.name.casefold()
        ):
            continue
        line = _line(person, today, photos)
        if unit and line.unit_code != unit:
            continue
        if window and line.window_code != window:
            continue
        if only_unit_id is not None and not any(
            a.window.unit_id == only_unit_id for a in person.assignments
        ):
            continue
        lines.append(line)
    total = len(lines)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return StaffPage(lines[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages, total)


# ------------------------------------------------------------------------ roster changes


def _field_text(
    errors: dict[str, str], name: str, value: str | None, label: str, limit: int
) -> str:
    text = (value or "").strip()
    if not text:
        errors[name] = _("请填写%(label)s。", label=label)
    elif control_character(text) or "\n" in text or "\r" in text:
        errors[name] = _("%(label)s不能包含控制字符或换行。", label=label)
    elif len(text) > limit:
        errors[name] = _("%(label)s不能超过 %(n)d 个字符。", label=label, n=limit)
    return text


def _field_date(
    errors: dict[str, str], name: str, value: str | None, label: str, required: bool = True
) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        if required:
            errors[name] = _("请填写%(label)s。", label=label)
        return None
    try:
        day = dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors[name] = _("%(label)s应为日期，如 2026-11-02。", label=label)
        return None
    if not day_in_range(day):
        errors[name] = _("%(label)s应在 2000-01-01 至 2099-12-31 之间。", label=label)
        return None
    return day


def _window(
    session: Session, hall: Hall, errors: dict[str, str], code: str | None
) -> Window | None:
    code = (code or "").strip()
    if not code:
        errors["window_code"] = _("请选择窗口。")
        return None
    window = session.scalar(
        select(Window).where(Window.hall_id == hall.id, Window.code == code[:WINDOW_CODE_LEN])
    )
    if window is None or len(code) > WINDOW_CODE_LEN:
        errors["window_code"] = _("没有编号为“%(c)s”的窗口。", c=code[:WINDOW_CODE_LEN])
    return window


def _import_rows(
    session: Session, hall: Hall, rows: list[tuple[str, str, str, dt.date, dt.date | None]]
) -> ImportReport:
    """Store roster rows through the roster importer; its problems go beside their column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["staff_no", "name", "window_code", "start_date", "end_date"])
    for staff_no, name, window_code, start, end in rows:
        writer.writerow(
            [staff_no, name, window_code, start.isoformat(), end.isoformat() if end else ""]
        )
    try:
        index, parsed = _read_rows(out.getvalue().encode("utf-8"), "roster")
        report = ImportReport("roster")
        _import_roster(session, hall, index, parsed, hall_zone(hall.timezone), report)
        report.rows = parsed.count
    except ImportFailed as exc:
        fields: dict[str, str] = {}
        for problem in exc.problems:
            found = _COLUMN.search(problem)
            fields.setdefault(found.group(1) if found else "", found.group(2) if found else problem)
        raise SetupError(fields) from exc
    session.expire_all()
    return report


def _lock(session: Session, lock_wait: float) -> None:
    try:
        take_import_lock(session, lock_wait)
    except ImportFailed as exc:
        raise SetupError({"": _("另一个导入正在进行，请稍后再试。")}, "conflict") from exc


def staff_by_no(session: Session, hall: Hall, staff_no: str | None) -> Staff:
    """The hall's staff member with this number, or a ``not_found`` refusal."""
    code = (staff_no or "").strip()[: STAFF_NO_LEN + 1]
    person = session.scalar(select(Staff).where(Staff.hall_id == hall.id, Staff.staff_no == code))
    if person is None:
        raise SetupError({"staff_no": _("没有工号为“%(no)s”的工作人员。", no=code)}, "not_found")
    return person


def _snapshot(a: Assignment) -> dict[str, object]:
    return {"window_code": a.window.code, "start_date": a.start_date, "end_date": a.end_date}


def add_staff(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    name: str,
    window_code: str,
    start_date: str,
    end_date: str = "",
    user_id: int | None,
    lock_wait: float,
) -> Staff:
    """Add a staff member with a first assignment (a roster row of SPEC 6)."""
    errors: dict[str, str] = {}
    staff_no = _field_text(errors, "staff_no", staff_no, _("工号"), STAFF_NO_LEN)
    name = _field_text(errors, "name", name, _("姓名"), NAME_LEN)
    window = _window(session, hall, errors, window_code)
    start = _field_date(errors, "start_date", start_date, _("起始日期"))
    end = _field_date(errors, "end_date", end_date, _("截止日期"), required=False)
    if start and end and end < start:
        errors["end_date"] = _("截止日期不能早于起始日期。")
    if "staff_no" not in errors:
        _lock(session, lock_wait)
        taken = session.scalar(
            select(Staff.id).where(Staff.hall_id == hall.id, Staff.staff_no == staff_no)
        )
        if taken is not None:
            errors["staff_no"] = _("工号“%(no)s”已存在。", no=staff_no)
    if errors:
        raise SetupError(errors)
    assert window is not None and start is not None
    _import_rows(session, hall, [(staff_no, name, window.code, start, end)])
    person = staff_by_no(session, hall, staff_no)
    audit.record(
        session,
        action="staff.add",
        object_type="staff",
        object_id=staff_no,
        user_id=user_id,
        hall_id=hall.id,
        after={
            "staff_no": staff_no,
            "name": name,
            "window_code": window.code,
            "start_date": start,
            "end_date": end,
        },
    )
    return person


def move_staff(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    window_code: str,
    start_date: str,
    user_id: int | None,
    lock_wait: float,
) -> Staff:
    """Move a person to another window from ``start_date``: the latest assignment ends the
    day before, a new one starts (keeping a leaving date already set)."""
    errors: dict[str, str] = {}
    _lock(session, lock_wait)
    person = staff_by_no(session, hall, staff_no)
    window = _window(session, hall, errors, window_code)
    start = _field_date(errors, "start_date", start_date, _("调岗日期"))
    latest = max(person.assignments, key=lambda a: a.start_date, default=None)
    rows: list[tuple[str, str, str, dt.date, dt.date | None]] = []
    if latest is not None and start is not None and window is not None:
        if start <= latest.start_date:
            errors["start_date"] = _(
                "调岗日期应晚于现岗位的起始日期 %(d)s（不能与已有岗位重叠）。",
                d=latest.start_date.isoformat(),
            )
        elif latest.end_date is None or latest.end_date >= start:
            if latest.window_id == window.id:
                errors["window_code"] = _("该工作人员已在此窗口。")
            rows.append(
                (
                    person.staff_no,
                    person.name,
                    latest.window.code,
                    latest.start_date,
                    start - dt.timedelta(days=1),
                )
            )
    if errors:
        raise SetupError(errors)
    assert window is not None and start is not None
    keep_end = (
        latest.end_date
        if latest is not None and latest.end_date and latest.end_date >= start
        else None
    )
    before = _snapshot(latest) if latest is not None else None
    rows.append((person.staff_no, person.name, window.code, start, keep_end))
    _import_rows(session, hall, rows)
    audit.record(
        session,
        action="staff.move",
        object_type="staff",
        object_id=person.staff_no,
        user_id=user_id,
        hall_id=hall.id,
        before=before,
        after={"window_code": window.code, "start_date": start, "end_date": keep_end},
    )
    return staff_by_no(session, hall, person.staff_no)


def end_assignment(
    session: Session,
    hall: Hall,
    *,
    staff_no: str,
    end_date: str,
    user_id: int | None,
    lock_wait: float,
) -> Staff:
    """The person leaves: their latest assignment ends on ``end_date`` (inclusive)."""
    errors: dict[str, str] = {}
    _lock(session, lock_wait)
    person = staff_by_no(session, hall, staff_no)
    end = _field_date(errors, "end_date", end_date, _("离岗日期"))
    latest = max(person.assignments, key=lambda a: a.start_date, default=None)
    if latest is None:
        errors["end_date"] = _("该工作人员没有岗位安排。")
    elif end is not None and end < latest.start_date:
        errors["end_date"] = _(
            "离岗日期不能早于现岗位的起始日期 %(d)s。", d=latest.start_date.isoformat()
        )
    elif end is not None and latest.end_date == end:
        errors["end_date"] = _("离岗日期没有变化。")
    if errors:
        raise SetupError(errors)
    assert latest is not None and end is not None
    before = _snapshot(latest)
    _import_rows(
        session, hall, [(person.staff_no, person.name, latest.window.code, latest.start_date, end)]
    )
    audit.record(
        session,
        action="staff.leave",
        object_type="staff",
        object_id=person.staff_no,
        user_id=user_id,
        hall_id=hall.id,
        before=before,
        after={**before, "end_date": end},
    )
    return staff_by_no(session, hall, person.staff_no)


# -------------------------------------------------------------------------- one person


@dataclass(frozen=True, slots=True)
class AssignmentLine:
    """One assignment of the history, latest first."""

    window_code: str
    window_name: str
    unit_code: str
    unit_name: str
    start_date: dt.date
    end_date: dt.date | None
    current: bool


@dataclass(frozen=True, slots=True)
class PersonView:
    """One person's page: who, where now, the history and whether there is a photo."""

    staff_no: str
    name: str
    line: StaffLine
    history: list[AssignmentLine]
    unit_ids: frozenset[int]
    photo_sha256: str | None


def person_view(session: Session, hall: Hall, staff_no: str | None, today: dt.date) -> PersonView:
    """The person with this number, or a ``not_found`` refusal."""
    person = staff_by_no(session, hall, staff_no)
    photo = session.scalar(select(StaffPhoto.sha256).where(StaffPhoto.staff_id == person.id))
    assignments = sorted(person.assignments, key=lambda a: a.start_date, reverse=True)
    holding = _current(list(assignments), today)
    return PersonView(
        person.staff_no,
        person.name,
        _line(person, today, {person.id} if photo else set()),
        [
            AssignmentLine(
                a.window.code,
                a.window.name,
                a.window.unit.code,
                a.window.unit.name,
                a.start_date,
                a.end_date,
                a is holding,
            )
            for a in assignments
        ],
        frozenset(a.window.unit_id for a in assignments),
        photo,
    )


@dataclass(frozen=True, slots=True)
class MonthPunch:
    """A raw punch of the month (voided ones shown as such)."""

    local_time: dt.datetime
    source: str
    voided: bool


@dataclass(frozen=True, slots=True)
class PersonMonth:
    """A month of one person: the day records of SPEC 3 and the raw punches."""

    first: dt.date
    last: dt.date
    attendance: AttendanceRange
    punches: list[MonthPunch]


def parse_month(text: str | None, today: dt.date) -> dt.date:
    """The first day of ``YYYY-MM`` (this month when empty); ValueError with the message."""
    text = (text or "").strip()
    if not text:
        return today.replace(day=1)
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(_("月份格式应为 2026-11。"))
    first = dt.date(int(match.group(1)), int(match.group(2)), 1)
    if not day_in_range(first):
        raise ValueError(_("月份应在 2000 至 2099 年之间。"))
    return first


def person_month(
    session: Session, hall: Hall, staff_no: str, first: dt.date, now: dt.datetime | None = None
) -> PersonMonth:
    """A month of the person: each roster workday evaluated by the rules of SPEC 3 (the
    same service as the reports), and every raw punch of the month."""
    person = staff_by_no(session, hall, staff_no)
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    records = attendance_records(session, hall, first, last, staff_id=person.id, as_of=now)
    zone = hall_zone(hall.timezone)
    start, stop = local_day_bounds(first, last, zone)
    punches = [
        MonthPunch(to_local(p.punched_at, zone), p.source, p.void is not None)
        for p in session.scalars(
            select(Punch)
            .where(Punch.staff_id == person.id, Punch.punched_at >= start, Punch.punched_at < stop)
            .options(selectinload(Punch.void))
            .order_by(Punch.punched_at)
        )
    ]
    return PersonMonth(first, last, records, punches)


# ------------------------------------------------------------------------------- photos


def _decode_photo(data: bytes) -> tuple[bytes, int, int]:
    """The photo re-encoded as a JPEG inside :data:`PHOTO_BOX`, or a refusal.

    Its type is what Pillow decodes, not the file's name or declared type; the whole image
    is decoded, so a truncated or forged file is refused here and never stored. Metadata
    (EXIF, GPS) is not carried over.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    refused = SetupError({"photo": _("无法识别的图片：请上传 JPEG、PNG 或 WebP 格式的照片。")})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in PHOTO_FORMATS:
                    raise refused
                if image.width * image.height > PHOTO_MAX_PIXELS:
                    raise SetupError({"photo": _("图片像素过多，请缩小后再上传。")})
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                rgb = upright.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SetupError({"photo": _("图片像素过多，请缩小后再上传。")}) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise refused from None
    rgb.thumbnail(PHOTO_BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=PHOTO_QUALITY, optimize=True)
    return out.getvalue(), rgb.width, rgb.height


def save_photo(
    session: Session, hall: Hall, *, staff_no: str, data: bytes, user_id: int | None
) -> StaffPhoto:
    """Keep a person's photo (resized), replacing the one before; audited by its digest."""
    person = staff_by_no(session, hall, staff_no)
    if not data:
        raise SetupError({"photo": _("请选择照片文件。")})
    if len(data) > PHOTO_MAX_BYTES:
        raise SetupError(
            {"photo": _("照片不能超过 %(n)d MB。", n=PHOTO_MAX_BYTES // (1024 * 1024))}
        )
    jpeg, width, height = _decode_photo(data)
    digest = hashlib.sha256(jpeg).hexdigest()
    photo = session.scalar(select(StaffPhoto).where(StaffPhoto.staff_id == person.id))
    before = (
        {"sha256": photo.sha256, "width": photo.width, "height": photo.height} if photo else None
    )
    if photo is None:
        photo = StaffPhoto(staff_id=person.id)
        session.add(photo)
    photo.content, photo.width, photo.height, photo.sha256 = jpeg, width, height, digest
    photo.uploaded_at, photo.uploaded_by = utcnow(), user_id
    session.flush()
    audit.record(
        session,
        action="staff.photo",
        object_type="staff",
        object_id=person.staff_no,
        user_id=user_id,
        hall_id=hall.id,
        before=before,
        after={"sha256": digest, "width": width, "height": height, "bytes": len(jpeg)},
    )
    return photo


def photo_of(session: Session, hall: Hall, staff_no: str) -> StaffPhoto | None:
    """The stored photo of the hall's person with this number, if any."""
    return session.scalar(
        select(StaffPhoto)
        .join(Staff, Staff.id == StaffPhoto.staff_id)
        .where(Staff.hall_id == hall.id, Staff.staff_no == staff_no)
    )


def photo_digests(session: Session, staff_ids: list[int]) -> dict[int, str]:
    """``staff_id -> sha256`` of the photos of these people (for the counter's cards)."""
    if not staff_ids:
        return {}
    return dict(
        session.execute(
            select(StaffPhoto.staff_id, StaffPhoto.sha256).where(StaffPhoto.staff_id.in_(staff_ids))
        )
        .tuples()
        .all()
    )


def unit_choices(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(code, "code name") of the hall's units, for the list's filter."""
    return [
        (u.code, f"{u.code} {u.name}")
        for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    ]


def window_choices(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(code, "code name") of the hall's windows."""
    return [
        (w.code, f"{w.code} {w.name}")
        for w in session.scalars(
            select(Window).where(Window.hall_id == hall.id).order_by(Window.code)
        )
    ]


def staff_count(session: Session, hall: Hall) -> int:
    """How many staff the hall has."""
    return session.scalar(select(func.count(Staff.id)).where(Staff.hall_id == hall.id)) or 0
