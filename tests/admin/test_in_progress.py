"""Pages with a clock inside a working day (SPEC 5.1): the weekly report, corrections and
the review of the current period show no defect for what has not happened yet; a review
of a published period says it differs only when it does, and what changed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.extensions import db
from kiosk.models import Rating
from kiosk.rules.ruleset import default_rules
from kiosk.services import publishing
from kiosk.services.halls import resolve_hall
from kiosk.services.reports import weekly_report
from tests.admin.test_publishing import AS_OF, _publish

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def _utc(local: str) -> dt.datetime:
    """Naive UTC of a hall-local (UTC+8) time."""
    aware = dt.datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("clock", "workdays", "open_days"),
    [
        # Week of Mon 12 Oct 2026: workdays 12–15 (the hall is closed on the 16th); the
        # winter schedule's day closes at 21:30.
        ("2026-10-14T13:50:00", 2, 2),  # Wednesday afternoon: Mon and Tue closed
        ("2026-10-14T21:29:59", 2, 2),
        ("2026-10-14T21:30:00", 3, 1),
        ("2026-10-12T07:00:00", 0, 4),  # before the week's first day has closed
        ("2026-10-18T12:00:00", 4, 0),  # Sunday: the whole week is over
    ],
)
def test_weekly_report_counts_closed_days_only(
    app: Flask, example_hall: object, clock: str, workdays: int, open_days: int
) -> None:
    with app.app_context():
        hall = resolve_hall(db.session, None)
        report = weekly_report(db.session, hall, dt.date(2026, 10, 12), as_of=_utc(clock))
        full = weekly_report(
            db.session, hall, dt.date(2026, 10, 12), as_of=_utc("2026-10-18T12:00:00")
        )
        assert len(report.open_days) == open_days
        closed = {d for d in report.workdays if d not in report.open_days}
        for unit in report.units:
            for person in unit.people:
                assert person.totals.workdays <= workdays
                # No defect is told for a day that has not closed.
                assert all(day.day in closed for day in person.defect_days)
        assert report.totals.absent_half_days <= full.totals.absent_half_days
        if not closed:
            assert report.totals.defects == 0 and report.totals.workdays == 0


def test_weekly_report_of_the_current_week_shows_no_future_absence(
    app: Flask, login_as: Callable[..., FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The week after the example's data (Mon 2 Nov 2026), seen on Wednesday at 13:50:
    Monday and Tuesday are real absences, Wednesday to Friday are not absences at all."""
    client = login_as("duty")
    monkeypatch.setattr("kiosk.services.reports.utcnow", lambda: _utc("2026-11-04T13:50:00"))
    page = client.get("/admin/reports/weekly?week=2026-W45").get_data(as_text=True)
    assert 'id="weekly-open"' in page and "尚有 3 个工作日未结束" in page
    with app.app_context():
        hall = resolve_hall(db.session, None)
        now = weekly_report(
            db.session, hall, dt.date(2026, 11, 2), as_of=_utc("2026-11-04T13:50:00")
        )
        later = weekly_report(
            db.session, hall, dt.date(2026, 11, 2), as_of=_utc("2026-11-07T12:00:00")
        )
        people = sum(len(u.people) for u in now.units)
        assert people
        # Without punches after October: two closed days x two half-days per person.
        assert now.totals.absent_half_days == 2 * 2 * people
        assert later.totals.absent_half_days == 5 * 2 * people


def test_corrections_page_inside_a_working_day(
    login_as: Callable[..., FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = login_as("duty")
    monkeypatch.setattr("kiosk.services.reports.utcnow", lambda: _utc("2026-11-04T13:50:00"))
    page = client.get("/admin/corrections?staff_no=S001&day=2026-11-04").get_data(as_text=True)
    assert 'id="day-open"' in page and "待打卡" in page
    assert "缺卡</span>" not in page and "旷工半天 0" not in page
    # The day before has closed: its missing punches are told.
    before = client.get("/admin/corrections?staff_no=S001&day=2026-11-03").get_data(as_text=True)
    assert 'id="day-open"' not in before and "旷工半天 2" in before


def test_review_of_the_current_period_does_not_veto_everyone(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("leader")
    # Wednesday 14 October at 13:50, inside period 2026-B5.
    page = client.get("/admin/periods/review?period=2026-B5&as_of=2026-10-14T13:50")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="in-progress"' in text
    rows = re.findall(r'<tr data-staff="(S\d+)">(.*?)</tr>', text, re.S)
    assert rows
    vetoed = [no for no, row in rows if '<span class="tag bad">旷工</span>' in row]
    # Only S005, absent on the make-up Saturday 10 October (a closed day); before the fix
    # every person was 旷工 for the days to come.
    assert vetoed == ["S005"] and len(rows) == 7


def test_review_before_the_period_is_refused(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    page = client.get(
        "/admin/periods/review?period=2026-B6&as_of=2026-10-31T23:00", follow_redirects=True
    )
    assert "计算时点早于 2026-B6 期的第一天（2026-11-01），无法计算。" in page.get_data(
        as_text=True
    )


def test_review_after_publication_differs_only_when_something_changed(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("leader")
    _publish(app)
    for as_of in (AS_OF[:16], "2026-11-05T12:30"):
        text = client.get(f"/admin/periods/review?period=2026-B5&as_of={as_of}").get_data(
            as_text=True
        )
        assert 'id="same-as-published"' in text
        assert "输入数据和规则文件均未变化" in text
        assert 'id="differs-from-published"' not in text and "不同" not in text.split("<h2>")[0]
        assert 'id="publish-form"' not in text and 'id="no-revision"' in text

    with app.app_context():
        rating = db.session.scalar(db.select(Rating).where(Rating.rating_id == "R0001"))
        assert rating is not None and rating.level == 5
        rating.level = 3
        db.session.commit()
    text = client.get(f"/admin/periods/review?period=2026-B5&as_of={AS_OF[:16]}").get_data(
        as_text=True
    )
    assert "结果与已发布的第 1 版不同" in text
    changed = re.search(r'id="changed-inputs">(.*?)</li>', text, re.S)
    assert changed is not None and "评价" in changed.group(1) and "打卡" not in changed.group(1)
    moved = re.search(r'id="moved-people">(.*?)</li>', text, re.S)
    assert moved is not None and "张敏（S001）" in moved.group(1)
    assert 'id="publish-form"' in text


def test_compare_names_each_changed_kind(app: Flask, example_hall: object) -> None:
    first = _publish(app)
    with app.test_request_context():
        hall = resolve_hall(db.session, None)
        period = publishing.parse_period("2026-B5")
        at = dt.datetime.fromisoformat(AS_OF)
        rules = default_rules()
        row = publishing.latest(db.session, hall, "2026-B5")
        assert row is not None and row.inputs_detail
        same = publishing.compare(
            db.session, hall, publishing.compute(db.session, hall, period, at, rules), row, rules
        )
        assert (same.differs, same.changed_inputs, same.moved_people) == (False, (), ())
        assert same.same_as_of and first.revision == 1
