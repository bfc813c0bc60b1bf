"""The 通报 as PDF (reportlab), laid out after GB/T 9704 (党政机关公文格式).

The body is on A4 portrait with the standard's margins (版心 156 × 225 mm), 3号 text
(16 pt) and 28 pt lines; the annexes, whose tables are wide, are on A4 landscape. Page
numbers are ``— 1 —`` under the text block, on the right of odd pages and the left of
even ones. The Chinese font is WenQuanYi Zen Hei, embedded (Debian's
``fonts-wqy-zenhei``, installed by ``.ci/setup``), so the PDF prints the same
everywhere; where that file is missing it falls back to reportlab's built-in CID font
STSong-Light, which the PDF viewer has to supply.

Every text from the data goes into reportlab's paragraph markup through :func:`markup`
only, which escapes it: reportlab would otherwise read ``A<B`` as a broken tag (and
fail the whole document) and ``<img src="http://…">`` as an image to fetch.
"""

from __future__ import annotations

import io
import os
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import HRFlowable

from kiosk.services.notices import Block, Notice, NoticeTable, clean

FONT = "STSong-Light"
EMBEDDED_FONT = "WenQuanYiZenHei"
# TrueType CJK fonts reportlab can embed (the Noto CJK files are CFF, which it cannot).
EMBEDDED_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",
)
RED = colors.HexColor("#d40000")

PORTRAIT = A4
LANDSCAPE = landscape(A4)
# GB/T 9704: top 37 mm, left 28 mm, 版心 156 × 225 mm.
P_LEFT, P_RIGHT, P_TOP, P_BOTTOM = 28 * mm, 26 * mm, 37 * mm, 35 * mm
L_LEFT, L_RIGHT, L_TOP, L_BOTTOM = 15 * mm, 15 * mm, 20 * mm, 20 * mm
BODY_SIZE, BODY_LEADING = 16, 28

_registered: str | None = None


def _font() -> str:
    """Register the notice's font once per process (reportlab keeps a global registry)."""
    global _registered
    if _registered is None:
        path = next((f for f in EMBEDDED_FONT_FILES if os.path.exists(f)), None)
        if path is not None:
            pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=0))
            _registered = EMBEDDED_FONT
        else:
            pdfmetrics.registerFont(UnicodeCIDFont(FONT))
            _registered = FONT
    return _registered


def markup(text: Any) -> str:
    """``text`` as reportlab paragraph markup that shows exactly that text.

    The one way data reaches a :class:`Paragraph`: ``&``, ``<`` and ``>`` are escaped, so
    no tag of the data is ever read (no ``<img>`` fetched, no parse error).
    """
    return escape(clean(text))


def _p(text: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(markup(text), style)


class _Styles:
    """The notice's paragraph styles in one font."""

    def __init__(self, font: str) -> None:
        def style(name: str, **kw: Any) -> ParagraphStyle:
            kw.setdefault("fontName", font)
            kw.setdefault("fontSize", BODY_SIZE)
            kw.setdefault("leading", BODY_LEADING)
            kw.setdefault("wordWrap", "CJK")
            return ParagraphStyle(name, **kw)

        self.font = font
        self.number = style("number", alignment=TA_CENTER)
        self.title = style("title", fontSize=22, leading=34, alignment=TA_CENTER)
        self.recipients = style("recipients", alignment=TA_JUSTIFY)
        self.body = style("body", firstLineIndent=2 * BODY_SIZE, alignment=TA_JUSTIFY)
        self.heading = style("heading", firstLineIndent=2 * BODY_SIZE)
        self.annex_note = style("annex_note", leftIndent=2 * BODY_SIZE)
        self.sign = style("sign", alignment=TA_RIGHT)
        self.annex_label = style("annex_label", alignment=TA_LEFT)
        self.annex_title = style(
            "annex_title", fontSize=20, leading=30, alignment=TA_CENTER, spaceAfter=6
        )
        self.subheading = style("subheading", fontSize=14, leading=24, spaceBefore=6)
        self.note = style("note", fontSize=12, leading=20, firstLineIndent=24)
        self.cell = style("cell", fontSize=12, leading=16, alignment=TA_CENTER)
        self.small_cell = style("small_cell", fontSize=9, leading=12, alignment=TA_CENTER)
        self.imprint = style("imprint", fontSize=14, leading=22)
        self.data = style("data", fontSize=7.5, leading=10, textColor=colors.grey)


def _table(table: NoticeTable, width: float, cell: ParagraphStyle) -> Table:
    """A grid table whose every cell is an escaped, wrapping paragraph."""
    scale = width / sum(table.widths)
    rows = [[_p(c, cell) for c in table.columns]]
    rows += [[_p(c, cell) for c in row] for row in table.rows]
    t = Table(rows, colWidths=[w * scale for w in table.widths], repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return t


def _heading(text: str, style: ParagraphStyle, following: Block | None) -> list[Flowable]:
    """A heading that never stays alone at the foot of a page (keep-with-next).

    A page break comes first unless the heading and the start of what follows (two lines
    of text, or a table's header and two rows) still fit on the page.
    """
    needed = style.leading + style.spaceBefore
    if following is not None and following.table is not None:
        needed += (1 + min(2, len(following.table.rows))) * 22 + 8
    elif following is not None:
        needed += 2 * BODY_LEADING
    return [CondPageBreak(needed), _p(text, style)]


def _blocks(
    blocks: tuple[Block, ...], styles: _Styles, width: float, annex: bool
) -> list[Flowable]:
    story: list[Flowable] = []
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if block.kind == "heading":
            story += _heading(block.text, styles.heading, following)
        elif block.kind == "subheading":
            story += _heading(block.text, styles.subheading, following)
        elif block.kind == "table" and block.table is not None:
            cell = styles.small_cell if annex else styles.cell
            story += [Spacer(1, 2 * mm), _table(block.table, width, cell), Spacer(1, 3 * mm)]
        else:
            story.append(_p(block.text, styles.note if annex else styles.body))
    return story


def _masthead(notice: Notice, styles: _Styles, width: float) -> list[Flowable]:
    """版头: the issuer's name with 文件 in red, the 文号, and the red rule."""
    text = f"{notice.issuer}文件"
    size = min(42.0, width / max(1.0, pdfmetrics.stringWidth(text, styles.font, 1)) * 0.98)
    head = ParagraphStyle(
        "masthead",
        fontName=styles.font,
        fontSize=size,
        leading=size * 1.25,
        alignment=TA_CENTER,
        textColor=RED,
        wordWrap="CJK",
    )
    story: list[Flowable] = [Spacer(1, 8 * mm), _p(text, head), Spacer(1, 14 * mm)]
    if notice.number:
        story.append(_p(notice.number, styles.number))
    story += [
        Spacer(1, 3 * mm),
        HRFlowable(width="100%", thickness=1.6, color=RED, spaceBefore=0, spaceAfter=0),
        Spacer(1, 2 * BODY_LEADING),
    ]
    return story


def _annex_style(line: str, index: int, styles: _Styles) -> ParagraphStyle:
    """附件说明 with a hanging indent: a wrapped title lines up after its ``N．``."""
    head = line[: line.index("．") + 1] if "．" in line else ""
    hang = pdfmetrics.stringWidth(head.removeprefix("附件："), styles.font, BODY_SIZE)
    base = 2 * BODY_SIZE if index == 0 else 5 * BODY_SIZE
    start = base + (3 * BODY_SIZE if index == 0 and head.startswith("附件：") else 0)
    return ParagraphStyle(
        f"annex_note{index}",
        parent=styles.annex_note,
        leftIndent=start + hang,
        firstLineIndent=base - start - hang,
    )


def _signature(notice: Notice, styles: _Styles) -> list[Flowable]:
    """落款 without a seal: the issuer two characters from the right, the date under it
    starting two characters further right (GB/T 9704, 7.3.5.2)."""
    font = styles.font
    issuer_w = pdfmetrics.stringWidth(notice.issuer, font, BODY_SIZE)
    date_w = pdfmetrics.stringWidth(notice.date, font, BODY_SIZE)
    issuer = ParagraphStyle("issuer", parent=styles.sign, rightIndent=2 * BODY_SIZE)
    date = ParagraphStyle("date", parent=styles.sign, rightIndent=max(0.0, issuer_w - date_w))
    return [Spacer(1, BODY_LEADING), _p(notice.issuer, issuer), _p(notice.date, date)]


def _imprint(notice: Notice, styles: _Styles) -> Table:
    """印发 line: the issuer one character from the left, the date one from the right."""
    left = ParagraphStyle("imprint_left", parent=styles.imprint, leftIndent=14)
    right = ParagraphStyle(
        "imprint_right", parent=styles.imprint, alignment=TA_RIGHT, rightIndent=14
    )
    t = Table([[_p(notice.imprint[0], left), _p(notice.imprint[1], right)]])
    t.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)])
    )
    return t


def notice_pdf(notice: Notice) -> bytes:
    """The notice as PDF bytes: body on portrait pages, each annex on landscape pages."""
    font = _font()
    styles = _Styles(font)
    buffer = io.BytesIO()
    p_width = PORTRAIT[0] - P_LEFT - P_RIGHT
    l_width = LANDSCAPE[0] - L_LEFT - L_RIGHT

    def page_number(bottom: float, left: float, right: float) -> Any:
        def draw(canvas: Any, doc: Any) -> None:
            # "— n —" 7 mm under the text block: odd pages right, even pages left.
            canvas.saveState()
            canvas.setFont(font, 14)
            text = f"— {doc.page} —"
            y = bottom - 7 * mm - 14
            if doc.page % 2:
                canvas.drawRightString(canvas._pagesize[0] - right - 14, y, text)
            else:
                canvas.drawString(left + 14, y, text)
            canvas.restoreState()

        return draw

    document = BaseDocTemplate(
        buffer,
        pagesize=PORTRAIT,
        title=notice.document_title,
        author=notice.issuer,
        subject=notice.title,
        pageTemplates=[
            PageTemplate(
                "portrait",
                [Frame(P_LEFT, P_BOTTOM, p_width, PORTRAIT[1] - P_TOP - P_BOTTOM, 0, 0, 0, 0)],
                onPage=page_number(P_BOTTOM, P_LEFT, P_RIGHT),
                pagesize=PORTRAIT,
            ),
            PageTemplate(
                "landscape",
                [Frame(L_LEFT, L_BOTTOM, l_width, LANDSCAPE[1] - L_TOP - L_BOTTOM, 0, 0, 0, 0)],
                onPage=page_number(L_BOTTOM, L_LEFT, L_RIGHT),
                pagesize=LANDSCAPE,
            ),
        ],
    )
    story: list[Flowable] = _masthead(notice, styles, p_width)
    title = "<br/>".join(markup(line) for line in notice.title_lines)
    story += [Paragraph(title, styles.title), Spacer(1, BODY_LEADING)]
    story.append(_p(notice.recipients, styles.recipients))
    body = _blocks(notice.body, styles, p_width, annex=False)
    story += body
    # 落款 is never alone on a page: the last line above it (the last 附件说明 line, or the
    # last paragraph with its heading) moves with it; 附件说明 starts with two lines.
    closing: list[Flowable] = []
    if notice.annex_note:
        notes = [
            _p(line, _annex_style(line, i, styles)) for i, line in enumerate(notice.annex_note)
        ]
        story += [CondPageBreak(3 * BODY_LEADING), Spacer(1, BODY_LEADING)]
        story += notes[:-1]
        closing.append(notes[-1])
    elif body:
        closing.append(story.pop())
        if len(notice.body) > 1 and notice.body[-2].kind == "heading":
            closing.insert(0, story.pop())
    closing += _signature(notice, styles)
    story.append(KeepTogether(closing))

    for annex in notice.annexes:
        story += [NextPageTemplate("landscape"), PageBreak()]
        story.append(_p(annex.label, styles.annex_label))
        story.append(_p(annex.title, styles.annex_title))
        story += _blocks(annex.blocks, styles, l_width, annex=True)

    # 版记 on the last page: the 印发 line between two rules, then the data line.
    story += [
        CondPageBreak(30 * mm),
        Spacer(1, 6 * mm),
        HRFlowable(width="100%", thickness=1, color=colors.black, spaceAfter=2),
        _imprint(notice, styles),
        HRFlowable(width="100%", thickness=1, color=colors.black, spaceBefore=2, spaceAfter=4),
        _p(notice.data_line, styles.data),
    ]
    document.build(story)
    return buffer.getvalue()
