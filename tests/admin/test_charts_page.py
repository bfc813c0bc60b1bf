"""The charts page (issue 15): a heat map and the units' trends as server-side SVG."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize(
    ("role", "status"), [("duty", 200), ("leader", 200), ("unit", 200), ("admin", 200)]
)
def test_who_sees_the_charts(login_as: Callable[..., FlaskClient], role: str, status: int) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/insight/charts?from=2026-09-01&to=2026-10-31").status_code == status


def test_heat_map_and_trends(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("leader")
    html = client.get("/admin/insight/charts?from=2026-09-01&to=2026-10-31&window=W01").get_data(
        as_text=True
    )
    cells = re.findall(r'data-weekday="(\d)" data-hour="(\d+)">(\d+)<small>(\d+)', html)
    assert cells and all(0 <= int(v) <= 100 for _, _, v, _ in cells)
    assert sum(int(n) for *_, n in cells) > 0
    # One pygal SVG per unit, with no script in it (inlined and printed as is).
    assert html.count('class="pygal-chart"') == 2
    assert "<script" not in html.split('id="trends"')[1].split("</section>")[0]
    assert "市场监督管理局 月度趋势" in html


def test_unit_viewer_sees_only_their_unit_trend(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("unit", unit="SCJG")
    html = client.get("/admin/insight/charts?from=2026-09-01&to=2026-10-31").get_data(as_text=True)
    assert 'data-unit="SCJG"' in html and 'data-unit="ZWB"' not in html
    assert 'id="heat-map"' not in html


def test_unknown_window_is_refused(login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("duty")
    html = client.get("/admin/insight/charts?window=W99").get_data(as_text=True)
    assert "没有代码为“W99”的窗口" in html


def test_unit_viewer_cannot_read_another_units_window_or_person(
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("unit", unit="SCJG")
    html = client.get("/admin/insight/charts?from=2026-09-01&to=2026-10-31&window=W03").get_data(
        as_text=True
    )
    assert "没有代码为“W03”的窗口" in html and 'id="heat-map"' not in html
    # A person's ratings without a window of the viewer's own unit: no heat map either.
    html = client.get("/admin/insight/charts?staff_no=S003").get_data(as_text=True)
    assert 'id="heat-map"' not in html
    own = client.get("/admin/insight/charts?from=2026-09-01&to=2026-10-31&window=W01")
    assert 'id="heat-map"' in own.get_data(as_text=True)
