"""The bimonthly notice (通报) of a published period: its text, its 文号, and the Excel.

A published period is handed out as an official notice the way a Chinese government
office issues one: a masthead, the document number (文号: the hall's prefix, the year
and a serial), the title, the units it is sent to (主送), the body with the awards by
name, the issuer and the date in Chinese (落款), then one annex per unit with that
unit's windows and staff, and the imprint (版记) with a small data line that carries the
result's digest. :func:`build_notice` turns the frozen result into a
:class:`Notice` (plain text and tables, no layout); :mod:`kiosk.services.notice_pdf`
and :mod:`kiosk.services.notice_docx` lay the same :class:`Notice` out as PDF and as
Word, so both say exactly the same. Everything is built from the frozen result of a
:class:`~kiosk.models.PublishedPeriod`, so what a unit receives is what was published.

Text from the data (names, reasons) is hostile until proven otherwise: the model keeps
it literal (:func:`clean` only drops characters no document format can carry) and each
renderer escapes it for its own format.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.localtime import hall_zone, to_local
from kiosk.models import Hall, PublishedPeriod
from kiosk.rules.badreview import LoopFigures
from kiosk.rules.settings import hall_settings

VETO_TEXT = {"absence": "旷工", "discipline": "违纪", "unrectified_bad_review": "差评未按期整改"}
REASON_TEXT = {
    "veto": "被一票否决",
    "too_few_ratings": "有效评价不足",
    "too_few_duty_days": "在岗天数不足",
    "below_threshold": "总分未达标",
}
AWARD_TEXT = {"advanced": "先进个人", "red_flag": "红旗窗口"}
MAX_PREFIX = 20

# Characters XML 1.0 (so .docx and .xlsx) cannot hold; PDF has no glyph for them either.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_CN_DIGITS = "〇一二三四五六七八九"


def clean(text: Any) -> str:
    """``text`` as a string that every output format can carry literally.

    Only control characters are dropped (tab, CR and LF become a space); ``<``, ``&`` and
    the like stay, and each renderer escapes them for its own format.
    """
    value = "" if text is None else str(text)
    return UNPRINTABLE.sub("", value.replace("\r\n", " ").translate({9: " ", 10: " ", 13: " "}))


# --------------------------------------------------------------------------- wording


def period_title(period: str) -> str:
    """``2026-B5`` -> ``2026年第5期（9—10月）``."""
    year, index = period.split("-B")
    first = 2 * int(index) - 1
    return f"{year}年第{index}期（{first}—{first + 1}月）"


def _cn_number(n: int) -> str:
    """1..31 in Chinese numerals as dates are written: 五, 十, 十一, 二十, 三十一."""
    tens, units = divmod(n, 10)
    if tens == 0:
        return _CN_DIGITS[units]
    head = "" if tens == 1 else _CN_DIGITS[tens]
    return f"{head}十{_CN_DIGITS[units] if units else ''}"


def chinese_date(day: dt.date) -> str:
    """The 成文日期 form: 2026-11-05 -> 二〇二六年十一月五日."""
    year = "".join(_CN_DIGITS[int(d)] for d in f"{day.year:04d}")
    return f"{year}年{_cn_number(day.month)}月{_cn_number(day.day)}日"


def arabic_date(day: dt.date) -> str:
    """2026-11-05 -> 2026年11月5日 (dates in running text)."""
    return f"{day.year}年{day.month}月{day.day}日"


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def vetoes_text(codes: Sequence[str]) -> str:
    """Veto codes in Chinese, joined."""
    return "、".join(VETO_TEXT.get(c, c) for c in codes)


def reasons_text(codes: Sequence[str]) -> str:
    """Ineligibility reasons in Chinese, joined."""
    return "、".join(REASON_TEXT.get(c, c) for c in codes)


# --------------------------------------------------------------------------- numbering


def number_prefix(hall: Hall) -> str:
    """The hall's 发文字号 prefix (``[notice] number_prefix`` of the hall file), or ``""``."""
    return clean(hall_settings(hall.settings).notice_number_prefix).strip()


def document_number(prefix: str, year: int, serial: int) -> str:
    """``X政服通〔2026〕5号``; empty when the hall has no prefix (no number is printed)."""
    return f"{prefix}〔{year}〕{serial}号" if prefix else ""


def publication_serial(session: Session, hall: Hall, row: PublishedPeriod) -> tuple[int, int]:
    """(year, serial) of a publication: its place among the hall's publications that year.

    The year is that of the publication date in the hall's time zone (a notice dated
    January 2027 is 〔2027〕 even for the last period of 2026). Every publication, a
    revision too, is a notice of its own and takes the next serial. Publications are
    append-only and numbered in the order they were made, so a notice keeps its number
    however often it is rendered again.
    """
    zone = hall_zone(hall.timezone)
    year = to_local(row.published_at, zone).year
    earlier = 0
    for other_id, published_at in session.execute(
        select(PublishedPeriod.id, PublishedPeriod.published_at).where(
            PublishedPeriod.hall_id == hall.id
        )
    ):
        # By id, the order rows were stored in: a later row never moves an earlier one.
        if other_id <= row.id and to_local(published_at, zone).year == year:
            earlier += 1
    return year, earlier


# --------------------------------------------------------------------------- the notice


@dataclass(frozen=True, slots=True)
class NoticeTable:
    """A table of the notice: a header row, text rows and relative column widths."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    """Millimetres on the page the table is meant for (the Word file scales them)."""


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of running text: ``heading`` (一、…), ``subheading``, ``para`` or ``table``."""

    kind: str
    text: str = ""
    table: NoticeTable | None = None


@dataclass(frozen=True, slots=True)
class Annex:
    """One annex (附件): a unit's windows and staff."""

    label: str
    """``附件1`` (or ``附件`` when there is only one)."""
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """The content of a 通报, ready for a renderer."""

    issuer: str
    number: str
    """The 文号, empty when the hall has none configured."""
    title: str
    title_lines: tuple[str, ...]
    """The title broken where a reader expects it (never after an opening quote)."""
    recipients: str
    """主送 line, ending in a full-width colon."""
    body: tuple[Block, ...]
    annex_note: tuple[str, ...]
    """The 附件说明 lines under the body: ``附件：1．…``, then ``2．…`` (indented under 1)."""
    date: str
    """成文日期 in Chinese numerals."""
    annexes: tuple[Annex, ...]
    imprint: tuple[str, str]
    """The 印发 line of the 版记: who prints it (left) and ``2026年11月5日印发`` (right)."""
    data_line: str
    """A small line at the very end: as-of, version and the result's sha256."""
    document_title: str = field(default="")


def _window_table(windows: list[dict[str, Any]], names: dict[str, str]) -> NoticeTable:
    rows = tuple(
        (
            str(w["rank"]),
            clean(w["name"]),
            _num(w["total"]),
            str(w["valid_ratings"]),
            AWARD_TEXT.get(w["award"] or "", ""),
            vetoes_text(w["vetoes"]),
            "、".join(names.get(m, clean(m)) for m in w["members"]),
        )
        for w in windows
    )
    return NoticeTable(
        ("全中心排名", "窗口", "综合得分", "有效评价", "表彰", "一票否决", "窗口工作人员"),
        rows,
        (22, 45, 22, 20, 24, 40, 94),
    )


PERSON_COLUMNS: tuple[str, ...] = (
    "排名",
    "姓名",
    "窗口",
    "综合得分",
    "满意度",
    "考勤",
    "办件",
    "纪律",
    "加分",
    "有效评价/差评",
    "在岗/工作日",
    "迟到",
    "早退",
    "缺卡",
    "旷工（半天）",
    "办件/按时",
    "表彰",
    "一票否决",
)


def _person_table(people: list[dict[str, Any]], window_names: dict[str, str]) -> NoticeTable:
    rows = []
    for p in people:
        a, r, c = p["attendance_detail"], p["ratings"], p["cases"]
        rows.append(
            (
                str(p["rank"]),
                clean(p["name"]),
                window_names.get(p["window"], clean(p["window"])),
                _num(p["total"]),
                _num(p["satisfaction"]),
                _num(p["attendance"]),
                _num(p["workload"]),
                _num(p["discipline"]),
                _num(p["bonus"]),
                f"{r['valid']}/{r['bad']}",
                f"{a['on_duty_days']}/{a['workdays']}",
                str(a["late"]),
                str(a["early"]),
                str(a["missing"]),
                str(a["absent_half_days"]),
                f"{c['completed']}/{c['on_time']}",
                AWARD_TEXT.get(p["award"] or "", ""),
                vetoes_text(p["vetoes"]),
            )
        )
    return NoticeTable(
        PERSON_COLUMNS,
        tuple(rows),
        (12, 20, 24, 15, 14, 12, 12, 12, 12, 16, 16, 11, 11, 11, 12, 16, 16, 25),
    )


LOOP_COLUMNS: tuple[str, ...] = (
    "差评数",
    "已回访",
    "回访率",
    "按期回访率",
    "核实属实",
    "已整改",
    "整改率",
    "按期整改率",
    "申诉",
    "申诉成立",
    "申诉成立率",
)


def _share(value: Fraction | None) -> str:
    """A share as a percentage to one decimal, half up; ``—`` when there is no base."""
    if value is None:
        return "—"
    tenths = (value * 1000 + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def loop_table(figures: LoopFigures) -> NoticeTable:
    """One unit's bad-review handling (SPEC 11) as the annex's table."""
    f = figures
    row = (
        str(f.bad_reviews),
        str(f.called_back),
        _share(f.callback_rate),
        _share(f.callback_on_time_share),
        str(f.upheld),
        str(f.rectified),
        _share(f.rectification_rate),
        _share(f.rectification_on_time_share),
        str(f.appeals),
        str(f.approved),
        _share(f.approval_share),
    )
    return NoticeTable(LOOP_COLUMNS, (row,), (18, 18, 20, 24, 20, 18, 20, 24, 16, 20, 24))


def _loop_blocks(loop: Mapping[str, LoopFigures] | None, code: str) -> list[Block]:
    """The annex's 差评处置情况 section (none when the caller gave no figures)."""
    if loop is None:
        return []
    figures = loop.get(code)
    if figures is None or not figures.bad_reviews:
        return [Block("subheading", "三、差评处置情况"), Block("para", "本单位窗口本期无差评。")]
    return [Block("subheading", "三、差评处置情况"), Block("table", table=loop_table(figures))]


def build_notice(
    *,
    hall_name: str,
    result: dict[str, Any],
    revision: int,
    published_at: dt.datetime,
    as_of: dt.datetime,
    reason: str | None,
    sha256: str,
    units: Sequence[tuple[str, str]],
    unit_names: dict[str, str],
    number: str = "",
    supersedes: str = "",
    loop: Mapping[str, LoopFigures] | None = None,
) -> Notice:
    """The notice for ``units`` ((code, name) pairs), from a frozen result.

    The body (the hall's awards, public anyway) is the same for everyone; the notice is
    sent to ``units`` and has one annex per unit with only that unit's windows and staff.
    ``published_at`` and ``as_of`` are hall-local; ``number`` is the 文号 (may be empty);
    ``supersedes`` names the notice a revision replaces (its 文号 or 第N版).
    ``loop`` (unit code -> figures) adds each annex's bad-review handling (SPEC 11).
    """
    hall = clean(hall_name)
    unit_label = {code: clean(name) for code, name in unit_names.items()}
    for code, name in units:
        unit_label[code] = clean(name)
    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
    window_names = {w["window"]: clean(w["name"]) for w in result["windows"]}
    person_names = {p["staff_no"]: clean(p["name"]) for p in result["individuals"]}
    red_flags = [w for w in result["windows"] if w["award"] == "red_flag"]
    advanced = [p for p in result["individuals"] if p["award"] == "advanced"]
    first = dt.date.fromisoformat(result["from"])
    last = dt.date.fromisoformat(result["to"])
    span = (
        f"{arabic_date(first)}至{last.month}月{last.day}日"
        if first.year == last.year
        else f"{arabic_date(first)}至{arabic_date(last)}"
    )
    term = period_title(result["period"])
    title_lines = (f"关于{term}“红旗窗口”和", "“先进个人”评选结果的通报")
    title = "".join(title_lines)

    def unit_name(code: str) -> str:
        return unit_label.get(code, clean(code))

    body: list[Block] = []
    if revision > 1:
        why = clean(reason).strip() or "考评数据更正"
        replaced = f"（{supersedes}）" if supersedes else ""
        body.append(
            Block(
                "para",
                f"因{why.rstrip('。')}，{hall}对{term}评选结果进行了复核修订。"
                f"本通报印发后，原通报{replaced}同时废止，以本通报为准。",
            )
        )
    body.append(
        Block(
            "para",
            f"为进一步加强窗口作风建设，提升政务服务质量，根据窗口工作人员考评有关规定，"
            f"{hall}对{span}各窗口及工作人员的考勤、群众评价、办件和纪律情况进行了综合考评。"
            f"经考评、审核，评选出“红旗窗口”{len(red_flags)}个、“先进个人”{len(advanced)}名。"
            f"现将有关情况通报如下。",
        )
    )
    body.append(Block("heading", f"一、“红旗窗口”（{len(red_flags)}个）"))
    if red_flags:
        body.append(
            Block(
                "table",
                table=NoticeTable(
                    ("序号", "窗口", "所属单位", "综合得分"),
                    tuple(
                        (str(i), window_names[w["window"]], unit_name(w["unit"]), _num(w["total"]))
                        for i, w in enumerate(red_flags, start=1)
                    ),
                    (16, 50, 60, 30),
                ),
            )
        )
    else:
        body.append(Block("para", "本期无窗口获评“红旗窗口”。"))
    body.append(Block("heading", f"二、“先进个人”（{len(advanced)}名）"))
    if advanced:
        body.append(
            Block(
                "table",
                table=NoticeTable(
                    ("序号", "姓名", "所属单位", "窗口", "综合得分"),
                    tuple(
                        (
                            str(i),
                            person_names[p["staff_no"]],
                            unit_name(unit_of.get(p["window"], "")),
                            window_names.get(p["window"], clean(p["window"])),
                            _num(p["total"]),
                        )
                        for i, p in enumerate(advanced, start=1)
                    ),
                    (16, 30, 50, 36, 24),
                ),
            )
        )
    else:
        body.append(Block("para", "本期无人获评“先进个人”。"))
    body.append(Block("heading", "三、有关要求"))
    body.append(
        Block(
            "para",
            "希望受到表彰的窗口和个人珍惜荣誉、再接再厉，充分发挥示范带头作用。"
            "各进驻单位要以先进为榜样，对照附件所列考评情况，"
            "对本单位窗口工作人员在考勤、群众评价、办件和纪律等方面存在的问题认真整改，"
            "加强日常教育管理，不断提升政务服务水平。",
        )
    )

    annexes: list[Annex] = []
    for index, (code, _name) in enumerate(units, start=1):
        label = f"附件{index}" if len(units) > 1 else "附件"
        name = unit_name(code)
        blocks: list[Block] = [Block("subheading", "一、窗口考评情况")]
        windows = [w for w in result["windows"] if w["unit"] == code]
        if windows:
            blocks.append(Block("table", table=_window_table(windows, person_names)))
        else:
            blocks.append(Block("para", "本单位本期无参评窗口。"))
        blocks.append(Block("subheading", "二、工作人员考评情况"))
        people = [p for p in result["individuals"] if unit_of.get(p["window"]) == code]
        if people:
            blocks.append(Block("table", table=_person_table(people, window_names)))
        else:
            blocks.append(Block("para", "本单位本期无参评人员。"))
        blocks += _loop_blocks(loop, code)
        section = "三" if loop is None else "四"
        notes = [clean(w) for w in result.get("warnings", [])]
        for w in windows:
            if w["ineligible_reasons"]:
                notes.append(
                    f"{window_names[w['window']]}窗口：{reasons_text(w['ineligible_reasons'])}"
                    + (f"（{vetoes_text(w['vetoes'])}）" if w["vetoes"] else "")
                    + "，不具备“红旗窗口”评选资格。"
                )
        for p in people:
            if p["ineligible_reasons"]:
                notes.append(
                    f"{person_names[p['staff_no']]}（{window_names.get(p['window'], '')}）："
                    f"{reasons_text(p['ineligible_reasons'])}"
                    + (f"（{vetoes_text(p['vetoes'])}）" if p["vetoes"] else "")
                    + "，不具备“先进个人”评选资格。"
                )
        if notes:
            blocks.append(Block("subheading", f"{section}、说明"))
            blocks.extend(Block("para", f"{i}．{n}") for i, n in enumerate(notes, start=1))
        annexes.append(Annex(label, f"{name}窗口及工作人员考评情况", tuple(blocks)))

    if len(annexes) == 1:
        annex_note: tuple[str, ...] = (f"附件：{annexes[0].title}",)
    else:
        # Later lines are indented under the first item by the renderers.
        annex_note = tuple(
            ("附件：" if i == 1 else "") + f"{i}．{a.title}" for i, a in enumerate(annexes, start=1)
        )
    recipients = "、".join(unit_name(code) for code, _ in units) + "："
    version = f"第{revision}版"
    data_line = (
        f"数据说明：本通报依据截至{arabic_date(as_of.date())}{as_of.hour}时{as_of.minute:02d}分的"
        f"考评数据生成（{version}，评分规则“{clean(result['rules']['name'])}”）；"
        f"结果校验码（SHA-256）：{sha256}"
    )
    return Notice(
        issuer=hall,
        number=number,
        title=title,
        title_lines=title_lines,
        recipients=recipients,
        body=tuple(body),
        annex_note=annex_note,
        date=chinese_date(published_at.date()),
        annexes=tuple(annexes),
        imprint=(hall, f"{arabic_date(published_at.date())}印发"),
        data_line=data_line,
        document_title=f"{number} {title}".strip(),
    )


def notice_text(notice: Notice) -> str:
    """The notice's words in reading order (for tests and for a plain-text preview)."""
    parts = [notice.issuer + "文件", notice.number, notice.title, notice.recipients]
    parts += [b.text for b in notice.body if b.kind != "table"]
    parts += list(notice.annex_note) + [notice.issuer, notice.date]
    for annex in notice.annexes:
        parts += [annex.label, annex.title] + [b.text for b in annex.blocks if b.kind != "table"]
    parts += [*notice.imprint, notice.data_line]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- Excel

# OWASP's CSV/formula injection advice: a cell that starts with one of these is read as
# a formula (or DDE) by Excel, WPS or LibreOffice. Full-width forms are included since a
# Chinese IME types them and some spreadsheet programs convert them on editing.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_text_cell(cell: Cell) -> None:
    """Keep a text cell text: never a formula, whatever its first character.

    openpyxl stores a string that starts with ``=`` as a formula; this sets it back to a
    string and marks it with Excel's quote prefix (the hidden apostrophe), so the value
    reads exactly as written and stays text when a user edits it.
    """
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
        cell.data_type = "s"
        cell.quotePrefix = True


def append_row(sheet: Worksheet, values: Iterable[Any]) -> None:
    """Append one row of values, every text cell through :func:`safe_text_cell`."""
    # Tabs and line breaks are data here (kept; a leading one is made safe below); only
    # what XML cannot hold is dropped, since openpyxl refuses it.
    sheet.append([UNPRINTABLE.sub("", v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        safe_text_cell(cell)


def notice_xlsx(
    *,
    hall_name: str,
    result: dict[str, Any],
    revision: int,
    sha256: str,
    inputs_sha256: str,
    unit_names: dict[str, str],
    number: str = "",
    unit_code: str | None = None,
) -> bytes:
    """The published result as an Excel workbook (个人, 窗口, 说明); one unit's rows if given.

    Units and windows are shown by name; their codes follow in the last columns, so the
    sheet can still be matched with the interchange files.
    """
    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
    window_names = {w["window"]: w["name"] for w in result["windows"]}
    person_names = {p["staff_no"]: p["name"] for p in result["individuals"]}
    people = [
        p
        for p in result["individuals"]
        if unit_code is None or unit_of.get(p["window"]) == unit_code
    ]
    windows = [w for w in result["windows"] if unit_code is None or w["unit"] == unit_code]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "个人"
    append_row(
        sheet,
        [
            "排名",
            "工号",
            "姓名",
            "单位",
            "窗口",
            "综合得分",
            "满意度",
            "考勤",
            "办件",
            "纪律",
            "加分",
            "有效评价/差评",
            "在岗/工作日",
            "迟到",
            "早退",
            "缺卡",
            "旷工(半天)",
            "办件/按时",
            "表彰",
            "一票否决",
            "满意度S*",
            "资格",
            "不具备资格原因",
            "单位编码",
            "窗口编码",
        ],
    )
    for p in people:
        a, r, c = p["attendance_detail"], p["ratings"], p["cases"]
        unit = unit_of.get(p["window"], "")
        append_row(
            sheet,
            [
                p["rank"],
                p["staff_no"],
                p["name"],
                unit_names.get(unit, unit),
                window_names.get(p["window"], p["window"]),
                p["total"],
                p["satisfaction"],
                p["attendance"],
                p["workload"],
                p["discipline"],
                p["bonus"],
                f"{r['valid']}/{r['bad']}",
                f"{a['on_duty_days']}/{a['workdays']}",
                a["late"],
                a["early"],
                a["missing"],
                a["absent_half_days"],
                f"{c['completed']}/{c['on_time']}",
                AWARD_TEXT.get(p["award"] or "", ""),
                vetoes_text(p["vetoes"]),
                r["adjusted"],
                "是" if p["eligible"] else "否",
                reasons_text(p["ineligible_reasons"]),
                unit,
                p["window"],
            ],
        )
    windows_sheet = book.create_sheet("窗口")
    append_row(
        windows_sheet,
        [
            "排名",
            "窗口",
            "单位",
            "综合得分",
            "有效评价",
            "表彰",
            "资格",
            "一票否决",
            "窗口工作人员",
            "窗口编码",
            "单位编码",
        ],
    )
    for w in windows:
        append_row(
            windows_sheet,
            [
                w["rank"],
                w["name"],
                unit_names.get(w["unit"], w["unit"]),
                w["total"],
                w["valid_ratings"],
                AWARD_TEXT.get(w["award"] or "", ""),
                "是" if w["eligible"] else "否",
                vetoes_text(w["vetoes"]),
                "、".join(person_names.get(m, m) for m in w["members"]),
                w["window"],
                w["unit"],
            ],
        )
    about = book.create_sheet("说明")
    for row in (
        ("项目", "内容"),
        ("服务中心", hall_name),
        ("文号", number or "（未设置发文字号）"),
        (
            "考评期",
            f"{period_title(result['period'])}（{result['from']} 至 {result['to']}）",
        ),
        ("计算时点", result["as_of"]),
        ("版本", f"第{revision}版"),
        ("规则文件", f"{result['rules']['name']} sha256 {result['rules']['sha256']}"),
        ("输入数据 sha256", inputs_sha256),
        ("结果 sha256", sha256),
        ("说明", "；".join(result.get("warnings", [])) or "无"),
    ):
        append_row(about, row)
    for ws in (sheet, windows_sheet, about):
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center")
        for index, column in enumerate(ws.columns, start=1):
            width = max(len(str(c.value or "")) for c in column)
            ws.column_dimensions[get_column_letter(index)].width = min(60, max(8, width * 1.6))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
