"""The 通报 as a Word file (python-docx), for offices that edit notices in Word or WPS.

Laid out like :mod:`kiosk.services.notice_pdf` after GB/T 9704: A4 portrait with the
standard's margins for the body, A4 landscape sections for the annexes, the usual
公文 fonts by name (方正小标宋简体 for the title, 仿宋_GB2312 for the text, 黑体 for
headings; Word or WPS substitutes where one is missing), 28 pt fixed line spacing,
headings kept with the next paragraph, table header rows repeated on every page, and
``— 1 —`` page numbers in the footer (odd pages right, even pages left).

python-docx writes text as XML text nodes, so data such as ``<img src=…>`` stays
literal text and nothing is ever fetched.
"""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.section import Section
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from kiosk.services.notices import Block, Notice, NoticeTable

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
TABLE_FONT = "宋体"
RED = RGBColor(0xD4, 0x00, 0x00)
BODY_PT = 16
P_TEXT_MM = 156  # 版心 width, portrait
L_TEXT_MM = 267  # text width of the landscape annex pages


def _fonts(element: object, east_asian: str, latin: str = "Times New Roman") -> None:
    """Set a run's or style's fonts; Chinese text uses the east-Asian one."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asian)


def _text(
    paragraph: Paragraph,
    text: str,
    *,
    font: str = BODY_FONT,
    size: float = BODY_PT,
    color: RGBColor | None = None,
) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    if color is not None:
        run.font.color.rgb = color
    _fonts(run._r, font)


def _para(
    doc: DocxDocument,
    text: str = "",
    *,
    align: WD_ALIGN_PARAGRAPH | None = None,
    indent_chars: float = 0,
    font: str = BODY_FONT,
    size: float = BODY_PT,
    line_pt: float = 28,
    keep_with_next: bool = False,
    color: RGBColor | None = None,
) -> Paragraph:
    paragraph = doc.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(line_pt)
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = True
    if indent_chars:
        fmt.first_line_indent = Pt(indent_chars * size)
    if align is not None:
        paragraph.alignment = align
    fmt.keep_with_next = keep_with_next
    if text:
        _text(paragraph, text, font=font, size=size, color=color)
    return paragraph


def _border(paragraph: Paragraph, side: str, color: str, size: int) -> None:
    """A rule above or below a paragraph (the red line of the 版头, the 版记 rules)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size))
    line.set(qn("w:space"), "1")
    line.set(qn("w:color"), color)
    borders.append(line)


def _page_number(paragraph: Paragraph) -> None:
    """``— PAGE —`` with a live PAGE field."""
    _text(paragraph, "— ", font=TABLE_FONT, size=14)
    run = paragraph.add_run()
    run.font.size = Pt(14)
    for kind, instruction in (("begin", None), (None, " PAGE "), ("separate", None)):
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = instruction
            run._r.append(instr)
    shown = paragraph.add_run("1")
    shown.font.size = Pt(14)
    end = paragraph.add_run()
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), "end")
    end._r.append(char)
    _text(paragraph, " —", font=TABLE_FONT, size=14)


def _page_setup(section: Section, landscape: bool) -> None:
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(297), Mm(210)
        section.top_margin = section.bottom_margin = Mm(20)
        section.left_margin = section.right_margin = Mm(15)
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(18) if not landscape else Mm(8)


def _table(doc: DocxDocument, table: NoticeTable, width_mm: float, size: float) -> Table:
    """A grid table, header row repeated on each page, rows never split across pages."""
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False
    # Narrow cell margins (1 mm), so the short numeric columns do not wrap.
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), "57")
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    grid._tbl.tblPr.append(margins)
    scale = width_mm / sum(table.widths)
    widths = [Mm(w * scale) for w in table.widths]
    # Word reads the cells' widths, LibreOffice and WPS the table grid: set both.
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = width
    for r, values in enumerate([table.columns, *table.rows]):
        row = grid.rows[r]
        trpr = row._tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if r == 0:
            trpr.append(OxmlElement("w:tblHeader"))
        for c, value in enumerate(values):
            cell = row.cells[c]
            cell.width = widths[c]
            paragraph = cell.paragraphs[0]
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            fmt = paragraph.paragraph_format
            fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            fmt.line_spacing = Pt(size * 1.35)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            fmt.space_before = fmt.space_after = Pt(0)
            fmt.first_line_indent = Pt(0)
            _text(paragraph, value, font=HEADING_FONT if r == 0 else TABLE_FONT, size=size)
    return grid


def _blocks(doc: DocxDocument, blocks: tuple[Block, ...], width_mm: float, annex: bool) -> None:
    for block in blocks:
        if block.kind == "heading":
            _para(doc, block.text, indent_chars=2, font=HEADING_FONT, keep_with_next=True)
        elif block.kind == "subheading":
            _para(doc, block.text, font=HEADING_FONT, size=14, line_pt=26, keep_with_next=True)
        elif block.kind == "table" and block.table is not None:
            _table(doc, block.table, width_mm, 9 if annex else 12)
            _para(doc, "", size=8, line_pt=8)
        elif annex:
            _para(doc, block.text, indent_chars=2, size=12, line_pt=20)
        else:
            _para(doc, block.text, indent_chars=2, align=WD_ALIGN_PARAGRAPH.JUSTIFY)


def _width_chars(text: str) -> float:
    """Width of ``text`` in full-width characters (digits and Latin count half)."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def notice_docx(notice: Notice) -> bytes:
    """The notice as .docx bytes: the same text and tables as the PDF."""
    doc = Document()
    doc.core_properties.title = notice.document_title
    doc.core_properties.author = notice.issuer
    doc.core_properties.subject = notice.title
    normal = doc.styles["Normal"]
    normal.font.size = Pt(BODY_PT)
    _fonts(normal.element, BODY_FONT)
    doc.settings.odd_and_even_pages_header_footer = True

    section = doc.sections[0]
    _page_setup(section, landscape=False)
    odd = section.footer.paragraphs[0]
    odd.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    odd.paragraph_format.right_indent = Pt(14)
    _page_number(odd)
    even = section.even_page_footer.paragraphs[0]
    even.alignment = WD_ALIGN_PARAGRAPH.LEFT
    even.paragraph_format.left_indent = Pt(14)
    _page_number(even)

    # 版头
    issuer_text = f"{notice.issuer}文件"
    size = min(42.0, P_TEXT_MM / 0.3528 / max(1, len(issuer_text)) * 0.98)
    _para(doc, "", line_pt=28)
    _para(
        doc,
        issuer_text,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        font=TITLE_FONT,
        size=size,
        line_pt=size * 1.25,
        color=RED,
    )
    _para(doc, "", line_pt=28)
    rule = _para(doc, notice.number, align=WD_ALIGN_PARAGRAPH.CENTER)
    _border(rule, "bottom", "D40000", 12)
    _para(doc, "")
    _para(doc, "")
    title = _para(doc, align=WD_ALIGN_PARAGRAPH.CENTER, line_pt=34)
    for index, line in enumerate(notice.title_lines):
        if index:
            title.add_run().add_break()
        _text(title, line, font=TITLE_FONT, size=22)
    _para(doc, "")
    _para(doc, notice.recipients)
    _blocks(doc, notice.body, P_TEXT_MM, annex=False)
    # 落款 is never alone on a page: the line above it moves with it (keep with next),
    # and 附件说明 starts with two lines.
    notes = list(notice.annex_note)
    if notes:
        _para(doc, "", keep_with_next=True)
        for index, line in enumerate(notes):
            keep = index == 0 or index == len(notes) - 1
            note = _para(doc, line, keep_with_next=keep)
            # Hanging indent: a wrapped title lines up after its "N．" (and "附件：").
            head = line[: line.index("．") + 1] if "．" in line else ""
            base = 2 if index == 0 else 5
            start = base + _width_chars(head)
            note.paragraph_format.left_indent = Pt(start * BODY_PT)
            note.paragraph_format.first_line_indent = Pt((base - start) * BODY_PT)
    else:
        doc.paragraphs[-1].paragraph_format.keep_with_next = True
    _para(doc, "", keep_with_next=True)
    issuer = _para(doc, notice.issuer, align=WD_ALIGN_PARAGRAPH.RIGHT, keep_with_next=True)
    issuer.paragraph_format.right_indent = Pt(2 * BODY_PT)
    date = _para(doc, notice.date, align=WD_ALIGN_PARAGRAPH.RIGHT)
    shift = max(0, len(notice.issuer) - len(notice.date))
    date.paragraph_format.right_indent = Pt(shift * BODY_PT)

    for annex in notice.annexes:
        _page_setup(doc.add_section(WD_SECTION.NEW_PAGE), landscape=True)
        _para(doc, annex.label, font=HEADING_FONT, keep_with_next=True)
        _para(
            doc,
            annex.title,
            align=WD_ALIGN_PARAGRAPH.CENTER,
            font=TITLE_FONT,
            size=20,
            line_pt=32,
            keep_with_next=True,
        )
        _blocks(doc, annex.blocks, L_TEXT_MM, annex=True)

    # 版记: the 印发 line between two rules, then the data line.
    width = L_TEXT_MM if notice.annexes else P_TEXT_MM
    _para(doc, "", keep_with_next=True, size=8, line_pt=12)
    imprint = _para(doc, keep_with_next=True, line_pt=26)
    imprint.paragraph_format.left_indent = Pt(14)
    imprint.paragraph_format.right_indent = Pt(14)
    imprint.paragraph_format.tab_stops.add_tab_stop(Mm(width) - Pt(28), WD_TAB_ALIGNMENT.RIGHT)
    _text(imprint, f"{notice.imprint[0]}\t{notice.imprint[1]}", size=14)
    _border(imprint, "top", "000000", 8)
    _border(imprint, "bottom", "000000", 8)
    _para(doc, notice.data_line, size=7.5, line_pt=10, color=RGBColor(0x80, 0x80, 0x80))

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
