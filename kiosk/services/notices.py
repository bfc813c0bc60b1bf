"""The bimonthly notice (通报) of a published period: PDF per unit (reportlab) and Excel.

Both are built only from the frozen result of a :class:`~kiosk.models.PublishedPeriod`
(see :mod:`kiosk.services.publishing`), so what a unit receives is exactly what was
published. The PDF is in Chinese with the WenQuanYi Zen Hei font embedded (Debian's
``fonts-wqy-zenhei``, installed by ``.ci/setup``), so it prints the same everywhere;
where that file is missing it falls back to reportlab's built-in CID font STSong-Light,
which the PDF viewer has to supply.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
EMBEDDED_FONT = "WenQuanYiZenHei"
# TrueType CJK fonts reportlab can embed (the Noto CJK files are CFF, which it cannot).
EMBEDDED_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
)
VETO_TEXT = {"absence": "旷工", "discipline": "违纪", "unrectified_bad_review": "差评未按期整改"}
REASON_TEXT = {
    "veto": "被一票否决",
    "too_few_ratings": "有效评价不足",
    "too_few_duty_days": "在岗天数不足",
    "below_threshold": "总分未达标",
}
AWARD_TEXT = {"advanced": "先进个人", "red_flag": "红旗窗口"}

_registered: str | None = None


def _font() -> str:
    """Register the notice's font once per process (reportlab keeps a global registry)."""
    global _registered
    if _registered is None:
        import os

        path = next((f for f in EMBEDDED_FONT_FILES if os.path.exists(f)), None)
        if path is not None:
            pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=0))
            _registered = EMBEDDED_FONT
        else:
            pdfmetrics.registerFont(UnicodeCIDFont(FONT))
            _registered = FONT
    return _registered


def period_title(period: str) -> str:
    """``2026-B5`` -> ``2026年第5期（9—10月）``."""
    year, index = period.split("-B")
    first = 2 * int(index) - 1
    return f"{year}年第{index}期（{first}—{first + 1}月）"


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


INDIVIDUAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "排名"),
    ("staff_no", "工号"),
    ("name", "姓名"),
    ("window", "窗口"),
    ("total", "总分"),
    ("satisfaction", "满意度"),
    ("attendance", "考勤"),
    ("workload", "办件"),
    ("discipline", "纪律"),
    ("bonus", "加分"),
    ("ratings", "有效评价/差评"),
    ("duty", "在岗/工作日"),
    ("late", "迟到"),
    ("early", "早退"),
    ("missing", "缺卡"),
    ("absent", "旷工(半天)"),
    ("cases", "办件/按时"),
    ("award", "表彰"),
    ("vetoes", "一票否决"),
)


def individual_row(p: dict[str, Any]) -> list[str]:
    """One person's line of the notice, as text in :data:`INDIVIDUAL_COLUMNS` order."""
    a, r, c = p["attendance_detail"], p["ratings"], p["cases"]
    return [
        str(p["rank"]),
        p["staff_no"],
        p["name"],
        p["window"],
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
    ]


def notice_pdf(
    *,
    hall_name: str,
    result: dict[str, Any],
    revision: int,
    published_at: dt.datetime,
    reason: str | None,
    sha256: str,
    units: Sequence[tuple[str, str]],
) -> bytes:
    """The notice for ``units`` ((code, name) pairs), one unit per page group, as PDF bytes.

    Every unit's part carries the hall's awards (public anyway) and then only its own
    staff's attendance, ratings, cases, awards and vetoes.
    """
    font = _font()
    title = ParagraphStyle("title", fontName=font, fontSize=17, leading=24, alignment=TA_CENTER)
    heading = ParagraphStyle("heading", fontName=font, fontSize=12.5, leading=18, spaceBefore=6)
    body = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=14)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10)
    small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, textColor=colors.grey)

    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
    red_flags = [w for w in result["windows"] if w["award"] == "red_flag"]
    advanced = [p for p in result["individuals"] if p["award"] == "advanced"]
    story: list[Any] = []

    def table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
        t = Table(rows, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), font, 8),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ]
            )
        )
        return t

    for number, (unit_code, unit_name) in enumerate(units):
        if number:
            story.append(PageBreak())
        story.append(Paragraph(hall_name, title))
        story.append(Paragraph(f"{period_title(result['period'])}窗口工作人员考评通报", title))
        story.append(Spacer(1, 3 * mm))
        meta = (
            f"送达单位：{unit_name}　　考评期：{result['from']} 至 {result['to']}　　"
            f"计算时点：{result['as_of']}　　第 {revision} 版　　"
            f"发布时间：{published_at:%Y-%m-%d %H:%M}"
        )
        story.append(Paragraph(meta, body))
        if reason:
            story.append(Paragraph(f"修订原因：{reason}", body))
        for warning in result.get("warnings", []):
            story.append(Paragraph(f"说明：{warning}", body))

        story.append(Paragraph("一、红旗窗口", heading))
        if red_flags:
            rows = [["排名", "窗口", "名称", "单位", "总分", "有效评价"]]
            rows += [
                [
                    str(w["rank"]),
                    w["window"],
                    w["name"],
                    w["unit"],
                    _num(w["total"]),
                    str(w["valid_ratings"]),
                ]
                for w in red_flags
            ]
            story.append(table(rows))
        else:
            story.append(Paragraph("本期无窗口获评红旗窗口。", body))

        story.append(Paragraph("二、先进个人", heading))
        if advanced:
            rows = [["排名", "工号", "姓名", "窗口", "单位", "总分"]]
            rows += [
                [
                    str(p["rank"]),
                    p["staff_no"],
                    p["name"],
                    p["window"],
                    unit_of.get(p["window"], ""),
                    _num(p["total"]),
                ]
                for p in advanced
            ]
            story.append(table(rows))
        else:
            story.append(Paragraph("本期无人获评先进个人。", body))

        story.append(Paragraph(f"三、{unit_name}工作人员考评情况", heading))
        people = [p for p in result["individuals"] if unit_of.get(p["window"]) == unit_code]
        if people:
            # Two-part headings on two lines, so the narrow columns do not clip them.
            rows = [
                [label.replace("/", "/\n").replace("(", "\n(") for _, label in INDIVIDUAL_COLUMNS]
            ]
            for p in people:
                line = individual_row(p)
                line[-1] = Paragraph(line[-1], cell)
                rows.append(line)
            widths = [10, 14, 16, 12, 13, 13, 11, 11, 11, 10, 17, 16, 9, 9, 9, 13, 15, 16, 28]
            story.append(table(rows, [w * mm for w in widths]))
            not_eligible = [p for p in people if p["ineligible_reasons"]]
            if not_eligible:
                story.append(Spacer(1, 2 * mm))
                for p in not_eligible:
                    story.append(
                        Paragraph(
                            f"{p['name']}（{p['staff_no']}）不具备先进个人资格：{reasons_text(p['ineligible_reasons'])}",
                            body,
                        )
                    )
        else:
            story.append(Paragraph("本单位本期无参评人员。", body))

        windows = [w for w in result["windows"] if w["unit"] == unit_code]
        story.append(Paragraph(f"四、{unit_name}窗口考评情况", heading))
        if windows:
            rows = [["排名", "窗口", "名称", "总分", "有效评价", "表彰", "一票否决", "成员"]]
            rows += [
                [
                    str(w["rank"]),
                    w["window"],
                    w["name"],
                    _num(w["total"]),
                    str(w["valid_ratings"]),
                    AWARD_TEXT.get(w["award"] or "", ""),
                    Paragraph(vetoes_text(w["vetoes"]), cell),
                    Paragraph("、".join(w["members"]), cell),
                ]
                for w in windows
            ]
            story.append(table(rows))
        else:
            story.append(Paragraph("本单位本期无参评窗口。", body))
        story.append(Spacer(1, 4 * mm))
        story.append(
            Paragraph(
                f"规则文件 {result['rules']['name']}（sha256 {result['rules']['sha256']}）；"
                f"本通报数据 sha256 {sha256}",
                small,
            )
        )

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{hall_name} {period_title(result['period'])}考评通报",
        author=hall_name,
    )

    def footer(canvas: Any, doc: Any) -> None:
        # Page numbers and the result digest on every page, so a printed page can be
        # matched to the publication it came from.
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(
            10 * mm,
            6 * mm,
            f"{hall_name} · {result['period']} 第 {revision} 版 · sha256 {sha256[:16]}…",
        )
        canvas.drawRightString(landscape(A4)[0] - 10 * mm, 6 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def notice_xlsx(
    *,
    hall_name: str,
    result: dict[str, Any],
    revision: int,
    sha256: str,
    inputs_sha256: str,
    unit_code: str | None = None,
) -> bytes:
    """The published result as an Excel workbook (个人, 窗口, 说明); one unit's rows if given."""
    unit_of = {w["window"]: w["unit"] for w in result["windows"]}
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
    header = [label for _, label in INDIVIDUAL_COLUMNS] + [
        "单位",
        "满意度S*",
        "资格",
        "不具备资格原因",
    ]
    sheet.append(header)
    for p in people:
        a, r, c = p["attendance_detail"], p["ratings"], p["cases"]
        sheet.append(
            [
                p["rank"],
                p["staff_no"],
                p["name"],
                p["window"],
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
                unit_of.get(p["window"], ""),
                r["adjusted"],
                "是" if p["eligible"] else "否",
                reasons_text(p["ineligible_reasons"]),
            ]
        )
    windows_sheet = book.create_sheet("窗口")
    windows_sheet.append(
        ["排名", "窗口", "名称", "单位", "总分", "有效评价", "表彰", "资格", "一票否决", "成员"]
    )
    for w in windows:
        windows_sheet.append(
            [
                w["rank"],
                w["window"],
                w["name"],
                w["unit"],
                w["total"],
                w["valid_ratings"],
                AWARD_TEXT.get(w["award"] or "", ""),
                "是" if w["eligible"] else "否",
                vetoes_text(w["vetoes"]),
                "、".join(w["members"]),
            ]
        )
    about = book.create_sheet("说明")
    for row in (
        ("服务中心", hall_name),
        ("考评期", f"{result['period']}（{result['from']} 至 {result['to']}）"),
        ("计算时点", result["as_of"]),
        ("版本", revision),
        ("规则文件", f"{result['rules']['name']} sha256 {result['rules']['sha256']}"),
        ("输入数据 sha256", inputs_sha256),
        ("结果 sha256", sha256),
        ("说明", "；".join(result.get("warnings", [])) or "无"),
    ):
        about.append(list(row))
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
