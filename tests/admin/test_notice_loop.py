"""The 通报's annex carries each unit's bad-review handling (SPEC 11), in PDF and Word,
with the figures as they stood at the publication's as_of."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from fractions import Fraction

import pytest
from docx import Document
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from kiosk.extensions import db
from kiosk.rules.badreview import LoopFigures
from kiosk.services import notices
from kiosk.services.appeals import decide_appeal, file_appeal
from kiosk.services.badreviews import loop_report
from kiosk.services.halls import resolve_hall
from kiosk.services.notice_docx import notice_docx
from kiosk.services.notice_pdf import notice_pdf
from kiosk.services.workorders import record_callback, rectify, verify
from tests.admin.test_notices import EXPECTED, SHA, UNITS, docx_text, pdf_pages
from tests.admin.test_publishing import _publish
from tests.ratings.conftest import setup_hall
from tests.ratings.test_badreview_loop import the_user, user
from tests.ratings.test_workorders import add_rating


@pytest.fixture
def hall(runner: FlaskCliRunner) -> None:
    """The example hall (QJ, windows W01–W04) and its roster."""
    setup_hall(runner)


SCJG = LoopFigures("SCJG", 3, 2, 1, 2, 1, 1, 1, 1, 0)


def build(loop: dict[str, LoopFigures] | None) -> notices.Notice:
    return notices.build_notice(
        hall_name="潜江市行政服务中心",
        result=EXPECTED,
        revision=1,
        published_at=dt.datetime(2026, 11, 5, 15, 30),
        as_of=dt.datetime(2026, 11, 5, 12, 0),
        reason=None,
        sha256=SHA,
        units=list(UNITS.items()),
        unit_names=UNITS,
        loop=loop,
    )


def test_each_annex_has_its_units_loop_table() -> None:
    notice = build({"SCJG": SCJG})
    scjg, zwb = notice.annexes
    tables = [b.table for b in scjg.blocks if b.table is not None]
    loop = next(t for t in tables if t.columns == notices.LOOP_COLUMNS)
    assert loop.rows == (
        ("3", "2", "66.7%", "33.3%", "2", "1", "50.0%", "50.0%", "1", "1", "100.0%"),
    )
    assert "三、差评处置情况" in [b.text for b in scjg.blocks]
    assert "本单位窗口本期无差评。" in [b.text for b in zwb.blocks]
    # Without figures the annex is as before.
    assert "三、差评处置情况" not in notices.notice_text(build(None))
    text = "".join(pdf_pages(notice_pdf(notice)))
    assert "差评处置情况" in text and "按期回访率" in text and "66.7%" in text
    word = docx_text(notice_docx(notice))
    assert "差评处置情况" in word and "申诉成立率" in word and "33.3%" in word


def test_shares_round_half_up_and_dash_without_a_base() -> None:
    assert notices._share(Fraction(1, 8)) == "12.5%"
    assert notices._share(Fraction(1, 16)) == "6.3%"  # 6.25 half up
    assert notices._share(None) == "—"


def test_figures_as_of_the_publication(app: Flask, hall: None) -> None:
    """Steps taken after the notice's as_of do not change its figures."""
    rated = dt.datetime(2026, 11, 26, 2, 0)
    add_rating(app, "B1", 1, rated_at=rated)
    officer = user(app, "duty1", "duty")
    unit = user(app, "scjg", "unit", "SCJG")
    leader = user(app, "lead1", "leader")
    as_of = rated + dt.timedelta(hours=3)
    later = rated + dt.timedelta(days=1)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        verify(db.session, h, "B1", "upheld", "属实", officer, rated + dt.timedelta(hours=1))
        file_appeal(db.session, h, "B1", "理由", the_user(unit), rated + dt.timedelta(hours=2))
        record_callback(
            db.session,
            h,
            "B1",
            outcome="reached",
            note="已回访",
            called_at=None,
            satisfied=None,
            user_id=officer,
            now=later,
        )
        rectify(db.session, h, "B1", None, officer, later, cause="c", action="a")
        decide_appeal(db.session, h, "B1", "approved", "成立", the_user(leader), later)
        db.session.commit()
        then = loop_report(db.session, h, "2026-B6", later, as_of=as_of).hall
        assert (then.bad_reviews, then.called_back, then.upheld, then.rectified) == (1, 0, 1, 0)
        assert (then.appeals, then.approved) == (1, 0)
        now = loop_report(db.session, h, "2026-B6", later).hall
        assert (now.called_back, now.upheld, now.approved) == (1, 0, 1)
        # A rating after as_of is not in the notice at all.
        assert loop_report(db.session, h, "2026-B6", later, as_of=rated).hall.bad_reviews == 1
        before = rated - dt.timedelta(seconds=1)
        assert loop_report(db.session, h, "2026-B6", later, as_of=before).hall.bad_reviews == 0


def test_the_published_notice_carries_the_table(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    row = _publish(app)
    with app.test_request_context():
        h = resolve_hall(db.session, None)
        report = loop_report(db.session, h, "2026-B5", row.as_of, as_of=row.as_of)
        scjg = next(f for _name, f in report.units if f.unit == "SCJG")
    assert scjg.bad_reviews > 0
    expected = notices.loop_table(scjg).rows[0]
    word = Document(io.BytesIO(client.get("/admin/periods/2026-B5/notice-SCJG.docx").data))
    rows = [
        tuple(cell.text for cell in table.rows[1].cells)
        for table in word.tables
        if tuple(cell.text for cell in table.rows[0].cells) == notices.LOOP_COLUMNS
    ]
    assert rows == [expected]
    pdf = "".join(pdf_pages(client.get("/admin/periods/2026-B5/notice.pdf").data))
    assert "差评处置情况" in pdf and "本单位窗口本期无差评" in pdf  # ZWB has none
