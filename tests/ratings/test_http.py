"""The terminal API over real HTTP: a waitress server on 127.0.0.1, plain urllib clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from flask import Flask
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Rating


def call(method: str, url: str, body: Any = None, key: str | None = None) -> tuple[int, str, bytes]:
    """One HTTP request; returns status, content type and body (also for error statuses)."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_rating_flow_over_http(live_url: str, key: str, app: Flask) -> None:
    status, kind, raw = call("POST", f"{live_url}/api/v1/sessions", {"staff_no": "S001"}, key)
    assert (status, kind) == (201, "application/json")
    session = json.loads(raw)
    # Without PUBLIC_BASE_URL the link is built on the request's own host.
    assert session["rate_url"] == f"{live_url}/r/{session['token']}"

    status, kind, raw = call(
        "GET", f"{live_url}/api/v1/sessions/{session['session_id']}/qr.png", key=key
    )
    assert (status, kind) == (200, "image/png") and raw.startswith(b"\x89PNG")
    status, _kind, _raw = call("GET", f"{live_url}/api/v1/sessions/{session['session_id']}/qr.png")
    assert status == 401

    status, _kind, raw = call("GET", session["rate_url"])
    assert status == 200 and "非常满意".encode() in raw

    rating = {"token": session["token"], "level": 2, "reasons": ["业务不熟"]}
    status, _kind, raw = call("POST", f"{live_url}/api/v1/ratings", rating, key)
    assert status == 201
    rating_id = json.loads(raw)["rating_id"]
    status, _kind, raw = call("POST", f"{live_url}/api/v1/ratings", rating)
    assert status == 409 and json.loads(raw)["error"] == "already_rated"
    status, _kind, raw = call("POST", f"{live_url}/api/v1/ratings", {"token": "x", "level": 5})
    assert status == 404 and json.loads(raw)["error"] == "unknown_token"

    status, _kind, raw = call("GET", session["rate_url"])
    assert status == 200 and "已评价".encode() in raw
    with app.app_context():
        stored = db.session.scalar(select(Rating).where(Rating.rating_id == rating_id))
        assert stored is not None
        assert (stored.channel, stored.level, stored.reasons) == ("counter", 2, "业务不熟")
