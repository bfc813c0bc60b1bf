"""Pictures and sheets of how the hall is doing (issue 15): the monthly attendance sheet
and the rating fraud signals.

:func:`monthly_sheet` gives the 考勤月报 of a month per unit, one line per person
(:func:`kiosk.rules.attendance.month_line` over the person's day records at that unit's
windows); :func:`monthly_sheet_xlsx` writes it as an Excel workbook, one sheet per unit,
every text cell kept text (never a formula).
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
import io
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from kiosk.localtime import hall_zone, local_day_bounds, to_local
from kiosk.models import (
    Assignment,
    Case,
    Hall,
    Punch,
    PunchVoid,
    Rating,
    ServiceSession,
    Staff,
    Unit,
    User,
    Window,
)
from kiosk.rules.attendance import DayRecord, MonthLine, month_line
from kiosk.rules.fraud import CorrectionFact, FraudSignal, RatingFact, fraud_signals
from kiosk.rules.insight import HeatCell, MonthPoint, heat_grid, monthly_trend
from kiosk.rules.seating import Assignment as Seat
from kiosk.rules.seating import holding_on
from kiosk.services.notices import append_row
from kiosk.services.reports import attendance_records
from kiosk.services.rulefile import rules_in_force

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def parse_month(text: str | None, today: dt.date) -> tuple[int, int]:
    """``YYYY-MM`` (an HTML month input) as (year, month); the previous month when empty.

    Raises ``ValueError`` with a readable message for anything else, or a year outside
    2000–2099.
    """
    if not text:
        first = today.replace(day=1) - dt.timedelta(days=1)
        return first.year, first.month
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"“{text[:20]}”不是有效的月份（格式 2026-10）")
    year, month = int(match.group(1)), int(match.group(2))
    if not 2000 <= year <= 2099:
        raise ValueError("月份须在 2000 年至 2099 年之间")
    return year, month


@dataclass(frozen=True, slots=True)
class PersonMonth:
    """One line of a unit's sheet."""

    staff_no: str
    name: str
    windows: tuple[str, ...]
    line: MonthLine


@dataclass(slots=True)
class UnitMonth:
    """A unit's part of the sheet, people by staff number, and its totals."""

    code: str
    name: str
    people: list[PersonMonth] = field(default_factory=list)
    totals: MonthLine = MonthLine()


@dataclass(slots=True)
class MonthlySheet:
    """The 考勤月报 of one month."""

    hall_name: str
    year: int
    month: int
    workdays: tuple[dt.date, ...]
    units: list[UnitMonth]
    warnings: list[str]
    open_days: tuple[dt.date, ...]
    as_of_local: dt.datetime | None


def _sum(lines: list[MonthLine]) -> MonthLine:
    names = MonthLine.__dataclass_fields__
    return MonthLine(**{n: sum(getattr(x, n) for x in lines) for n in names})


def monthly_sheet(
    session: Session,
    hall: Hall,
    year: int,
    month: int,
    *,
    unit_id: int | None = None,
    as_of: dt.datetime | None = None,
) -> MonthlySheet:
    """The month's sheet per unit (only ``unit_id``'s when given), judged at ``as_of``
    (naive UTC, default now: days not closed yet are counted apart)."""
    first = dt.date(year, month, 1)
    last = dt.date(year, month, month_calendar.monthrange(year, month)[1])
    data = attendance_records(session, hall, first, last, unit_id=unit_id, as_of=as_of)
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    days: dict[tuple[int, str], list[DayRecord]] = defaultdict(list)
    names: dict[str, str] = {}
    windows: dict[tuple[int, str], list[str]] = defaultdict(list)
    for item in data.records:
        key = (item.unit_id, item.staff_no)
        days[key].append(item.record)
        names[item.staff_no] = item.name
        if item.window_code not in windows[key]:
            windows[key].append(item.window_code)
    by_unit: dict[int, UnitMonth] = {}
    for (unit, staff_no), records in sorted(days.items(), key=lambda kv: kv[0][1]):
        part = by_unit.setdefault(unit, UnitMonth(units[unit].code, units[unit].name))
        part.people.append(
            PersonMonth(
                staff_no, names[staff_no], tuple(windows[(unit, staff_no)]), month_line(records)
            )
        )
    for part in by_unit.values():
        part.totals = _sum([p.line for p in part.people])
    return MonthlySheet(
        hall.name,
        year,
        month,
        data.days,
        sorted(by_unit.values(), key=lambda u: u.code),
        list(data.warnings),
        data.open_days,
        data.as_of_local,
    )


COLUMNS = (
    "工号",
    "姓名",
    "窗口",
    "应出勤(天)",
    "在岗(天)",
    "迟到(次)",
    "早退(次)",
    "缺卡(次)",
    "旷工(天)",
    "请假(天)",
    "外出(天)",
)


def half_days(value: int) -> float | int:
    """Half-days as days: 3 -> 1.5, 4 -> 2."""
    return value // 2 if value % 2 == 0 else value / 2


def row_values(person: PersonMonth) -> list[object]:
    """The cells of one line, in :data:`COLUMNS` order."""
    line = person.line
    return [
        person.staff_no,
        person.name,
        "、".join(person.windows),
        line.workdays,
        line.on_duty_days,
        line.late,
        line.early,
        line.missing,
        half_days(line.absent_half_days),
        half_days(line.leave_half_days),
        half_days(line.out_half_days),
    ]


def monthly_sheet_xlsx(sheet: MonthlySheet) -> bytes:
    """The sheet as an Excel workbook: one worksheet per unit, title and total rows."""
    book = Workbook()
    default = book.active
    assert default is not None
    book.remove(default)
    title = f"{sheet.year}年{sheet.month}月考勤月报"
    for unit in sheet.units or [UnitMonth("-", "（无）")]:
        ws = book.create_sheet(re.sub(r"[\[\]:*?/\\]", "", unit.name)[:31] or unit.code)
        append_row(ws, [f"{sheet.hall_name} {title}"])
        append_row(ws, [f"单位：{unit.name}（{unit.code}）"])
        append_row(ws, COLUMNS)
        for person in unit.people:
            append_row(ws, row_values(person))
        totals = PersonMonth("合计", "", (), unit.totals)
        append_row(ws, row_values(totals))
        if sheet.open_days:
            append_row(ws, [f"注：本月尚有 {len(sheet.open_days)} 个工作日未结束，未计入。"])
        for warning in sheet.warnings:
            append_row(ws, [f"注：{warning}"])
        ws["A1"].font = Font(bold=True, size=14)
        for cell in ws[3]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center")
        for column, width in zip("ABCDEFGHIJK", (10, 10, 14, 11, 9, 9, 9, 9, 9, 9, 9), strict=True):
            ws.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- fraud signals


@dataclass(frozen=True, slots=True)
class RatingBehind:
    """A rating behind a signal, as the review page lists it (times local)."""

    rating_id: str
    staff_no: str
    staff_name: str
    window: str | None
    rated_at: dt.datetime
    opened_at: dt.datetime | None
    level: int
    channel: str

    @property
    def seconds_after_opening(self) -> float | None:
        """Seconds from the session's opening to the rating; None without a session."""
        if self.opened_at is None:
            return None
        return (self.rated_at - self.opened_at).total_seconds()


@dataclass(slots=True)
class FraudReview:
    """The signals of a range and the ratings behind them, by rating id."""

    first: dt.date
    last: dt.date
    signals: list[FraudSignal]
    ratings: dict[str, RatingBehind]
    names: dict[str, str]


def fraud_review(session: Session, hall: Hall, first: dt.date, last: dt.date) -> FraudReview:
    """The fraud signals (SPEC 12) of the local dates ``first``..``last``; never changes
    a rating or a score."""
    zone = hall_zone(hall.timezone)
    start, stop = local_day_bounds(first, last, zone)
    rows = session.execute(
        select(
            Rating.rating_id,
            Staff.staff_no,
            Staff.name,
            Window.code,
            Rating.rated_at,
            ServiceSession.opened_at,
            Rating.level,
            Rating.channel,
            Rating.client_tag,
            ServiceSession.opened_from,
        )
        .join(Staff, Staff.id == Rating.staff_id)
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .where(Rating.hall_id == hall.id, Rating.rated_at >= start, Rating.rated_at < stop)
    ).all()
    behind: dict[str, RatingBehind] = {}
    facts = []
    names: dict[str, str] = {}
    for r in rows:
        rated = to_local(r.rated_at, zone)
        opened = to_local(r.opened_at, zone) if r.opened_at is not None else None
        names[r.staff_no] = r.name
        behind[r.rating_id] = RatingBehind(
            r.rating_id, r.staff_no, r.name, r.code, rated, opened, r.level, r.channel
        )
        facts.append(
            RatingFact(
                r.rating_id, r.staff_no, rated, r.channel, opened, r.client_tag, r.opened_from
            )
        )
    officer = aliased(User)
    corrections = [
        CorrectionFact(staff_no, display or username or "?", to_local(at, zone))
        for staff_no, display, username, at in session.execute(
            select(Staff.staff_no, officer.display_name, officer.username, Punch.created_at)
            .join(Staff, Staff.id == Punch.staff_id)
            .outerjoin(officer, officer.id == Punch.created_by)
            .where(
                Staff.hall_id == hall.id,
                Punch.source == "correction",
                Punch.created_at >= start,
                Punch.created_at < stop,
            )
        )
    ]
    corrections += [
        CorrectionFact(staff_no, display or username or "?", to_local(at, zone))
        for staff_no, display, username, at in session.execute(
            select(Staff.staff_no, officer.display_name, officer.username, PunchVoid.voided_at)
            .join(Punch, Punch.id == PunchVoid.punch_id)
            .join(Staff, Staff.id == Punch.staff_id)
            .outerjoin(officer, officer.id == PunchVoid.voided_by)
            .where(
                Staff.hall_id == hall.id, PunchVoid.voided_at >= start, PunchVoid.voided_at < stop
            )
        )
    ]
    for staff_no, name in session.execute(
        select(Staff.staff_no, Staff.name).where(Staff.hall_id == hall.id)
    ):
        names[staff_no] = name
    signals = fraud_signals(facts, corrections, names.keys())
    return FraudReview(first, last, signals, behind, names)


# --------------------------------------------------------------------------- charts


WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


@dataclass(slots=True)
class HeatMap:
    """Satisfaction by weekday × hour of one window, one person or the whole hall."""

    subject: str
    first: dt.date
    last: dt.date
    hours: range
    rows: list[list[HeatCell]]


def heat_map(
    session: Session,
    hall: Hall,
    first: dt.date,
    last: dt.date,
    *,
    window: str | None = None,
    staff_no: str | None = None,
) -> HeatMap:
    """Valid ratings of ``first``..``last`` (local dates) by weekday and hour, of one
    window (by the session's window, else the person's window that day), one person or
    (neither given) the whole hall."""
    zone = hall_zone(hall.timezone)
    start, stop = local_day_bounds(first, last, zone)
    query = (
        select(Rating.rated_at, Rating.level, Rating.staff_id, Window.code)
        .join(Staff, Staff.id == Rating.staff_id)
        .outerjoin(ServiceSession, ServiceSession.id == Rating.session_id)
        .outerjoin(Window, Window.id == ServiceSession.window_id)
        .where(
            Rating.hall_id == hall.id,
            Rating.rated_at >= start,
            Rating.rated_at < stop,
            Rating.misuse.is_(False),
            or_(Rating.review.is_(None), Rating.review != "unfounded"),
            Rating.channel != "default",
        )
    )
    if staff_no:
        query = query.where(Staff.staff_no == staff_no)
    rows = [
        (to_local(at, zone), level, staff_id, code)
        for at, level, staff_id, code in session.execute(query)
    ]
    if window:
        seats: dict[int, list[Seat]] = defaultdict(list)
        ids = sorted({staff_id for _, _, staff_id, code in rows if code is None})
        if ids:
            for staff_id, begin, end, code in session.execute(
                select(Assignment.staff_id, Assignment.start_date, Assignment.end_date, Window.code)
                .join(Window, Window.id == Assignment.window_id)
                .where(Assignment.staff_id.in_(ids))
            ):
                seats[staff_id].append(Seat(code, begin, end))

        def window_of(at: dt.datetime, staff_id: int, code: str | None) -> str | None:
            if code is not None:
                return code
            held = holding_on(seats.get(staff_id, ()), at.date())
            return held.window if held is not None else None

        rows = [r for r in rows if window_of(r[0], r[2], r[3]) == window]
    hours = range(7, 19)
    grid = heat_grid([(at, level) for at, level, _, _ in rows], rules_in_force().level_map(), hours)
    subject = window or staff_no or ""
    return HeatMap(subject, first, last, hours, grid)


@dataclass(slots=True)
class UnitTrend:
    """One unit's monthly trend."""

    code: str
    name: str
    points: list[MonthPoint]


def _months(first: dt.date, count: int) -> list[str]:
    year, month = first.year, first.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def unit_trends(
    session: Session,
    hall: Hall,
    last_month: tuple[int, int],
    count: int = 6,
    unit_id: int | None = None,
) -> list[UnitTrend]:
    """Per unit, the ``count`` months up to ``last_month`` (year, month): satisfaction,
    bad reviews, on-time share of completed cases, attendance defects."""
    year, month = last_month
    first_year, first_month = year, month - count + 1
    while first_month < 1:
        first_year, first_month = first_year - 1, first_month + 12
    first = dt.date(first_year, first_month, 1)
    last = dt.date(year, month, month_calendar.monthrange(year, month)[1])
    months = _months(first, count)
    zone = hall_zone(hall.timezone)
    start, stop = local_day_bounds(first, last, zone)
    rules = rules_in_force()
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.hall_id == hall.id))}
    seats: dict[int, list[Seat]] = defaultdict(list)
    window_unit = dict(
        (w_id, u_id)
        for w_id, u_id in session.execute(
            select(Window.id, Window.unit_id).where(Window.hall_id == hall.id)
        )
    )
    code_unit = {}
    for staff_id, begin, end, code, w_id in session.execute(
        select(
            Assignment.staff_id, Assignment.start_date, Assignment.end_date, Window.code, Window.id
        )
        .join(Window, Window.id == Assignment.window_id)
        .where(Window.hall_id == hall.id)
    ):
        seats[staff_id].append(Seat(code, begin, end))
        code_unit[code] = window_unit[w_id]

    def unit_of(staff_id: int, day: dt.date) -> int | None:
        held = holding_on(seats.get(staff_id, ()), day)
        return code_unit.get(held.window) if held is not None else None

    ratings: dict[int, list[tuple[dt.datetime, int, bool]]] = defaultdict(list)
    for at, level, staff_id, misuse, review, channel in session.execute(
        select(
            Rating.rated_at,
            Rating.level,
            Rating.staff_id,
            Rating.misuse,
            Rating.review,
            Rating.channel,
        ).where(Rating.hall_id == hall.id, Rating.rated_at >= start, Rating.rated_at < stop)
    ):
        local = to_local(at, zone)
        unit = unit_of(staff_id, local.date())
        if unit is not None:
            valid = not misuse and review != "unfounded" and channel != "default"
            ratings[unit].append((local, level, valid))
    cases: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for completed, due, staff_id in session.execute(
        select(Case.completed_at, Case.due_at, Case.staff_id).where(
            Case.hall_id == hall.id, Case.completed_at >= start, Case.completed_at < stop
        )
    ):
        local = to_local(completed, zone)
        unit = unit_of(staff_id, local.date())
        if unit is not None:
            cases[unit].append((local, to_local(due, zone)))
    defects: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    data = attendance_records(session, hall, first, last, unit_id=unit_id)
    for item in data.records:
        r = item.record
        if r.closed:
            defects[item.unit_id].append((r.day, r.late + r.early + r.missing + r.absent_half_days))
    trends = []
    for unit in sorted(units.values(), key=lambda u: u.code):
        if unit_id is not None and unit.id != unit_id:
            continue
        points = monthly_trend(
            months,
            ratings.get(unit.id, []),
            cases.get(unit.id, []),
            defects.get(unit.id, []),
            rules.level_map(),
            rules.bad_levels,
        )
        trends.append(UnitTrend(unit.code, unit.name, points))
    return trends


# pygal's style for the back office: the hall's red first, large type so that a printed
# A4 page stays legible, no JavaScript (the SVG is inlined and printed as is).
_FONT = "Noto Sans CJK SC, Source Han Sans SC, sans-serif"


def _pygal() -> Any:
    """pygal, imported on first use.

    pygal appends to ``sys.meta_path`` a finder for its map plugins that has no
    ``find_spec``, so every later import reaching it raises an ImportWarning (an error
    under the tests' warning filter). No map plugin is used here: the finder is taken
    out again at once.
    """
    import pygal  # noqa: PLC0415

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
    return pygal


def _style() -> Any:
    from pygal.style import Style  # noqa: PLC0415

    return Style(
        background="white",
        plot_background="white",
        foreground="#222",
        foreground_strong="#111",
        foreground_subtle="#888",
        colors=("#c0392b", "#1f5fa8", "#2e7d32", "#8e5a00"),
        font_family=_FONT,
        label_font_family=_FONT,
        major_label_font_family=_FONT,
        title_font_family=_FONT,
        legend_font_family=_FONT,
        value_font_family=_FONT,
        label_font_size=14,
        major_label_font_size=14,
        title_font_size=18,
        legend_font_size=14,
        value_font_size=13,
        stroke_width=3,
    )


def trend_svg(trend: UnitTrend) -> str:
    """The unit's trend as two SVG line charts side by side in one: satisfaction and
    on-time share (percent, left axis), bad reviews and attendance defects (counts,
    secondary axis). Returns the SVG markup (no XML declaration, no script)."""
    pygal = _pygal()
    chart = pygal.Line(
        style=_style(),
        js=[],
        disable_xml_declaration=True,
        width=900,
        height=360,
        title=f"{trend.name} 月度趋势",
        show_dots=True,
        dots_size=4,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        print_values=True,
        print_values_position="top",
        range=(0, 100),
        secondary_range=(
            0,
            max([1, *(max(p.bad_reviews, p.attendance_defects) for p in trend.points)]) * 1.2,
        ),
        y_title="%",
        truncate_label=-1,
        value_formatter=lambda v: f"{v:.0f}",
    )
    chart.x_labels = [p.month for p in trend.points]
    chart.add("满意度", [p.satisfaction for p in trend.points])
    chart.add(
        "办件按时率",
        [None if p.on_time_share is None else 100 * p.on_time_share for p in trend.points],
    )
    chart.add("差评（条）", [p.bad_reviews for p in trend.points], secondary=True)
    chart.add("考勤缺陷（次）", [p.attendance_defects for p in trend.points], secondary=True)
    # pygal writes its tooltip script's configuration inline even without the script
    # (js=[]): nothing runs it, and the page's SVG is static, so it is left out.
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))
