"""Counter terminals in the back office (SPEC 9, 10): register with the key shown once and a
pairing QR code, list, revoke after a confirmation; admins only, audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, Terminal
from tests.admin.conftest import csrf_token

_SQUARE = re.compile(r"M(\d+),(\d+)H(\d+)V(\d+)H\d+z")


def read_qr_svg(svg: str) -> str:
    """Decode an inline SVG QR code: draw its path's squares, then let zxing read it."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))  # type: ignore[union-attr]
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    path = re.search(r'<path d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    for x, y, x2, y2 in _SQUARE.findall(path):
        draw.rectangle(
            [int(x) * scale, int(y) * scale, int(x2) * scale - 1, int(y2) * scale - 1], fill=0
        )
    [found] = zxingcpp.read_barcodes(image)
    return str(found.text)


def _register(client: FlaskClient, name: str = "W01 评价器", window: str = "W01") -> object:
    token = csrf_token(client, "/admin/terminals")
    return client.post(
        "/admin/terminals",
        data={"csrf_token": token, "new-name": name, "new-window_code": window},
    )


@pytest.mark.parametrize("role", ["duty", "leader", "unit"])
def test_only_admins_open_and_post(
    app: Flask, login_as: Callable[..., FlaskClient], role: str
) -> None:
    client = login_as(role, unit="SCJG" if role == "unit" else None)
    assert client.get("/admin/terminals").status_code == 403
    token = csrf_token(client, "/admin/")
    data = {"csrf_token": token, "new-name": "x", "new-window_code": "W01"}
    assert client.post("/admin/terminals", data=data).status_code == 403
    revoke = {
        "csrf_token": token,
        "revoke-terminal_id": "1",
        "revoke-reason": "x",
        "confirmed": "1",
    }
    assert client.post("/admin/terminals/revoke", data=revoke).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Terminal.id)) is None


def test_register_shows_the_key_once_with_a_qr_code_that_pairs(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    assert "尚未登记评价终端" in client.get("/admin/terminals").get_data(as_text=True)
    response = _register(client)
    assert response.status_code == 201  # type: ignore[attr-defined]
    assert response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    key = re.search(r'id="terminal-key-text">(kt_[^<]+)<', page).group(1)  # type: ignore[union-attr]
    svg = re.search(r"<svg.*?</svg>", page, re.DOTALL).group(0)  # type: ignore[union-attr]
    assert read_qr_svg(svg) == f"http://localhost/counter/pair#key={key}"
    with app.app_context():
        terminal = db.session.scalars(select(Terminal)).one()
        assert terminal.name == "W01 评价器" and terminal.active
        assert key not in (terminal.key_hash or "") and key.split(".")[1] not in terminal.key_hash
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "terminal.add")
        ).one()
        assert entry.after == {"name": "W01 评价器", "window": "W01", "key_id": terminal.key_id}
        assert entry.user_id is not None
    listed = client.get("/admin/terminals").get_data(as_text=True)
    assert "W01 评价器" in listed and "使用中" in listed and key not in listed
    # The key works on the API as the CLI's does.
    api = client.post(
        "/api/v1/sessions", json={"staff_no": "S001"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert api.status_code == 201


def test_public_base_url_is_used_for_the_pairing_link(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://hall.example.gov.cn/"
    client = login_as("admin")
    page = _register(client).get_data(as_text=True)  # type: ignore[attr-defined]
    svg = re.search(r"<svg.*?</svg>", page, re.DOTALL).group(0)  # type: ignore[union-attr]
    assert read_qr_svg(svg).startswith("https://hall.example.gov.cn/counter/pair#key=kt_")


@pytest.mark.parametrize(
    ("name", "window", "field", "message"),
    [
        ("", "W01", "new-name", "此项必填"),
        ("x" * 65, "W01", "new-name", "不能超过 64 个字符"),
        ("ok", "W99", "new-window_code", "本中心没有这个窗口"),
        ("ok", "", "new-window_code", "此项必填"),
    ],
)
def test_bad_input_is_refused_beside_the_field(
    app: Flask,
    login_as: Callable[..., FlaskClient],
    name: str,
    window: str,
    field: str,
    message: str,
) -> None:
    client = login_as("admin")
    response = _register(client, name, window)
    assert response.status_code == 400  # type: ignore[attr-defined]
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f'data-field="{field}"' in text and message in text
    with app.app_context():
        assert db.session.scalar(select(Terminal.id)) is None


def test_a_taken_name_is_refused(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    client = login_as("admin")
    _register(client, "pad")
    again = _register(client, "pad", "W02")
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "已有名为“pad”的终端" in again.get_data(as_text=True)  # type: ignore[attr-defined]
    with app.app_context():
        assert len(db.session.scalars(select(Terminal)).all()) == 1


def test_revoke_asks_first_then_the_key_stops_working(
    app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin")
    page = _register(client, "pad").get_data(as_text=True)  # type: ignore[attr-defined]
    key = re.search(r'id="terminal-key-text">(kt_[^<]+)<', page).group(1)  # type: ignore[union-attr]
    with app.app_context():
        terminal_id = db.session.scalars(select(Terminal.id)).one()
    token = csrf_token(client, "/admin/terminals")
    data = {"csrf_token": token, "revoke-terminal_id": str(terminal_id), "revoke-reason": "丢失"}
    asked = client.post("/admin/terminals/revoke", data=data)
    assert asked.status_code == 200 and "确认停用评价终端" in asked.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Terminal, terminal_id).active  # type: ignore[union-attr]
    done = client.post("/admin/terminals/revoke", data={**data, "confirmed": "1"})
    assert done.status_code == 302
    assert "已停用终端“pad”" in client.get("/admin/terminals").get_data(as_text=True)
    with app.app_context():
        assert not db.session.get(Terminal, terminal_id).active  # type: ignore[union-attr]
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "terminal.revoke")
        ).one()
        assert entry.before == {"name": "pad", "active": True}
        assert entry.after == {"name": "pad", "active": False} and entry.reason == "丢失"
    api = client.post(
        "/api/v1/sessions", json={"staff_no": "S001"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert api.status_code == 401
    # Twice, or an unknown id: refused, nothing changes.
    again = client.post("/admin/terminals/revoke", data={**data, "confirmed": "1"})
    assert again.status_code == 409 and "已停用" in again.get_data(as_text=True)
    unknown = {**data, "revoke-terminal_id": "99999999999", "confirmed": "1"}
    assert client.post("/admin/terminals/revoke", data=unknown).status_code == 404
    no_reason = {**data, "revoke-reason": "", "confirmed": "1"}
    assert client.post("/admin/terminals/revoke", data=no_reason).status_code == 400


def test_the_pairing_page_keeps_the_key_out_of_the_request(client: FlaskClient) -> None:
    response = client.get("/counter/pair")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert 'action="/counter/login"' in text and "pair.js" in text
    served = client.get("/counter/static/pair.js")
    script = served.get_data(as_text=True)
    served.close()
    assert "location.hash" in script and "replaceState" in script
