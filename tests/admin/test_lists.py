"""The growing lists (issue 13, SPEC 10): paged on the server, searchable by staff number
or name, filtered by unit, window and dates, exported to Excel (the filtered set, text
never a formula); a unit viewer sees their own unit only; hostile parameters never 500."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Absence, Punch, Staff
from kiosk.services import listing, records
from kiosk.services.halls import resolve_hall
from tests.admin.test_publishing import _publisher_id

# ---------------------------------------------------------------- the filter, pure


@pytest.mark.parametrize(
    ("args", "page", "message"),
    [
        ({"page": "-1"}, 1, "页码无效"),
        ({"page": "0"}, 1, None),
        ({"page": str(10**9)}, listing.MAX_PAGE, None),
        ({"page": "9" * 5000}, listing.MAX_PAGE, None),
        ({"page": "２"}, 1, "页码无效"),  # a full-width digit is not a page number
        ({"page": "abc"}, 1, "页码无效"),
    ],
)
def test_parse_filter_clamps_the_page(
    app: Flask, args: dict[str, str], page: int, message: str | None
) -> None:
    with app.test_request_context():
        flt = listing.parse_filter(args)
    assert flt.page == page
    assert (message is None and not flt.messages) or any(message in m for m in flt.messages)


@pytest.mark.parametrize(
    "start",
    ["2026-13-01", "1999-12-31", "2100-01-01", "0001-01-01", "x" * 10_000, "2026-1-1"],
)
def test_parse_filter_drops_a_bad_date_with_a_message(app: Flask, start: str) -> None:
    with app.test_request_context():
        flt = listing.parse_filter({"start": start, "end": "2026-10-31"})
    assert flt.start is None and flt.end == dt.date(2026, 10, 31)
    assert len(flt.messages) == 1 and "开始日期" in flt.messages[0]


def test_parse_filter_cuts_long_search_and_swaps_dates(app: Flask) -> None:
    with app.test_request_context():
        flt = listing.parse_filter(
            {
                "q": "张" * 10_000 + "\x00",
                "start": "2026-10-31",
                "end": "2026-09-01",
                "unit": "U" * 40,
            }
        )
    assert flt.q == "张" * listing.MAX_SEARCH
    assert (flt.start, flt.end) == (dt.date(2026, 9, 1), dt.date(2026, 10, 31))
    assert flt.unit == "" and len(flt.messages) == 3


def test_page_bounds() -> None:
    assert listing.page_bounds(0, 5) == (1, 1)
    assert listing.page_bounds(101, 3) == (3, 3)
    assert listing.page_bounds(101, 10**9) == (3, 3)
    assert listing.page_bounds(100, -4) == (1, 2)


def test_like_pattern_escapes_wildcards() -> None:
    assert listing.like_pattern("50%_a\\") == "%50\\%\\_a\\\\%"


# ---------------------------------------------------------------- the service on the database


def _page(
    app: Flask, spec: listing.ListSpec, unit_id: int | None = None, **args: str
) -> listing.Page:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        flt = listing.parse_filter(args)
        return listing.list_page(db.session, hall, spec, flt, viewer_unit_id=unit_id)


def _staff_nos(page: listing.Page) -> set[str]:
    return {row[1].staff_no for row in page.rows}


def test_punches_are_paged_on_the_server(app: Flask, example_hall: Path) -> None:
    with app.app_context():
        total = db.session.scalar(select(func.count(Punch.id)))
    first = _page(app, listing.PUNCHES)
    assert first.total == total and len(first.rows) == listing.PAGE_SIZE
    assert first.pages == -(-total // listing.PAGE_SIZE)
    last = _page(app, listing.PUNCHES, page=str(10**9))
    assert (
        last.page == last.pages and len(last.rows) == total - (last.pages - 1) * listing.PAGE_SIZE
    )
    # Newest first, no row on two pages.
    second = _page(app, listing.PUNCHES, page="2")
    assert first.rows[-1][0].punched_at >= second.rows[0][0].punched_at
    assert not {r[0].id for r in first.rows} & {r[0].id for r in second.rows}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("S001", {"S001"}),
        ("张敏", {"S001"}),
        ("s00", {"S001", "S002", "S003", "S004", "S005", "S006", "S007", "S008"}),
        ("%", set()),
        ("_", set()),
    ],
)
def test_search_by_staff_number_or_name(
    app: Flask, example_hall: Path, q: str, expected: set[str]
) -> None:
    page = _page(app, listing.PUNCHES, q=q)
    assert _staff_nos(page) <= expected
    assert bool(page.total) == bool(expected)


def test_window_filter_follows_the_assignment_on_the_day(app: Flask, example_hall: Path) -> None:
    # S003 moved from W01 to W02 on 2026-09-25: W02 shows only their punches from then on.
    page = _page(app, listing.PUNCHES, window="W02", q="S003", start="2026-09-01", end="2026-10-31")
    assert page.total > 0
    with app.app_context():
        days = set()
        for number in range(1, page.pages + 1):
            for punch, _person, _void in _page(
                app, listing.PUNCHES, window="W02", q="S003", page=str(number)
            ).rows:
                days.add(punch.punched_at.date())
    assert min(days) >= dt.date(2026, 9, 24)  # 09-25 local starts 09-24 16:00 UTC


def test_unit_filter_and_date_range(app: Flask, example_hall: Path) -> None:
    page = _page(app, listing.PUNCHES, unit="ZWB", start="2026-10-01", end="2026-10-31")
    assert _staff_nos(page) == {"S004"}  # S008 left W04 on 2026-08-14
    for row in page.rows:
        assert row[0].punched_at >= dt.datetime(2026, 9, 30, 16)
        assert row[0].punched_at < dt.datetime(2026, 10, 31, 16)


def test_a_unit_viewer_cannot_widen_their_unit(app: Flask, example_hall: Path) -> None:
    with app.app_context():
        from kiosk.models import Unit

        zwb = db.session.scalar(select(Unit.id).where(Unit.code == "ZWB"))
    own = _page(app, listing.EVENTS, unit_id=zwb)
    assert _staff_nos(own) == {"S004"}
    asked_other = _page(app, listing.EVENTS, unit_id=zwb, unit="SCJG")
    assert asked_other.total == 0


def test_more_than_fifty_absences_can_all_be_found(app: Flask, example_hall: Path) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        user_id = _publisher_id()
        for day in range(60):
            start = dt.datetime(2025, 1, 1, 9) + dt.timedelta(days=day)
            records.add_absence(
                db.session,
                hall,
                staff_no="S006",
                kind="out",
                start=start,
                end=start + dt.timedelta(hours=1),
                note=f"外出 {day}",
                user_id=user_id,
            )
        db.session.commit()
    everything = _page(app, listing.ABSENCES)
    assert everything.total == 66 and everything.pages == 2
    oldest = _page(app, listing.ABSENCES, start="2025-01-01", end="2025-01-01")
    assert [row[0].note for row in oldest.rows] == ["外出 0"]


# ---------------------------------------------------------------- the pages and the export


def _xlsx_rows(response) -> list[tuple]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.get_data()))
    response.close()
    return list(book.active.iter_rows(values_only=True))


def test_export_writes_the_filtered_set_and_keeps_text_text(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        records.add_absence(
            db.session,
            hall,
            staff_no="S001",
            kind="leave",
            start=dt.datetime(2026, 10, 20, 9),
            end=dt.datetime(2026, 10, 20, 10),
            note='=HYPERLINK("http://evil.example","点我")',
            user_id=_publisher_id(),
        )
        db.session.commit()
    client = login_as("duty")
    rows = _xlsx_rows(client.get("/admin/absences?export=xlsx&q=S001"))
    assert rows[0][:3] == ("工号", "姓名", "类型")
    assert [r[0] for r in rows[1:]] == ["S001"]
    assert rows[1][5] == '=HYPERLINK("http://evil.example","点我")'  # a string, not a formula
    response = client.get("/admin/absences?export=xlsx&q=S001")
    book = load_workbook(io.BytesIO(response.get_data()))
    response.close()
    cell = book.active["F2"]
    assert cell.data_type == "s" and cell.quotePrefix
    everything = _xlsx_rows(client.get("/admin/punches?export=xlsx"))
    with app.app_context():
        assert len(everything) - 1 == db.session.scalar(select(func.count(Punch.id)))


HOSTILE_QUERIES = [
    "page=-1",
    f"page={10**9}",
    "page=" + "9" * 5000,
    "start=2026-02-30",
    "end=1900-01-01",
    "q=" + "x" * 5000,
    "window=" + "W" * 300,
    "page=1e9&start=abc&end=&q=%25%5F",
    "status=" + "x" * 300,
]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/punches",
        "/admin/absences",
        "/admin/events",
        "/admin/ratings",
        "/admin/workorders",
        "/admin/audit",
    ],
)
def test_hostile_list_parameters_never_fail(
    login_as: Callable[..., FlaskClient], path: str
) -> None:
    client = login_as("admin")
    for query in HOSTILE_QUERIES:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query, response.status_code)
        export = client.get(f"{path}?{query}&export=xlsx")
        assert export.status_code == 200, (path, query, export.status_code)
        export.close()
    # A NUL is refused by the app before any page (a clear 400, never a 500).
    assert client.get(f"{path}?unit=%00").status_code == 400


def test_list_pages_page_search_and_strike_through(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    page = client.get("/admin/punches?page=2").get_data(as_text=True)
    assert 'id="list-pager"' in page and re.search(r"2 / \d+", page)
    found = client.get("/admin/punches?q=张敏").get_data(as_text=True)
    assert "张敏" in found and "李强" not in found
    ratings = client.get("/admin/ratings?q=S002").get_data(as_text=True)
    assert "R0053" in ratings and "不满意" in ratings
    orders = client.get("/admin/workorders?status=all&q=S002").get_data(as_text=True)
    assert "R0053" in orders
    none = client.get("/admin/workorders?status=all&q=S001").get_data(as_text=True)
    assert "R0053" not in none and "没有符合条件的工单" in none


def test_unit_viewer_lists_show_their_unit_only(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="ZWB")
    page = client.get("/admin/punches").get_data(as_text=True)
    assert "赵磊" in page and "张敏" not in page
    assert 'name="unit"' not in page  # their unit always applies; no choice offered
    events = client.get("/admin/events?unit=SCJG").get_data(as_text=True)
    assert "E005" not in events and "E007" not in events  # E007 is S004's, but asked SCJG
    rows = _xlsx_rows(client.get("/admin/events?export=xlsx"))
    assert {r[1] for r in rows[1:]} == {"S004"}
    assert client.get("/admin/workorders/R0053").status_code == 404  # S002 sits at SCJG


def test_audit_log_is_searchable_and_exported(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        records.withdraw_event(
            db.session, hall, event_id="E002", reason="误录", user_id=_publisher_id()
        )
        db.session.commit()
    client = login_as("leader")
    page = client.get("/admin/audit?q=E002").get_data(as_text=True)
    assert "撤销事件" in page and "共 1 条" in page
    rows = _xlsx_rows(client.get("/admin/audit?export=xlsx&q=E002"))
    assert len(rows) == 2 and rows[1][2] == "撤销事件" and rows[1][5] == "误录"
    assert client.get("/admin/audit?start=2099-01-01").get_data(as_text=True).count("共 0 条") == 1


def test_absence_rows_left_out_when_their_staff_is_of_another_hall(
    app: Flask, example_hall: Path
) -> None:
    # The list's select is the hall's: a staff id of nowhere shows nothing, not an error.
    page = _page(app, listing.ABSENCES, q="nobody")
    assert page.total == 0 and page.rows == [] and page.first == 0
    with app.app_context():
        assert db.session.scalar(select(func.count(Absence.id))) == 6
        assert db.session.scalar(select(func.count(Staff.id))) == 8


@pytest.mark.parametrize("q", ["S001", "S00", "李强"])
def test_every_row_is_on_exactly_one_page_in_order(app: Flask, example_hall: Path, q: str) -> None:
    # Pages past the middle are read from the other end; together they are the list.
    first = _page(app, listing.PUNCHES, q=q)
    seen = []
    for number in range(1, first.pages + 1):
        seen += [
            (row[0].punched_at, row[0].id)
            for row in _page(app, listing.PUNCHES, q=q, page=str(number)).rows
        ]
    assert len(seen) == first.total and len(set(seen)) == first.total
    assert seen == sorted(seen, reverse=True)
