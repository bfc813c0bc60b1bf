"""The terminal API of SPEC 9: every status code, the error precedence, and what a refusal leaves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from openapi_spec_validator import validate
from sqlalchemy import func, select, update

import kiosk.services.ratings as ratings_service
from kiosk import create_app
from kiosk.api.openapi import openapi_document
from kiosk.api.views import qr_png
from kiosk.extensions import db
from kiosk.models import Rating, ServiceSession, Terminal
from tests.conftest import _base_config
from tests.ratings.conftest import SEEN, Api, add_terminal, check_against_document, hall_app

BAD = {"level": 1, "reasons": ["态度不好"]}


def rating_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Rating)) or 0


def stored(app: Flask, rating_id: str) -> Rating:
    with app.app_context():
        rating = db.session.scalar(select(Rating).where(Rating.rating_id == rating_id))
        assert rating is not None
        db.session.expunge(rating)
        return rating


# --- OpenAPI -------------------------------------------------------------------------


def test_openapi_document_is_valid_and_served(api: Api) -> None:
    response = api.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document == openapi_document()
    assert set(document["paths"]) == {
        "/sessions",
        "/sessions/{session_id}/qr.png",
        "/ratings",
        "/openapi.json",
    }


# --- POST /sessions ------------------------------------------------------------------


def test_open_session_201(api: Api, app: Flask) -> None:
    response = api.open("S002", "CASE-1")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"session_id", "token", "rate_url", "expires_at"}
    assert body["rate_url"] == f"http://localhost/r/{body['token']}"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == dt.timedelta(hours=8)
    now = dt.datetime.now(dt.UTC)
    assert abs((expires - now) - dt.timedelta(seconds=259200)) < dt.timedelta(seconds=30)
    with app.app_context():
        row = db.session.scalar(
            select(ServiceSession).where(ServiceSession.public_id == body["session_id"])
        )
        assert row is not None
        assert row.case_no == "CASE-1" and row.staff.staff_no == "S002"
        # Only the hash of the token is stored, and nothing about the citizen.
        assert row.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()
        assert body["token"] not in (row.public_id, row.token_hash)


def test_rate_url_uses_public_base_url(api: Api, app: Flask) -> None:
    app.config["PUBLIC_BASE_URL"] = "https://pj.example.gov.cn/"
    body = api.session()
    assert body["rate_url"] == f"https://pj.example.gov.cn/r/{body['token']}"


def test_token_ttl_comes_from_config(api: Api, app: Flask) -> None:
    app.config["RATING_TOKEN_TTL"] = 600
    expires = dt.datetime.fromisoformat(api.session()["expires_at"])
    assert expires - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=601)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer kt_nope"},
    ],
)
def test_open_session_401(api: Api, headers: dict[str, str]) -> None:
    response = api.client.post("/api/v1/sessions", json={"staff_no": "S001"}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_wrong_secret_and_revoked_key_are_401(api: Api, runner: FlaskCliRunner) -> None:
    key_id, _secret = api.key[3:].split(".")
    forged = f"kt_{key_id}.{'A' * 43}"
    assert api.open(key=forged).status_code == 401
    assert api.open().status_code == 201
    assert runner.invoke(args=["terminals", "revoke", "柜台1"]).exit_code == 0
    response = api.open()
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([1, 2], "JSON"),
        ({}, "staff_no"),
        ({"staff_no": 7}, "staff_no"),
        ({"staff_no": "S001", "case_no": 5}, "case_no"),
        ({"staff_no": "S999"}, "S999"),
        ({"staff_no": "   "}, "工号"),
        ({"staff_no": "S001", "case_no": "X" * 65}, "64"),
    ],
)
def test_open_session_400(api: Api, app: Flask, body: Any, words: str) -> None:
    response = api.open(body=body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert words in response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServiceSession)) == 0


def test_open_session_not_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/api/v1/sessions",
        data="staff_no=S001",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"


def test_staff_of_another_hall_is_unknown(api: Api, runner: FlaskCliRunner, tmp_path: Path) -> None:
    other = (Path(__file__).parents[1] / "data" / "small" / "hall.toml").read_text("utf-8")
    other = other.replace('code = "QJ"', 'code = "XT"', 1)
    (tmp_path / "xt.toml").write_text(other, "utf-8")
    assert runner.invoke(args=["import", "hall", str(tmp_path / "xt.toml")]).exit_code == 0
    (tmp_path / "r.csv").write_text(
        "staff_no,name,window_code,start_date\nX001,外人,W01,2020-01-01\n", "utf-8"
    )
    result = runner.invoke(args=["import", "roster", str(tmp_path / "r.csv"), "--hall", "XT"])
    assert result.exit_code == 0, result.output
    response = api.open("X001")
    assert response.status_code == 400
    assert "X001" in response.get_json()["message"]


# --- GET /sessions/{id}/qr.png --------------------------------------------------------


def test_qr_png(api: Api) -> None:
    body = api.session()
    response = api.qr(body["session_id"])
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    # The same picture as a QR code of the rate_url handed out when the session opened.
    assert response.data == qr_png(body["rate_url"])
    assert response.headers["Cache-Control"] == "no-store"


def test_qr_png_after_a_secret_key_change_is_410(api: Api, app: Flask) -> None:
    body = api.session()
    app.config["SECRET_KEY"] = "rotated"
    response = api.qr(body["session_id"])
    assert (response.status_code, response.get_json()["error"]) == (410, "expired")


def test_qr_png_errors(api: Api, runner: FlaskCliRunner, expire: Callable[[str], None]) -> None:
    body = api.session()
    assert api.qr(body["session_id"], key=None).status_code == 401
    assert api.qr("no-such-session").status_code == 404
    assert api.qr("no-such-session").get_json()["error"] == "not_found"
    assert api.rate({"token": body["token"], "level": 5}).status_code == 201
    response = api.qr(body["session_id"])
    assert (response.status_code, response.get_json()["error"]) == (409, "already_rated")
    other = api.session()
    expire(other["session_id"])
    response = api.qr(other["session_id"])
    assert (response.status_code, response.get_json()["error"]) == (410, "expired")


# --- POST /ratings ---------------------------------------------------------------------


def test_counter_rating_201(api: Api, app: Flask, runner: FlaskCliRunner) -> None:
    session = api.session("S002", "C-77")
    response = api.rate({"token": session["token"], "level": 4, "comment": " 很好 "}, key=api.key)
    assert response.status_code == 201
    rating_id = response.get_json()["rating_id"]
    assert rating_id.startswith("QJ-")
    rating = stored(app, rating_id)
    assert (rating.channel, rating.level, rating.case_no, rating.comment) == (
        "counter",
        4,
        "C-77",
        "很好",
    )
    assert rating.terminal_id is not None and rating.misuse is False and rating.reasons is None
    # The id is the one `export ratings` shows.
    exported = runner.invoke(args=["export", "ratings"])
    assert exported.exit_code == 0
    assert f"{rating_id}," in exported.output


def test_qr_rating_201_with_reasons(api: Api, app: Flask) -> None:
    session = api.session()
    body = {"token": session["token"], "level": 2, "reasons": ["效率低", "态度不好", "效率低"]}
    response = api.rate(body)
    assert response.status_code == 201
    rating = stored(app, response.get_json()["rating_id"])
    assert (rating.channel, rating.terminal_id, rating.misuse) == ("qr", None, False)
    assert rating.reasons == "效率低|态度不好"


def test_rating_ids_are_unique_and_readable(api: Api) -> None:
    ids = {
        api.rate({"token": api.session()["token"], "level": 5}).get_json()["rating_id"]
        for _ in range(8)
    }
    assert len(ids) == 8
    for rating_id in ids:
        hall, day, tail = rating_id.split("-")
        assert hall == "QJ" and len(day) == 8 and len(tail) == 6
        assert not set(tail) & set("01OIL")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "JSON"),
        ("5", "JSON"),
        ({"level": 5}, "token"),
        ({"token": "", "level": 5}, "token"),
        ({"token": 12, "level": 5}, "token"),
        ({"token": "T"}, "level"),
        ({"token": "T", "level": "5"}, "level"),
        ({"token": "T", "level": 4.5}, "level"),
        ({"token": "T", "level": True}, "level"),
        ({"token": "T", "level": 1, "reasons": "态度不好"}, "reasons"),
        ({"token": "T", "level": 1, "reasons": [3]}, "reasons"),
        ({"token": "T", "level": 5, "comment": 3}, "comment"),
    ],
)
def test_malformed_body_is_400_even_with_an_unknown_token(api: Api, body: Any, words: str) -> None:
    # "T" is no token: a malformed body wins over the unknown token (SPEC 9 order).
    response = api.rate(body)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert words in response.get_json()["message"]


def test_non_json_body_is_400(api: Api) -> None:
    assert api.raw_rate(b"token=x&level=5", "application/x-www-form-urlencoded").status_code == 400
    assert api.raw_rate(b"{not json", "application/json").status_code == 400


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"level": 0}, "1 到 5"),
        ({"level": 6}, "1 到 5"),
        ({"level": 1}, "原因"),
        ({"level": 2, "reasons": []}, "原因"),
        ({"level": 1, "reasons": None}, "原因"),
        ({"level": 1, "reasons": ["太慢了"]}, "太慢了"),
        ({"level": 2, "reasons": ["态度不好", "不在列表"]}, "不在列表"),
        ({"level": 4, "reasons": ["态度不好"]}, "差评"),
        ({"level": 5, "comment": "好" * 501}, "500"),
    ],
)
def test_invalid_content_is_400_and_changes_nothing(
    api: Api, app: Flask, extra: dict[str, Any], words: str
) -> None:
    session = api.session()
    response = api.rate({"token": session["token"], **extra})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert words in response.get_json()["message"]
    assert rating_count(app) == 0
    # The token stays usable after a refusal.
    assert api.rate({"token": session["token"], **BAD}).status_code == 201


def test_unknown_token_404(api: Api) -> None:
    session = api.session()
    for token in ("forged", session["token"][:-1] + ("A" if session["token"][-1] != "A" else "B")):
        response = api.rate({"token": token, "level": 5})
        assert response.status_code == 404
        assert response.get_json()["error"] == "unknown_token"


def test_wrong_key_on_rating_is_401_and_changes_nothing(api: Api, app: Flask) -> None:
    session = api.session()
    response = api.rate({"token": session["token"], "level": 5}, key="kt_0000000000000000.x")
    assert response.status_code == 401
    assert rating_count(app) == 0
    assert api.rate({"token": session["token"], "level": 5}).status_code == 201


def test_wrong_key_beats_every_other_refusal(api: Api, expire: Callable[[str], None]) -> None:
    wrong = "kt_0000000000000000.nope"
    revoked_like = api.key[:-2] + ("xx" if not api.key.endswith("xx") else "yy")
    rated = api.session()
    assert api.rate({"token": rated["token"], "level": 5}).status_code == 201
    for key in (wrong, revoked_like):
        assert api.rate({"token": "unknown", "level": 5}, key=key).status_code == 401
        assert api.rate({"token": "unknown", "level": "x"}, key=key).status_code == 401
        assert api.rate({"token": rated["token"], "level": 5}, key=key).status_code == 401
    # With the right key the usual order applies.
    assert api.rate({"token": "unknown", "level": 5}, key=api.key).status_code == 404
    assert api.rate({"token": "unknown", "level": "x"}, key=api.key).status_code == 400
    assert api.rate({"token": rated["token"], "level": 5}, key=api.key).status_code == 409


def test_second_rating_409(api: Api, app: Flask) -> None:
    session = api.session()
    assert api.rate({"token": session["token"], "level": 5}).status_code == 201
    response = api.rate({"token": session["token"], "level": 1, "reasons": ["其他"]}, key=api.key)
    assert response.status_code == 409
    assert response.get_json()["error"] == "already_rated"
    assert rating_count(app) == 1


def test_expired_410_and_token_untouched(
    api: Api, app: Flask, expire: Callable[[str], None]
) -> None:
    session = api.session()
    expire(session["session_id"])
    response = api.rate({"token": session["token"], "level": 5})
    assert response.status_code == 410
    assert response.get_json()["error"] == "expired"
    assert rating_count(app) == 0


def test_precedence_order(api: Api, app: Flask, expire: Callable[[str], None]) -> None:
    """malformed body → unknown token → already rated → expired → invalid content."""
    invalid_content = {"level": 9}
    # malformed beats unknown token
    assert api.rate({"token": "nope", "level": "x"}).status_code == 400
    # unknown token beats invalid content
    assert api.rate({"token": "nope", **invalid_content}).status_code == 404
    # already rated beats expired and invalid content
    rated = api.session()
    assert api.rate({"token": rated["token"], "level": 5}).status_code == 201
    expire(rated["session_id"])
    assert api.rate({"token": rated["token"], **invalid_content}).status_code == 409
    # expired beats invalid content
    old = api.session()
    expire(old["session_id"])
    assert api.rate({"token": old["token"], **invalid_content}).status_code == 410
    # ... and malformed still beats everything for a rated, expired token
    assert api.rate({"token": rated["token"], "level": [5]}).status_code == 400
    assert rating_count(app) == 1


def test_concurrent_second_rating_is_409_by_the_unique_constraint(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = api.session()
    assert api.rate({"token": session["token"], "level": 5}).status_code == 201
    real = ratings_service.load_rating_context

    def stale(conn: Any, token: str, key_id: str | None, *rest: Any) -> Any:
        # What a request that read the session just before the other one committed sees.
        context = real(conn, token, key_id, *rest)
        info = dataclasses.replace(context.info, rated=False)
        return dataclasses.replace(context, info=info)

    monkeypatch.setattr(ratings_service, "load_rating_context", stale)
    response = api.rate({"token": session["token"], "level": 3}, key=api.key)
    assert response.status_code == 409
    assert response.get_json()["error"] == "already_rated"
    assert rating_count(app) == 1


def test_misuse_flag(api: Api, app: Flask, runner: FlaskCliRunner) -> None:
    first = api.rate({"token": api.session()["token"], "level": 5}, key=api.key).get_json()
    second = api.rate({"token": api.session()["token"], "level": 5}, key=api.key).get_json()
    assert stored(app, first["rating_id"]).misuse is False
    assert stored(app, second["rating_id"]).misuse is True  # kept, flagged
    # A QR rating of a session of the same terminal counts too (SPEC 4.2 as amended).
    qr = api.rate({"token": api.session()["token"], "level": 5}).get_json()
    assert stored(app, qr["rating_id"]).misuse is True
    # Ten seconds after the previous rating it is fine again.
    with app.app_context():
        for rating in db.session.scalars(select(Rating)):
            rating.rated_at -= dt.timedelta(seconds=10)
        db.session.commit()
    third = api.rate({"token": api.session()["token"], "level": 5}, key=api.key).get_json()
    assert stored(app, third["rating_id"]).misuse is False
    # Another terminal, with sessions of its own, has its own clock.
    other_key = add_terminal(runner, "柜台2", "W02")
    other = api.open(key=other_key).get_json()
    fourth = api.rate({"token": other["token"], "level": 5}, key=other_key).get_json()
    assert stored(app, fourth["rating_id"]).misuse is False


def test_key_is_stored_hashed(api: Api, app: Flask) -> None:
    key_id, secret = api.key[3:].split(".")
    with app.app_context():
        terminal = db.session.scalar(select(Terminal).where(Terminal.key_id == key_id))
        assert terminal is not None
        assert terminal.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in terminal.key_hash


# --- rate limit ----------------------------------------------------------------------


def test_rate_limit_429_per_client_address(database_uri: str, tmp_path: Path) -> None:
    # No CSRF: the phone form below is posted without a page.
    limited = {"RATING_RATE_LIMIT": "3 per minute", "WTF_CSRF_ENABLED": False}
    with hall_app(database_uri, tmp_path, **limited) as (app, api):
        tokens = [api.session()["token"] for _ in range(3)]
        assert api.rate({"token": tokens[0], "level": 5}).status_code == 201
        assert api.rate({"token": "unknown", "level": 5}).status_code == 404
        assert api.rate({"token": tokens[1], "level": 5}).status_code == 201
        response = api.rate({"token": tokens[2], "level": 5})
        assert response.status_code == 429
        assert response.get_json()["error"] == "too_many_requests"
        # The refused request changed nothing: the token still works from another address.
        other = api.rate({"token": tokens[2], "level": 5}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 201
        # Sessions are not rate-limited.
        assert api.open().status_code == 201
        # The phone page's posts share the count and say so kindly.
        phone = api.client.post(f"/r/{api.session()['token']}", data={"level": "5"})
        assert phone.status_code == 429 and "提交太频繁" in phone.get_data(as_text=True)


def test_rate_limit_zero_is_off(api: Api) -> None:
    for _ in range(30):
        assert api.rate({"token": "unknown", "level": 5}).status_code == 404


# --- the document covers exactly what the endpoints answer ------------------------------


def test_every_documented_answer_happens(
    database_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive each documented (method, path, status) once; each answer matches its schema."""
    with hall_app(database_uri, tmp_path, RATING_RATE_LIMIT="6 per minute") as (app, api):
        other_key = add_terminal(app.test_cli_runner(), "柜台2", "W02")
        too_large = b'{"staff_no": "' + b"x" * (1024 * 1024) + b'"}'
        SEEN.clear()
        check_against_document("GET", "/openapi.json", api.client.get("/api/v1/openapi.json"))
        api.open(body={})  # 400
        api.open(key=None)  # 401
        api.open(data=too_large, content_type="application/json", body=None)  # 413
        live, used, old = api.session(), api.session(), api.session()
        with app.app_context():
            db.session.execute(
                update(ServiceSession)
                .where(ServiceSession.public_id == old["session_id"])
                .values(expires_at=ServiceSession.opened_at)
            )
            db.session.commit()
        api.qr(live["session_id"])  # 200
        api.qr(live["session_id"], key=None)  # 401
        api.qr("missing")  # 404
        api.qr(old["session_id"])  # 410
        # Six rating posts without a valid key fill this address's limit; the seventh is
        # refused. Calls with a valid key count on that key instead.
        api.rate({"token": used["token"], "level": 5})  # 201
        api.qr(used["session_id"])  # 409
        api.rate({"token": used["token"], "level": 5})  # 409
        api.rate({})  # 400
        api.rate({"token": live["token"], "level": 5}, key="kt_bad")  # 401
        api.rate({"token": live["token"], "level": 5}, key=other_key)  # 403
        api.rate({"token": "missing", "level": 5})  # 404
        api.rate({"token": old["token"], "level": 5})  # 410
        api.raw_rate(too_large, "application/json")  # 413
        api.rate({"token": live["token"], "level": 5})  # 429

        # A fault of the service is 500 internal on each endpoint that does work.
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("a fault of the service")

        for name in ("open_session", "qr_png", "submit_rating"):
            monkeypatch.setattr(f"kiosk.api.views.{name}", broken)
        api.open()  # 500
        api.qr(live["session_id"])  # 500
        api.rate({"token": live["token"], "level": 5}, key=api.key)  # 500
    documented = {
        (method.upper(), path, status)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        for status in operation["responses"]
    }
    assert documented == SEEN


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("RATING_RATE_LIMIT", "lots", "RATING_RATE_LIMIT"),
        ("RATING_TOKEN_TTL", 0, "RATING_TOKEN_TTL"),
        ("RATING_TOKEN_TTL", "72h", "RATING_TOKEN_TTL"),
    ],
)
def test_bad_rating_config_stops_the_app(
    database_uri: str, tmp_path: Path, key: str, value: object, words: str
) -> None:
    config = _base_config(database_uri, tmp_path)
    config[key] = value
    with pytest.raises(ValueError, match=words):
        create_app(config)
