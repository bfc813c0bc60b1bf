"""Hostile clients of the terminal API and the phone page (SPEC 4.2, 8, 9; issue 9).

Oversized bodies are refused unread (413), JSON that is not an object of the documented
fields is 400 ``invalid`` (never 500), a fault of the service is 500 ``internal``, a key
of another terminal is 403 ``wrong_terminal`` in SPEC 9's order, ratings of a terminal's
sessions cannot escape the misuse rule by leaving the key off, and the rate limit counts
per terminal key and per client address.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

import kiosk.services.ratings as ratings_service
from kiosk import create_app
from kiosk.bodysize import allow_body
from kiosk.extensions import db
from kiosk.models import Rating, utcnow
from tests.conftest import EXAMPLE_DIR, _base_config
from tests.ratings.conftest import Api, add_terminal, check_against_document, csrf_from, setup_hall
from tests.ratings.test_pages import sign_in_counter

MIB = 1024 * 1024


def rating_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Rating)) or 0


def misuse_flags(app: Flask) -> list[bool]:
    with app.app_context():
        return list(db.session.scalars(select(Rating.misuse).order_by(Rating.id)))


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the oversized body was read")


# --- request size (MAX_CONTENT_LENGTH) --------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/ratings", "/api/v1/sessions"])
def test_a_200_mb_body_is_413_json_and_never_read(api: Api, path: str) -> None:
    response = api.client.post(
        path,
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": str(200 * MIB)},
    )
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert "过大" in response.get_json()["message"]
    check_against_document("POST", path.removeprefix("/api/v1"), response)


def test_a_body_just_over_the_limit_is_413_and_at_it_is_judged(api: Api, app: Flask) -> None:
    token = api.session()["token"]
    body = json.dumps({"token": token, "level": 5, "comment": ""}).encode()
    at_limit = body[:-2] + b'"' + b" " * (MIB - len(body)) + b"}"
    assert len(at_limit) == MIB
    assert api.raw_rate(at_limit + b" ", "application/json").status_code == 413
    assert rating_count(app) == 0
    assert api.raw_rate(at_limit, "application/json").status_code == 201


def test_the_limit_is_the_setting(database_uri: str, tmp_path: Path) -> None:
    config = _base_config(database_uri, tmp_path)
    config["MAX_CONTENT_LENGTH"] = 100
    app = create_app(config)
    try:
        client = app.test_client()
        small = client.post("/api/v1/ratings", json={"token": "x", "level": 5})
        assert small.status_code == 404
        big = client.post("/api/v1/ratings", json={"token": "x" * 100, "level": 5})
        assert (big.status_code, big.get_json()["error"]) == (413, "too_large")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_body_without_length_is_cut_at_the_limit(api: Api) -> None:
    # A chunked body: no Content-Length, the server says the stream ends by itself.
    endless = io.BytesIO(b'{"token": "' + b"x" * (2 * MIB) + b'", "level": 5}')
    response = api.client.post(
        "/api/v1/ratings",
        content_type="application/json",
        environ_overrides={
            "wsgi.input": endless,
            "wsgi.input_terminated": True,
            "CONTENT_LENGTH": "",
        },
        headers={"Transfer-Encoding": "chunked"},
    )
    assert (response.status_code, response.get_json()["error"]) == (413, "too_large")
    # Werkzeug stopped reading just past the limit.
    assert endless.tell() <= MIB + 64 * 1024


@pytest.mark.parametrize("path", ["/counter/login", "/r/some-token", "/admin/login"])
def test_an_oversized_body_elsewhere_is_a_plain_413_before_any_form_parse(
    api: Api, path: str
) -> None:
    response = api.client.post(
        path,
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": str(200 * MIB)},
    )
    # Not the CSRF check's 400: the size is judged first, and the body is never read.
    assert response.status_code == 413
    assert response.mimetype == "text/plain"
    assert "请求内容过大" in response.get_data(as_text=True)
    english = api.client.post(
        path + "?lang=en",
        content_type="application/x-www-form-urlencoded",
        environ_overrides={"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": str(200 * MIB)},
    )
    assert "too large" in english.get_data(as_text=True)


def test_allow_body_raises_the_limit_for_one_view(database_uri: str, tmp_path: Path) -> None:
    config = _base_config(database_uri, tmp_path)
    config["UPLOAD_LIMIT_FOR_TEST"] = 3 * MIB
    app = create_app(config)

    @allow_body(2 * MIB)
    def fixed() -> str:
        return str(len(request.get_data()))

    @allow_body("UPLOAD_LIMIT_FOR_TEST")
    def from_config() -> str:
        return str(len(request.get_data()))

    app.add_url_rule("/test-upload/fixed", "test_fixed", fixed, methods=["POST"])
    app.add_url_rule("/test-upload/config", "test_config", from_config, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        client = app.test_client()
        ok = client.post("/test-upload/fixed", data=b"x" * (MIB + MIB // 2))
        assert (ok.status_code, ok.get_data(as_text=True)) == (200, str(MIB + MIB // 2))
        assert client.post("/test-upload/fixed", data=b"x" * (2 * MIB + 1)).status_code == 413
        upload = client.post("/test-upload/config", data=b"y" * 3 * MIB)
        assert (upload.status_code, upload.get_data(as_text=True)) == (200, str(3 * MIB))
        assert client.post("/test-upload/config", data=b"y" * (3 * MIB + 1)).status_code == 413
        # Every other view keeps MAX_CONTENT_LENGTH.
        other = client.post("/api/v1/ratings", data=b"x" * (MIB + 1), content_type="text/plain")
        assert other.status_code == 413
    finally:
        with app.app_context():
            db.engine.dispose()


# --- JSON that is not an object of the documented fields --------------------------------

DEEP_ARRAY = b"[" * 10000 + b"]" * 10000
DEEP_OBJECT = b'{"token":' * 10000 + b"1" + b"}" * 10000
NOT_OBJECTS = [
    b"[]",
    b'"token"',
    b"5",
    b"null",
    b"true",
    b"",
    b"\xff\xfe{}",
    DEEP_ARRAY,
    DEEP_OBJECT,
    b'{"token": ' + DEEP_ARRAY + b', "level": 5}',
]


@pytest.mark.parametrize("raw", NOT_OBJECTS, ids=lambda raw: repr(raw[:12]))
@pytest.mark.parametrize("path", ["/api/v1/ratings", "/api/v1/sessions"])
def test_json_that_is_no_object_is_400_invalid(api: Api, path: str, raw: bytes) -> None:
    response = api.client.post(
        path,
        data=raw,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid"
    check_against_document("POST", path.removeprefix("/api/v1"), response)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"token": "T", "level": 5, "stars": 5}', "stars"),
        (b'{"token": "T", "level": 5, "channel": "counter"}', "channel"),
        (b'{"token": "T", "level": 5, "misuse": false}', "misuse"),
        (b'{"token": {"a": 1}, "level": 5}', "token"),
        (b'{"token": "T", "level": [5]}', "level"),
        (b'{"token": "T", "level": 5.0}', "level"),
        (b'{"token": "T", "level": NaN}', "level"),
        (b'{"token": "T", "level": 1e400}', "level"),
        (b'{"token": "T", "level": ' + b"1" * 5000 + b"}", "JSON"),
        (b'{"token": "T", "level": 1, "reasons": [["x"]]}', "reasons"),
        (b'{"token": "T", "level": 1, "reasons": {"0": "x"}}', "reasons"),
        (b'{"token": "T", "level": 5, "comment": ["x"]}', "comment"),
        (b'{"token": "T\\u0000", "level": 5}', "token"),
        (b'{"token": "\\ud800", "level": 5}', "token"),
        (b'{"token": "T", "level": 5, "comment": "a\\u0000b"}', "comment"),
        (b'{"token": "T", "level": 5, "comment": "\\udfff"}', "comment"),
        (b'{"token": "T", "level": 1, "reasons": ["\\u0000"]}', "reasons"),
    ],
)
def test_wrong_fields_of_a_rating_are_400_invalid(api: Api, raw: bytes, words: str) -> None:
    response = api.raw_rate(raw, "application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert words in response.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"staff_no": "S001", "window": "W02"}, "window"),
        ({"staff_no": "S001\u0000"}, "staff_no"),
        ({"staff_no": "\ud800"}, "staff_no"),
        ({"staff_no": "S001", "case_no": "C\u0000"}, "case_no"),
        ({"staff_no": ["S001"]}, "staff_no"),
    ],
)
def test_wrong_fields_of_a_session_are_400_invalid(api: Api, body: Any, words: str) -> None:
    raw = json.dumps(body).encode()  # ensure_ascii keeps the lone surrogate as an escape
    response = api.open(body=None, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid"
    assert words in response.get_json()["message"]


def test_a_nul_in_the_phone_comment_is_refused_kindly(api: Api, app: Flask) -> None:
    session = api.session()
    path = f"/r/{session['token']}"
    token = csrf_from(api.client.get(path).get_data(as_text=True))
    response = api.client.post(
        path,
        data={
            "level": "1",
            "step": "reasons",
            "reasons": "其他",
            "comment": "a\x00b",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400 and "无法保存" in response.get_data(as_text=True)
    assert rating_count(app) == 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "token": JSON_VALUES,
        "level": JSON_VALUES,
        "reasons": JSON_VALUES,
        "comment": JSON_VALUES,
    },
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=JSON_VALUES | FIELDS)
def test_no_json_body_makes_a_500(api: Api, body: Any) -> None:
    response = api.raw_rate(json.dumps(body).encode(), "application/json")
    assert response.status_code in {400, 404}, (body, response.get_json())


# --- a fault of the service ---------------------------------------------------------------


def test_a_fault_of_the_service_is_500_internal_never_invalid(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = api.session()["token"]

    def database_away(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(ratings_service, "load_rating_context", database_away)
    response = api.rate({"token": token, "level": 5}, key=api.key)
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal"
    assert "database is locked" in caplog.text  # the log has the cause, the answer does not
    assert "locked" not in response.get_json()["message"]
    monkeypatch.undo()
    assert api.rate({"token": token, "level": 5}, key=api.key).status_code == 201


# --- another terminal's key (403 wrong_terminal) ------------------------------------------


def other_hall_key(runner: FlaskCliRunner, tmp_path: Path) -> str:
    """A terminal key of a second hall, XT."""
    other = (EXAMPLE_DIR / "hall.toml").read_text("utf-8").replace('code = "QJ"', 'code = "XT"', 1)
    (tmp_path / "xt.toml").write_text(other, "utf-8")
    assert runner.invoke(args=["import", "hall", str(tmp_path / "xt.toml")]).exit_code == 0
    result = runner.invoke(args=["terminals", "add", "XT柜台", "--window", "W01", "--hall", "XT"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_another_terminals_key_is_403_wrong_terminal(
    api: Api, app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    session = api.session()
    other_window = add_terminal(runner, "柜台2", "W02")
    same_window = add_terminal(runner, "柜台1b", "W01")
    other_hall = other_hall_key(runner, tmp_path)
    for key in (other_window, same_window, other_hall):
        response = api.rate({"token": session["token"], "level": 5}, key=key)
        assert response.status_code == 403
        assert response.get_json()["error"] == "wrong_terminal"
    assert rating_count(app) == 0
    # The refusal changed nothing: the terminal that opened the session rates it.
    response = api.rate({"token": session["token"], "level": 5}, key=api.key)
    assert response.status_code == 201
    with app.app_context():
        rating = db.session.scalars(select(Rating)).one()
        assert rating.channel == "counter"


def test_wrong_terminal_comes_after_401_and_the_body_and_before_404(
    api: Api, runner: FlaskCliRunner, expire: Callable[[str], None]
) -> None:
    other = add_terminal(runner, "柜台2", "W02")
    wrong_secret = other[:-2] + ("xx" if not other.endswith("xx") else "yy")
    rated, old, live = api.session(), api.session(), api.session()
    assert api.rate({"token": rated["token"], "level": 5}).status_code == 201
    expire(old["session_id"])
    # 401 first, then a malformed body.
    assert api.rate({"token": live["token"], "level": 5}, key=wrong_secret).status_code == 401
    assert api.rate({"token": live["token"], "level": "5"}, key=other).status_code == 400
    # 403 beats already rated, expired and invalid content ...
    for body in (
        {"token": rated["token"], "level": 5},
        {"token": old["token"], "level": 5},
        {"token": live["token"], "level": 9},
        {"token": live["token"], "level": 1},
    ):
        response = api.rate(body, key=other)
        assert (response.status_code, response.get_json()["error"]) == (403, "wrong_terminal")
    # ... and an unknown token has no terminal to be wrong about: 404.
    assert api.rate({"token": "unknown", "level": 5}, key=other).status_code == 404
    # Without a key it is a QR rating, which anyone holding the token may give.
    assert api.rate({"token": live["token"], "level": 5}).status_code == 201


def test_the_counter_page_of_another_terminal_is_403(
    api: Api, app: Flask, runner: FlaskCliRunner
) -> None:
    other = add_terminal(runner, "柜台2", "W02")
    session = api.session()
    client = app.test_client()
    csrf = sign_in_counter(client, other)
    response = client.post(
        "/api/v1/ratings",
        json={"token": session["token"], "level": 5},
        headers={"X-CSRFToken": csrf},
    )
    assert (response.status_code, response.get_json()["error"]) == (403, "wrong_terminal")


# --- misuse across a terminal's sessions (SPEC 4.2 as amended) ---------------------------


def test_twenty_self_ratings_by_token_without_key_are_misuse(api: Api, app: Flask) -> None:
    for _ in range(20):
        token = api.session()["token"]  # the terminal gets the token back ...
        assert api.rate({"token": token, "level": 5}).status_code == 201  # ... and posts it
    flags = misuse_flags(app)
    assert flags == [False] + [True] * 19
    with app.app_context():
        assert set(db.session.scalars(select(Rating.channel))) == {"qr"}


def test_misuse_counts_both_channels_of_one_terminals_sessions_only(
    api: Api, app: Flask, runner: FlaskCliRunner
) -> None:
    other = add_terminal(runner, "柜台2", "W02")
    assert api.rate({"token": api.session()["token"], "level": 5}).status_code == 201  # QR
    # The other terminal's sessions have a clock of their own, either channel.
    assert (
        api.rate({"token": api.open(key=other).get_json()["token"], "level": 4}).status_code == 201
    )
    assert api.rate({"token": api.session()["token"], "level": 5}, key=api.key).status_code == 201
    assert misuse_flags(app) == [False, False, True]
    # Older than ten seconds does not count.
    with app.app_context():
        db.session.execute(update(Rating).values(rated_at=utcnow() - dt.timedelta(seconds=10)))
        db.session.commit()
    assert api.rate({"token": api.session()["token"], "level": 5}).status_code == 201
    assert misuse_flags(app)[-1] is False


# --- the rate limit per terminal key and per client address -------------------------------


def limited_app(database_uri: str, tmp_path: Path, limit: str) -> Flask:
    config = _base_config(database_uri, tmp_path)
    config["RATING_RATE_LIMIT"] = limit
    return create_app(config)


def test_each_terminal_key_has_its_own_budget_behind_one_address(
    database_uri: str, tmp_path: Path
) -> None:
    app = limited_app(database_uri, tmp_path, "3 per hour")
    try:
        runner = app.test_cli_runner()
        setup_hall(runner)
        first = Api(app.test_client(), add_terminal(runner))
        second_key = add_terminal(runner, "柜台2", "W02")
        tokens = [first.session()["token"] for _ in range(5)]
        others = [first.open(key=second_key).get_json()["token"] for _ in range(3)]
        # Every pad is behind one NAT address (127.0.0.1): each key has 3 per hour.
        assert [
            first.rate({"token": t, "level": 5}, key=first.key).status_code for t in tokens[:4]
        ] == [
            201,
            201,
            201,
            429,
        ]
        assert [
            first.rate({"token": t, "level": 5}, key=second_key).status_code for t in others
        ] == [201] * 3
        # The key's budget follows the key, not the address.
        elsewhere = first.rate(
            {"token": tokens[4], "level": 5},
            key=first.key,
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        )
        assert elsewhere.status_code == 429
        # Phone calls from that address have a budget of their own.
        assert first.rate({"token": tokens[4], "level": 5}).status_code == 201
    finally:
        with app.app_context():
            db.engine.dispose()


def test_keys_that_fail_are_counted_on_the_address(database_uri: str, tmp_path: Path) -> None:
    app = limited_app(database_uri, tmp_path, "5 per hour")
    try:
        setup_hall(app.test_cli_runner())
        api = Api(app.test_client(), add_terminal(app.test_cli_runner()))
        statuses = [
            api.rate({"token": "x", "level": 5}, key=f"kt_{n:016x}.guess").status_code
            for n in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        # A valid key from that address is still served: it counts on itself.
        assert api.rate({"token": "x", "level": 5}, key=api.key).status_code == 404
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_storage_uri_that_is_no_storage_stops_the_app(database_uri: str, tmp_path: Path) -> None:
    config = _base_config(database_uri, tmp_path)
    config["RATELIMIT_STORAGE_URI"] = "postgres://nowhere"
    with pytest.raises(ValueError, match="RATELIMIT_STORAGE_URI"):
        create_app(config)
