"""The rating fraud signals page (SPEC 12): signals with the ratings behind them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from kiosk.extensions import db
from kiosk.models import Rating
from tests.ratings.conftest import add_terminal


@pytest.mark.parametrize(
    ("role", "status"), [("duty", 200), ("leader", 200), ("admin", 200), ("unit", 403)]
)
def test_who_sees_the_signals(login_as: Callable[..., FlaskClient], role: str, status: int) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/insight/fraud").status_code == status


def test_a_quick_qr_rating_from_the_terminal_address_is_listed_and_kept(
    app: Flask, runner: FlaskCliRunner, login_as: Callable[..., FlaskClient]
) -> None:
    key = add_terminal(runner, "柜台9", "W01")
    client = login_as("leader")
    headers = {"Authorization": f"Bearer {key}"}
    session = client.post("/api/v1/sessions", json={"staff_no": "S002"}, headers=headers).get_json()
    # Posted without the key (a QR rating) from the very address that opened the session,
    # a second after: both signals.
    answer = client.post("/api/v1/ratings", json={"token": session["token"], "level": 5})
    assert answer.status_code == 201
    rating_id = answer.get_json()["rating_id"]
    html = client.get("/admin/insight/fraud").get_data(as_text=True)
    for code in ("quick_rating", "terminal_address"):
        part = html[html.index(f'data-code="{code}" data-staff="S002"') :]
        assert rating_id in part[: part.index("</table>")]
    assert "开启服务后 15 秒内即评价" in html and "扫码评价来自开启服务的终端地址" in html
    with app.app_context():
        stored = db.session.scalars(db.select(Rating).where(Rating.rating_id == rating_id)).one()
        # Never an automatic change: the rating stays valid, not misuse, not reviewed.
        assert stored.client_tag and not stored.misuse and stored.review is None
        assert "127.0.0.1" not in stored.client_tag


@pytest.mark.parametrize(
    "query", ["from=2026-13-01", "from=1999-01-01", "from=2026-11-30&to=2026-11-01"]
)
def test_bad_dates_are_refused_with_a_message(
    login_as: Callable[..., FlaskClient], query: str
) -> None:
    client = login_as("duty")
    response = client.get(f"/admin/insight/fraud?{query}")
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.get_data(as_text=True)
