"""The 通报 as a government office issues it (PDF and Word), and hostile text in documents.

The documents are read back as a reader would get them: the PDF's text page by page
(pypdf), the Word file through python-docx, the Excel file through openpyxl.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from kiosk.extensions import db
from kiosk.interchange.hallfile import HallFileError, parse_hall_file
from kiosk.models import Hall, PublishedPeriod, Staff
from kiosk.services import notices
from kiosk.services.halls import resolve_hall
from kiosk.services.notice_docx import notice_docx
from kiosk.services.notice_pdf import markup, notice_pdf
from tests.admin.test_publishing import _publish

DATA = Path(__file__).parents[1] / "data" / "small"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
UNITS = {"SCJG": "市场监督管理局", "ZWB": "市政务服务中心"}
SHA = "0123456789abcdef" * 4
CODES = re.compile(r"SCJG|ZWB|\bW\d{2}\b|\bS\d{3}\b|\d{4}-\d{2}-\d{2}|T\d{2}:\d{2}|\+08:00|UTC")
HEX = re.compile(r"[0-9a-f]{16,}")


def _notice(
    result: dict[str, Any] | None = None,
    units: list[tuple[str, str]] | None = None,
    revision: int = 1,
    reason: str | None = None,
    hall_name: str = "潜江市行政服务中心",
    unit_names: dict[str, str] | None = None,
) -> notices.Notice:
    return notices.build_notice(
        hall_name=hall_name,
        result=result or EXPECTED,
        revision=revision,
        published_at=dt.datetime(2026, 11, 5, 15, 30),
        as_of=dt.datetime(2026, 11, 5, 12, 0),
        reason=reason,
        sha256=SHA,
        units=units or list(UNITS.items()),
        unit_names=unit_names or UNITS,
        number="潜政服通〔2026〕5号",
        supersedes="潜政服通〔2026〕4号" if revision > 1 else "",
    )


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, as a copy-and-paste from a PDF viewer would give it."""
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def docx_text(data: bytes) -> str:
    """Every paragraph and table cell of a Word file, in document order."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _big_result(people: int, windows: int = 3) -> dict[str, Any]:
    """A result with ``people`` staff over ``windows`` windows of unit SCJG (plus EXPECTED's)."""
    result = copy.deepcopy(EXPECTED)
    template = result["individuals"][2]
    for w in range(windows):
        code = f"W{10 + w}"
        members = [f"S{500 + w * 100 + k}" for k in range(people // windows + 1)]
        result["windows"].append(
            {
                **copy.deepcopy(result["windows"][0]),
                "window": code,
                "name": f"测试窗口{w + 1}",
                "unit": "SCJG",
                "award": None,
                "members": members,
            }
        )
    for k in range(people):
        w = k % windows
        result["individuals"].append(
            {
                **copy.deepcopy(template),
                "staff_no": f"S{500 + w * 100 + k // windows}",
                "name": f"测试员{k + 1}",
                "window": f"W{10 + w}",
                "rank": 10 + k,
                "award": None,
            }
        )
    return result


# --------------------------------------------------------------------------- wording


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (dt.date(2026, 11, 5), "二〇二六年十一月五日"),
        (dt.date(2026, 10, 31), "二〇二六年十月三十一日"),
        (dt.date(2027, 1, 20), "二〇二七年一月二十日"),
        (dt.date(2026, 12, 10), "二〇二六年十二月十日"),
        (dt.date(2030, 2, 19), "二〇三〇年二月十九日"),
        (dt.date(2026, 3, 1), "二〇二六年三月一日"),
    ],
)
def test_chinese_date(day: dt.date, text: str) -> None:
    assert notices.chinese_date(day) == text


@pytest.mark.parametrize(
    ("prefix", "year", "serial", "number"),
    [
        ("潜政服通", 2026, 5, "潜政服通〔2026〕5号"),
        ("X政服通", 2027, 1, "X政服通〔2027〕1号"),
        ("", 2026, 5, ""),
    ],
)
def test_document_number(prefix: str, year: int, serial: int, number: str) -> None:
    assert notices.document_number(prefix, year, serial) == number


def test_hall_file_carries_the_number_prefix() -> None:
    base = (DATA / "hall.toml").read_text(encoding="utf-8")
    parsed = parse_hall_file((base + '\n[notice]\nnumber_prefix = "潜政服通"\n').encode())
    assert parsed.settings["notice"] == {"number_prefix": "潜政服通"}
    assert "notice" not in parse_hall_file(base.encode()).settings
    for bad in ('["潜"]', '"潜政服通〔2026〕"', '"' + "长" * 21 + '"'):
        with pytest.raises(HallFileError, match="number_prefix"):
            parse_hall_file((base + f"\n[notice]\nnumber_prefix = {bad}\n").encode())


# --------------------------------------------------------------------------- the PDF


def test_pdf_is_a_tongbao_with_names_and_no_codes() -> None:
    pages = pdf_pages(notice_pdf(_notice()))
    text = "\n".join(pages)
    flat = _flat(text)
    # 版头, 文号, title, 主送, 落款 with the date in Chinese.
    assert "潜江市行政服务中心文件" in flat
    assert "潜政服通〔2026〕5号" in flat
    assert "关于2026年第5期（9—10月）“红旗窗口”和“先进个人”评选结果的通报" in flat
    assert "市场监督管理局、市政务服务中心：" in flat
    assert "潜江市行政服务中心二〇二六年十一月五日" in flat
    assert "2026年9月1日至10月31日" in flat
    # Windows by name with their unit, persons by name with unit and window.
    assert "1食品经营许可市场监督管理局97.87" in flat
    assert "1张敏市场监督管理局企业登记99.90" in flat
    assert "2刘洋市场监督管理局食品经营许可99.90" in flat
    # One annex per unit, window members by name.
    assert "附件1市场监督管理局窗口及工作人员考评情况" in flat
    assert "附件2市政务服务中心窗口及工作人员考评情况" in flat
    assert "张敏、李强、陈静、周杰" in flat and "赵磊" in flat
    # Page numbers on every page, the digest only in the data line of the last page.
    for number, page in enumerate(pages, start=1):
        assert f"— {number} —" in page
    for page in pages[:-1]:
        assert not CODES.search(page), CODES.search(page)
        assert not HEX.search(page)
    last = pages[-1]
    assert SHA in _flat(last) and "2026年11月5日印发" in last
    assert not CODES.search(last.replace(SHA, ""))


def test_pdf_body_portrait_annexes_landscape() -> None:
    reader = pypdf.PdfReader(io.BytesIO(notice_pdf(_notice())))
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert sizes[0][0] < sizes[0][1]  # the body: A4 portrait
    assert sizes[-1][0] > sizes[-1][1]  # the annexes: A4 landscape
    assert reader.metadata is not None and reader.metadata.title == (
        "潜政服通〔2026〕5号 关于2026年第5期（9—10月）“红旗窗口”和“先进个人”评选结果的通报"
    )


def test_per_unit_notice_has_only_its_part() -> None:
    notice = _notice(units=[("ZWB", "市政务服务中心")])
    flat = _flat("\n".join(pdf_pages(notice_pdf(notice))))
    assert "市政务服务中心：" in flat and "市场监督管理局、" not in flat
    assert "附件：市政务服务中心窗口及工作人员考评情况" in flat
    assert "附件1" not in flat and "附件2" not in flat
    assert "赵磊" in flat  # the unit's own staff
    # Other units' staff appear only if awarded (the awards are public): 张敏 and 刘洋.
    for other in ("李强", "陈静", "周杰", "王芳"):
        assert other not in flat
    assert "张敏" in flat


def test_a_revision_says_what_it_replaces() -> None:
    flat = _flat("\n".join(pdf_pages(notice_pdf(_notice(revision=2, reason="补录打卡")))))
    assert "因补录打卡，潜江市行政服务中心对2026年第5期（9—10月）评选结果进行了复核修订" in flat
    assert "原通报（潜政服通〔2026〕4号）同时废止" in flat


def _headings(notice: notices.Notice) -> set[str]:
    blocks = list(notice.body) + [b for a in notice.annexes for b in a.blocks]
    return {_flat(b.text) for b in blocks if b.kind in ("heading", "subheading")}


@pytest.mark.parametrize("people", range(0, 40, 3))
def test_no_heading_left_alone_at_the_foot_of_a_page(people: int) -> None:
    notice = _notice(_big_result(people))
    pages = pdf_pages(notice_pdf(notice))
    headings = _headings(notice)
    for number, page in enumerate(pages, start=1):
        lines = [_flat(line) for line in page.splitlines() if _flat(line)]
        lines = [line for line in lines if line != f"—{number}—"]
        assert lines and lines[-1] not in headings, (number, lines[-3:])


def _many_units(count: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A result with ``count`` units of one window and one person each."""
    result = copy.deepcopy(EXPECTED)
    result["windows"], result["individuals"] = [], []
    names = {}
    for i in range(count):
        unit, window, staff = f"U{i:02d}", f"W{i + 10}", f"S{i + 100}"
        names[unit] = f"第{i + 1}测试管理局"
        result["windows"].append(
            {
                **copy.deepcopy(EXPECTED["windows"][0]),
                "window": window,
                "unit": unit,
                "name": f"窗口{i + 1}",
                "members": [staff],
                "award": "red_flag" if i < 3 else None,
            }
        )
        result["individuals"].append(
            {
                **copy.deepcopy(EXPECTED["individuals"][0]),
                "staff_no": staff,
                "name": f"员工{i + 1}",
                "window": window,
                "award": "advanced" if i < 5 else None,
            }
        )
    return result, names


@pytest.mark.parametrize("count", [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 26, 30])
def test_signature_and_headings_with_many_units(count: int) -> None:
    # Whatever the length of the body and of the 附件说明, 落款 is never alone on a page
    # and no heading is left at the foot of one.
    result, names = _many_units(count)
    notice = _notice(result, units=list(names.items()), unit_names=names)
    pages = pdf_pages(notice_pdf(notice))
    headings = _headings(notice)
    signed = None
    for number, page in enumerate(pages, start=1):
        lines = [_flat(line) for line in page.splitlines() if _flat(line)]
        lines = [line for line in lines if line != f"—{number}—"]
        assert lines and lines[-1] not in headings, (number, lines[-3:])
        if "二〇二六年十一月五日" in lines:
            signed = lines
    assert signed is not None
    at = signed.index("潜江市行政服务中心")
    assert at >= 1 and signed[at - 1] not in headings, signed
    if count > 1:
        assert signed[at - 1].endswith("窗口及工作人员考评情况")  # the last 附件说明 line


# --------------------------------------------------------------------------- Word


def test_docx_says_the_same_as_the_pdf() -> None:
    notice = _notice()
    data = notice_docx(notice)
    doc = Document(io.BytesIO(data))
    text = docx_text(data)
    flat = _flat(text)
    for part in (
        "潜江市行政服务中心文件",
        "潜政服通〔2026〕5号",
        "关于2026年第5期（9—10月）“红旗窗口”和“先进个人”评选结果的通报",
        "市场监督管理局、市政务服务中心：",
        "潜江市行政服务中心二〇二六年十一月五日",
        "附件1市场监督管理局窗口及工作人员考评情况",
        "张敏、李强、陈静、周杰",
    ):
        assert part in flat, part
    rows = [[c.text for c in row.cells] for table in doc.tables for row in table.rows]
    assert ["1", "食品经营许可", "市场监督管理局", "97.87"] in rows
    assert ["1", "张敏", "市场监督管理局", "企业登记", "99.90"] in rows
    assert not CODES.search(text.replace(SHA, ""))
    assert HEX.findall(text) == [SHA]  # only in the data line
    assert SHA in doc.paragraphs[-1].text
    # Body portrait, one landscape section per annex.
    orientations = [s.orientation for s in doc.sections]
    assert orientations == [WD_ORIENT.PORTRAIT, WD_ORIENT.LANDSCAPE, WD_ORIENT.LANDSCAPE]
    # Headings keep with the next paragraph; table headers repeat on every page.
    headings = [p for p in doc.paragraphs if _flat(p.text) in _headings(notice)]
    assert headings and all(p.paragraph_format.keep_with_next for p in headings)
    for table in doc.tables:
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    # Page numbers: a PAGE field in the odd and the even footer.
    for footer in (doc.sections[0].footer, doc.sections[0].even_page_footer):
        xml = footer.paragraphs[0]._p.xml
        assert "PAGE" in xml and "— " in footer.paragraphs[0].text
    assert doc.settings.odd_and_even_pages_header_footer
    assert doc.core_properties.title == notice.document_title


def test_docx_per_unit() -> None:
    text = _flat(docx_text(notice_docx(_notice(units=[("SCJG", "市场监督管理局")]))))
    assert "附件：市场监督管理局窗口及工作人员考评情况" in text
    assert "赵磊" not in text and "周杰" in text


# --------------------------------------------------------------------------- hostile text


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local socket that records whether anything connects to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _nobody_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def test_markup_escapes_everything() -> None:
    assert markup('A<B & <img src="x">') == 'A&lt;B &amp; &lt;img src="x"&gt;'
    assert markup("a\x00b\x0bc") == "abc"


def test_hostile_text_renders_literally_and_fetches_nothing(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    tag = f'<img src="http://127.0.0.1:{port}/x">'
    result = copy.deepcopy(EXPECTED)
    for person in result["individuals"]:
        if person["staff_no"] == "S001":
            person["name"] = f"张{tag}敏"
    for window in result["windows"]:
        if window["window"] == "W02":
            window["name"] = f"食品<b>经营</b>&{tag}"
    notice = _notice(
        result,
        revision=2,
        reason=f"A<B {tag} <font name=x>",
        hall_name=f"潜江市<para>中心{tag}",
        units=[("SCJG", f"市场<i>监管{tag}")],
    )
    pdf = _flat("\n".join(pdf_pages(notice_pdf(notice))))
    docx = _flat(docx_text(notice_docx(notice)))
    for text in (pdf, docx):
        assert _flat(f"因A<B {tag} <font name=x>，潜江市<para>中心{tag}") in text
        assert _flat(f"张{tag}敏") in text
        assert _flat(f"食品<b>经营</b>&{tag}") in text
        assert _flat(f"市场<i>监管{tag}窗口及工作人员考评情况") in text
    assert _nobody_connected(listener)


FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@SUM(1)", "\t=1+1", "\r=1+1", "＝1+1", "＋1", "－1"]


def test_excel_writes_formula_like_names_as_text() -> None:
    result = copy.deepcopy(EXPECTED)
    for person, name in zip(result["individuals"], FORMULAS, strict=False):
        person["name"] = name
    result["windows"][0]["name"] = '=HYPERLINK("http://127.0.0.1/x","点我")'
    data = notices.notice_xlsx(
        hall_name="=cmd|' /C calc'!A0",
        result=result,
        revision=1,
        sha256=SHA,
        inputs_sha256=SHA,
        unit_names={"SCJG": "@SUM(1)", "ZWB": "市政务服务中心"},
    )
    book = load_workbook(io.BytesIO(data))
    people = book["个人"]
    header = [c.value for c in people[1]]
    names = {people.cell(row, 2).value: people.cell(row, 3) for row in range(2, people.max_row + 1)}
    for person, name in zip(result["individuals"], FORMULAS, strict=False):
        cell = names[person["staff_no"]]
        assert cell.data_type == "s" and cell.value == name, (name, cell.data_type)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    # Names, not codes; the codes stay in their own columns.
    assert header[3:5] == ["单位", "窗口"] and header[-2:] == ["单位编码", "窗口编码"]
    row = next(r for r in people.iter_rows(min_row=2, values_only=True) if r[1] == "S004")
    assert row[3:5] == ("市政务服务中心", "综合咨询") and row[-2:] == ("ZWB", "W03")
    windows = book["窗口"]
    assert [c.value for c in windows[1]][:3] == ["排名", "窗口", "单位"]
    assert windows.cell(2, 2).value == '=HYPERLINK("http://127.0.0.1/x","点我")'
    assert windows.cell(2, 2).data_type == "s"


# --------------------------------------------------------------------------- through the app


def _set_prefix(app: Flask, prefix: str) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        hall.settings = {**hall.settings, "notice": {"number_prefix": prefix}}
        db.session.commit()


def test_published_page_offers_pdf_and_word(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    _set_prefix(app, "潜政服通")
    row = _publish(app)
    year = row.published_at.year  # UTC; the test does not run at a year's turn
    page = client.get("/admin/periods/2026-B5").get_data(as_text=True)
    assert "/admin/periods/2026-B5/notice-SCJG.docx" in page
    assert "/admin/periods/2026-B5/notice.docx" in page
    docx = client.get("/admin/periods/2026-B5/notice-SCJG.docx")
    assert docx.status_code == 200
    assert docx.mimetype.endswith("wordprocessingml.document")
    assert "attachment" in docx.headers["Content-Disposition"]
    text = _flat(docx_text(docx.data))
    assert f"潜政服通〔{year}〕1号" in text and "市场监督管理局：" in text
    pdf = client.get("/admin/periods/2026-B5/notice.pdf")
    assert f"潜政服通〔{year}〕1号" in _flat("\n".join(pdf_pages(pdf.data)))
    assert client.get("/admin/periods/2026-B5/notice-NOPE.docx").status_code == 404
    xlsx = load_workbook(io.BytesIO(client.get("/admin/periods/2026-B5/result.xlsx").data))
    assert ("文号", f"潜政服通〔{year}〕1号") in list(xlsx["说明"].iter_rows(values_only=True))


def test_unit_viewer_gets_only_own_word_file(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("unit", unit="ZWB")
    _publish(app)
    assert client.get("/admin/periods/2026-B5/notice-ZWB.docx").status_code == 200
    assert client.get("/admin/periods/2026-B5/notice-SCJG.docx").status_code == 403
    assert client.get("/admin/periods/2026-B5/notice.docx").status_code == 403


def test_hostile_reason_and_name_through_the_app(
    app: Flask, login_as: Callable[..., FlaskClient], listener: socket.socket
) -> None:
    """A reason ``A<B`` and a name with an <img> once made every PDF of the revision 500."""
    client = login_as("leader")
    _set_prefix(app, "潜政服通")
    first = _publish(app)
    port = listener.getsockname()[1]
    name = f'=HYPERLINK("x")<img src="http://127.0.0.1:{port}/x">'
    with app.test_request_context():
        staff = db.session.scalar(db.select(Staff).where(Staff.staff_no == "S004"))
        assert staff is not None
        staff.name = name
        db.session.commit()
    second = _publish(app, reason=f'A<B <img src="http://127.0.0.1:{port}/y">')
    assert second.revision == 2
    year = first.published_at.year
    for path in ("notice.pdf", "notice-ZWB.pdf", "notice.docx", "notice-ZWB.docx"):
        response = client.get(f"/admin/periods/2026-B5/{path}?revision=2")
        assert response.status_code == 200, path
        text = (
            "\n".join(pdf_pages(response.data))
            if path.endswith(".pdf")
            else docx_text(response.data)
        )
        flat = _flat(text)
        assert _flat(name) in flat, path
        assert _flat(f'因A<B <img src="http://127.0.0.1:{port}/y">，') in flat
        # Revision 2 is a notice of its own that replaces number 1.
        assert f"潜政服通〔{year}〕2号" in flat
        assert f"原通报（潜政服通〔{year}〕1号）同时废止" in flat
    # Revision 1 keeps its number when rendered again.
    again = client.get("/admin/periods/2026-B5/notice.pdf?revision=1")
    assert f"潜政服通〔{year}〕1号" in _flat("\n".join(pdf_pages(again.data)))
    book = load_workbook(io.BytesIO(client.get("/admin/periods/2026-B5/result.xlsx").data))
    people = book["个人"]
    cell = next(r[2] for r in people.iter_rows(min_row=2) if r[1].value == "S004")
    assert cell.value == name and cell.data_type == "s"
    assert _nobody_connected(listener)


def test_serial_counts_publications_of_the_year_in_hall_time(
    app: Flask, example_hall: object
) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        other = Hall(code="OTHER", name="别的中心", timezone="Asia/Shanghai", settings={})
        db.session.add(other)
        db.session.flush()

        def add(hall_id: int, period: str, revision: int, at: dt.datetime) -> PublishedPeriod:
            row = PublishedPeriod(
                hall_id=hall_id,
                period=period,
                revision=revision,
                as_of=at,
                rules_sha256=SHA,
                inputs_sha256=SHA,
                result_json="{}",
                sha256=SHA,
                published_at=at,
            )
            db.session.add(row)
            db.session.flush()
            return row

        # Stored times are UTC: 2026-12-31 16:30 UTC is 2027-01-01 00:30 in the hall.
        b5 = add(hall.id, "2026-B5", 1, dt.datetime(2026, 11, 5, 2, 0))
        add(other.id, "2026-B5", 1, dt.datetime(2026, 11, 6, 2, 0))  # another hall
        b5r2 = add(hall.id, "2026-B5", 2, dt.datetime(2026, 11, 20, 2, 0))
        b6 = add(hall.id, "2026-B6", 1, dt.datetime(2026, 12, 31, 16, 30))
        b1 = add(hall.id, "2027-B1", 1, dt.datetime(2027, 3, 2, 2, 0))
        assert notices.publication_serial(db.session, hall, b5) == (2026, 1)
        assert notices.publication_serial(db.session, hall, b5r2) == (2026, 2)
        assert notices.publication_serial(db.session, hall, b6) == (2027, 1)
        assert notices.publication_serial(db.session, hall, b1) == (2027, 2)
        # A later publication does not renumber the earlier ones.
        b6r2 = add(hall.id, "2026-B6", 2, dt.datetime(2027, 3, 10, 2, 0))
        assert notices.publication_serial(db.session, hall, b6) == (2027, 1)
        assert notices.publication_serial(db.session, hall, b1) == (2027, 2)
        assert notices.publication_serial(db.session, hall, b6r2) == (2027, 3)
        db.session.rollback()
