"""The back office's growing lists, written once: filter, page, export (issue 13, SPEC 10).

Punches, absences, events, ratings, work orders and the audit log share one way to be
searched (staff number or name), narrowed (unit, window, local date range), paged on the
server (a bounded page size) and written to an Excel workbook (the filtered set, at most
:data:`EXPORT_MAX_ROWS` rows). A list is a :class:`ListSpec`: its select, the staff and
instant columns the filter applies to, its order, and how a row becomes cells.

Hostile query strings never raise: :func:`parse_filter` keeps what is usable, clamps the
page, and returns a message for everything it dropped.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import (
    Absence,
    Assignment,
    Event,
    Hall,
    Punch,
    PunchVoid,
    Rating,
    Staff,
    Unit,
    Window,
)
from kiosk.services.notices import FORMULA_TRIGGERS, UNPRINTABLE, safe_text_cell
from kiosk.services.texts import _
from kiosk.textlimits import EARLIEST_DAY, LATEST_DAY, day_in_range

PAGE_SIZE = 50
"""Rows on one page of every list."""
EXPORT_MAX_ROWS = 50_000
"""The most rows one Excel export writes (the filtered set is cut there, and says so)."""
MAX_SEARCH = 64
"""Longest search text kept (a staff number is at most 32, a name 100 characters wide)."""
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list is narrowed to; every field already checked."""

    q: str = ""
    unit: str = ""
    window: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1
    messages: tuple[str, ...] = ()

    def args(self, **extra: Any) -> dict[str, Any]:
        """The filter as query arguments (for page links and the export link)."""
        values: dict[str, Any] = {
            "q": self.q or None,
            "unit": self.unit or None,
            "window": self.window or None,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
        }
        values.update(extra)
        return {k: v for k, v in values.items() if v is not None}


def _day(text: str, what: str, messages: list[str]) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text[:10]) if len(text) <= 10 else None
    except ValueError:
        day = None
    if day is None:
        messages.append(_("%(what)s的格式应为 2026-11-02，已忽略。", what=what))
        return None
    if not day_in_range(day):
        messages.append(
            _(
                "%(what)s应在 %(first)s 至 %(last)s 之间，已忽略。",
                what=what,
                first=EARLIEST_DAY.isoformat(),
                last=LATEST_DAY.isoformat(),
            )
        )
        return None
    return day


def _code(text: str, what: str, messages: list[str]) -> str:
    text = text.strip()
    if len(text) > 32 or any(ord(c) < 32 for c in text):
        messages.append(_("%(what)s无效，已忽略。", what=what))
        return ""
    return text


def parse_filter(args: Mapping[str, str]) -> ListFilter:
    """A :class:`ListFilter` from query arguments (``q``, ``unit``, ``window``, ``start``,
    ``end``, ``page``); what cannot be used is dropped with a message, never an error."""
    messages: list[str] = []
    q = "".join(c for c in str(args.get("q") or "") if ord(c) >= 32).strip()
    if len(q) > MAX_SEARCH:
        messages.append(_("搜索内容过长，只按前 %(n)d 个字搜索。", n=MAX_SEARCH))
        q = q[:MAX_SEARCH]
    start = _day(str(args.get("start") or ""), _("开始日期"), messages)
    end = _day(str(args.get("end") or ""), _("结束日期"), messages)
    if start and end and end < start:
        messages.append(_("结束日期早于开始日期，已互换。"))
        start, end = end, start
    raw_page = str(args.get("page") or "1").strip()
    page = 1
    if raw_page.isascii() and raw_page.isdigit():
        # A huge number is clamped without being read (int() of 5,000 digits is refused).
        page = MAX_PAGE if len(raw_page) > 7 else max(1, min(int(raw_page), MAX_PAGE))
    elif raw_page:
        messages.append(_("页码无效，已显示第 1 页。"))
    return ListFilter(
        q=q,
        unit=_code(str(args.get("unit") or ""), _("单位"), messages),
        window=_code(str(args.get("window") or ""), _("窗口"), messages),
        start=start,
        end=end,
        page=page,
        messages=tuple(messages),
    )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its rows (as the spec's ``row`` made them) and where it is."""

    rows: list[Any]
    page: int
    pages: int
    total: int
    size: int = PAGE_SIZE

    @property
    def first(self) -> int:
        """Number of the first row shown (1-based; 0 when empty)."""
        return 0 if not self.total else (self.page - 1) * self.size + 1

    @property
    def last(self) -> int:
        """Number of the last row shown."""
        return min(self.total, self.page * self.size)


def page_bounds(total: int, page: int, size: int = PAGE_SIZE) -> tuple[int, int]:
    """(page, pages): ``page`` clamped into 1..pages for ``total`` rows."""
    pages = max(1, -(-total // size))
    return min(max(page, 1), pages), pages


def page_of(items: Sequence[Any], page: int, size: int = PAGE_SIZE) -> Page:
    """A page of a list already in memory (work orders, whose state is computed)."""
    number, pages = page_bounds(len(items), page, size)
    start = (number - 1) * size
    return Page(list(items[start : start + size]), number, pages, len(items), size)


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards escaped (used with ``escape='\\\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def staff_matching(hall: Hall, q: str) -> Select[Any]:
    """Ids of the hall's staff whose number or name contains ``q`` (case-insensitive)."""
    pattern = like_pattern(q.lower())
    return select(Staff.id).where(
        Staff.hall_id == hall.id,
        or_(
            func.lower(Staff.staff_no).like(pattern, escape="\\"),
            func.lower(Staff.name).like(pattern, escape="\\"),
        ),
    )


def seat_conditions(
    session: Session,
    hall: Hall,
    staff_col: Any,
    instant_col: Any,
    *,
    unit_id: int | None = None,
    unit_code: str = "",
    window_code: str = "",
) -> list[ColumnElement[bool]]:
    """Rows of people who sat at the unit's (or window's) counters *at the row's instant*.

    A person who moved between units is shown to each unit for their time there only: one
    condition per assignment (staff, from, to), the assignments read first and bounded by
    the unit's size, so the same query runs on SQLite and PostgreSQL alike.
    """
    if unit_id is None and not unit_code and not window_code:
        return []
    stmt = (
        select(Assignment.staff_id, Assignment.start_date, Assignment.end_date)
        .join(Window, Window.id == Assignment.window_id)
        .join(Unit, Unit.id == Window.unit_id)
        .where(Window.hall_id == hall.id)
    )
    if unit_id is not None:
        stmt = stmt.where(Unit.id == unit_id)
    if unit_code:
        stmt = stmt.where(Unit.code == unit_code)
    if window_code:
        stmt = stmt.where(Window.code == window_code)
    zone = hall_zone(hall.timezone)
    spans: list[ColumnElement[bool]] = []
    people: set[int] = set()
    for staff_id, first, last in session.execute(stmt):
        lo, hi = local_day_bounds(first, last or LATEST_DAY, zone)
        spans.append(and_(staff_col == staff_id, instant_col >= lo, instant_col < hi))
        people.add(staff_id)
    if not spans:
        return [false()]
    # The IN list lets the database seek by staff (an index leads with it) before it
    # checks the spans.
    return [staff_col.in_(sorted(people)), or_(*spans)]


@dataclass(frozen=True)
class ListSpec:
    """One growing list: what it selects and how its rows are shown and exported."""

    name: str
    select: Callable[[Hall], Select[Any]]
    staff_col: Any
    instant_col: Any
    order: tuple[tuple[Any, bool], ...]
    """(column, descending) pairs, most significant first; the last one unique."""
    headers: Callable[[], list[str]]
    cells: Callable[[Any, Any], list[Any]]
    """(row, zone) → the row's cells for the Excel sheet."""


def _ordering(spec: ListSpec, *, reverse: bool = False) -> list[Any]:
    return [
        column.desc() if descending != reverse else column.asc()
        for column, descending in spec.order
    ]


def conditions(
    session: Session,
    hall: Hall,
    spec: ListSpec,
    flt: ListFilter,
    *,
    viewer_unit_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``flt`` on ``spec`` (a unit viewer's unit always applies)."""
    where: list[ColumnElement[bool]] = []
    if flt.q:
        where.append(spec.staff_col.in_(staff_matching(hall, flt.q)))
    if flt.start or flt.end:
        lo, hi = local_day_bounds(
            flt.start or EARLIEST_DAY, flt.end or LATEST_DAY, hall_zone(hall.timezone)
        )
        where += [spec.instant_col >= lo, spec.instant_col < hi]
    where += seat_conditions(
        session,
        hall,
        spec.staff_col,
        spec.instant_col,
        unit_code=flt.unit,
        window_code=flt.window,
    )
    if viewer_unit_id is not None:
        where += seat_conditions(
            session, hall, spec.staff_col, spec.instant_col, unit_id=viewer_unit_id
        )
    return where


def list_page(
    session: Session,
    hall: Hall,
    spec: ListSpec,
    flt: ListFilter,
    *,
    viewer_unit_id: int | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
    size: int = PAGE_SIZE,
) -> Page:
    """One page of ``spec`` under ``flt``: a COUNT, then at most ``size`` rows."""
    where = [*conditions(session, hall, spec, flt, viewer_unit_id=viewer_unit_id), *extra]
    base = spec.select(hall).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    number, pages = page_bounds(total, flt.page, size)
    skip = (number - 1) * size
    if skip > total // 2:
        # Past the middle, read from the other end: the last page costs what the first
        # does instead of the deepest OFFSET there is.
        upto = min(total, skip + size)
        backwards = base.order_by(*_ordering(spec, reverse=True))
        rows = session.execute(backwards.offset(total - upto).limit(upto - skip)).all()
        return Page(list(reversed(rows)), number, pages, total, size)
    rows = session.execute(base.order_by(*_ordering(spec)).offset(skip).limit(size)).all()
    return Page(list(rows), number, pages, total, size)


def export_rows(
    session: Session,
    hall: Hall,
    spec: ListSpec,
    flt: ListFilter,
    *,
    viewer_unit_id: int | None = None,
    extra: Sequence[ColumnElement[bool]] = (),
    limit: int = EXPORT_MAX_ROWS,
) -> Iterator[list[Any]]:
    """The cells of every row of the filtered set, at most ``limit``, streamed in chunks."""
    where = [*conditions(session, hall, spec, flt, viewer_unit_id=viewer_unit_id), *extra]
    zone = hall_zone(hall.timezone)
    result = session.execute(
        spec.select(hall).where(*where).order_by(*_ordering(spec)).limit(limit),
        execution_options={"yield_per": 1000},
    )
    for row in result:
        yield spec.cells(row, zone)


def write_xlsx(
    title: str, headers: list[str], rows: Iterable[list[Any]], *, limit: int = EXPORT_MAX_ROWS
) -> IO[bytes]:
    """A workbook of ``rows`` under ``headers``, written to a temporary file (rewound).

    Written in openpyxl's write-only mode, so memory stays flat however many rows; every
    text cell goes through the same formula guard as the published notice's workbook. The
    caller sends and closes the file (it is deleted on close).
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(_safe_cells(sheet, headers))
    written = 0
    for values in rows:
        sheet.append(_safe_cells(sheet, values))
        written += 1
    if written >= limit:
        note = _("（已达导出上限 %(n)d 行，请缩小筛选范围后再导出。）", n=limit)
        sheet.append(_safe_cells(sheet, [note]))
    # Deleted when the caller closes it (after sending); not a context manager on purpose.
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    book.save(handle)
    handle.seek(0)
    return handle


def _safe_cells(sheet: Any, values: Iterable[Any]) -> list[Any]:
    """Cells of a write-only sheet; text stays text (never a formula), as in the notice's
    workbook (:func:`kiosk.services.notices.safe_text_cell`)."""
    cells: list[Any] = []
    for value in values:
        if isinstance(value, str):
            value = UNPRINTABLE.sub("", value)
            if value.startswith(FORMULA_TRIGGERS):
                # Only such a cell needs an object of its own (plain values are cheaper).
                cell = WriteOnlyCell(sheet, value=value)
                safe_text_cell(cell)
                cells.append(cell)
                continue
        cells.append(value)
    return cells


# --------------------------------------------------------------------------- the lists


def _local(value: dt.datetime | None, zone: Any) -> str:
    return to_local(value, zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _who(user: Any) -> str:
    # Only withdrawn rows name a user, so this lazy load runs for few rows.
    return (user.display_name or user.username) if user is not None else ""


def _punch_select(hall: Hall) -> Select[Any]:
    return (
        select(Punch, Staff, PunchVoid)
        .join(Staff, Staff.id == Punch.staff_id)
        .outerjoin(PunchVoid, PunchVoid.punch_id == Punch.id)
        .where(Staff.hall_id == hall.id)
    )


def _punch_cells(row: Any, zone: Any) -> list[Any]:
    punch, person, void = row
    return [
        person.staff_no,
        person.name,
        _local(punch.punched_at, zone),
        punch.source,
        punch.reason or "",
        _("是") if void is not None else "",
        void.reason if void is not None else "",
    ]


def _absence_select(hall: Hall) -> Select[Any]:
    return (
        select(Absence, Staff)
        .join(Staff, Staff.id == Absence.staff_id)
        .where(Staff.hall_id == hall.id)
    )


def _absence_cells(row: Any, zone: Any) -> list[Any]:
    absence, person = row
    return [
        person.staff_no,
        person.name,
        absence.kind,
        _local(absence.start, zone),
        _local(absence.end, zone),
        absence.note or "",
        _local(absence.withdrawn_at, zone),
        _who(absence.withdrawer),
        absence.withdraw_reason or "",
    ]


def _event_select(hall: Hall) -> Select[Any]:
    return (
        select(Event, Staff).join(Staff, Staff.id == Event.staff_id).where(Event.hall_id == hall.id)
    )


def _event_cells(row: Any, zone: Any) -> list[Any]:
    event, person = row
    return [
        event.event_id,
        person.staff_no,
        person.name,
        _local(event.at, zone),
        event.kind,
        event.category or "",
        event.points,
        _("是") if event.veto else "",
        event.note or "",
        _local(event.withdrawn_at, zone),
        _who(event.withdrawer),
        event.withdraw_reason or "",
    ]


def _rating_select(hall: Hall) -> Select[Any]:
    return (
        select(Rating, Staff)
        .join(Staff, Staff.id == Rating.staff_id)
        .where(Rating.hall_id == hall.id)
    )


def _rating_cells(row: Any, zone: Any) -> list[Any]:
    rating, person = row
    return [
        rating.rating_id,
        _local(rating.rated_at, zone),
        person.staff_no,
        person.name,
        rating.level,
        rating.channel,
        rating.case_no or "",
        (rating.reasons or "").replace("|", "、"),
        _("是") if rating.misuse else "",
        rating.review or "",
    ]


PUNCHES = ListSpec(
    "punches",
    _punch_select,
    Punch.staff_id,
    Punch.punched_at,
    ((Punch.punched_at, True), (Punch.id, True)),
    lambda: [
        _("工号"),
        _("姓名"),
        _("打卡时间"),
        _("来源"),
        _("补录原因"),
        _("已作废"),
        _("作废原因"),
    ],
    _punch_cells,
)
ABSENCES = ListSpec(
    "absences",
    _absence_select,
    Absence.staff_id,
    Absence.start,
    ((Absence.start, True), (Absence.id, True)),
    lambda: [
        _("工号"),
        _("姓名"),
        _("类型"),
        _("开始"),
        _("结束"),
        _("事由"),
        _("撤销时间"),
        _("撤销人"),
        _("撤销原因"),
    ],
    _absence_cells,
)
EVENTS = ListSpec(
    "events",
    _event_select,
    Event.staff_id,
    Event.at,
    ((Event.at, True), (Event.id, True)),
    lambda: [
        _("编号"),
        _("工号"),
        _("姓名"),
        _("时间"),
        _("类型"),
        _("事项"),
        _("分值"),
        _("一票否决"),
        _("说明"),
        _("撤销时间"),
        _("撤销人"),
        _("撤销原因"),
    ],
    _event_cells,
)
RATINGS = ListSpec(
    "ratings",
    _rating_select,
    Rating.staff_id,
    Rating.rated_at,
    ((Rating.rated_at, True), (Rating.id, True)),
    lambda: [
        _("评价编号"),
        _("评价时间"),
        _("工号"),
        _("姓名"),
        _("等级"),
        _("渠道"),
        _("办件编号"),
        _("原因"),
        _("疑似误触"),
        _("核实结果"),
    ],
    _rating_cells,
)
LISTS: dict[str, ListSpec] = {s.name: s for s in (PUNCHES, ABSENCES, EVENTS, RATINGS)}


def unit_choices(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(code, "code name") of the hall's units, for the filter's select box."""
    return [
        (u.code, f"{u.code} {u.name}")
        for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id).order_by(Unit.code))
    ]


def window_choices(session: Session, hall: Hall) -> list[tuple[str, str]]:
    """(code, "code name") of the hall's windows, for the filter's select box."""
    return [
        (w.code, f"{w.code} {w.name}")
        for w in session.scalars(
            select(Window).where(Window.hall_id == hall.id).order_by(Window.code)
        )
    ]
