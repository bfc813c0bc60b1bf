"""The ratings service decides the refusal order and leaves the commit to its caller.

The API's answers to the same cases are in test_api.py and test_hostile.py; these tests
call the service as the views do, with the transport's readers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Rating, ServiceSession, utcnow
from kiosk.services.errors import RatingRefused
from kiosk.services.ratings import (
    Credentials,
    RatingContent,
    RatingPost,
    authenticate,
    credentials_from_key,
    invalid,
    open_session,
    submit_rating,
    unauthorized,
)
from tests.ratings.conftest import Api


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def refused_code(app: Flask, post: RatingPost) -> str:
    with (
        app.test_request_context(),
        db.engine.connect() as conn,
        pytest.raises(RatingRefused) as refused,
    ):
        submit_rating(conn, post, now=utcnow())
    return refused.value.code


def malformed() -> RatingContent:
    raise invalid("请求体必须是 JSON 对象。")


def test_a_rating_is_kept_only_when_the_caller_commits(api: Api, app: Flask) -> None:
    token = api.session()["token"]
    post = RatingPost(content=lambda: RatingContent(token, 5))
    with app.test_request_context(), db.engine.connect() as conn:
        stored = submit_rating(conn, post, now=utcnow())
        assert stored.rating_id.startswith("QJ-")
        conn.rollback()
    assert count(app, Rating) == 0
    with app.test_request_context(), db.engine.connect() as conn:
        submit_rating(conn, post, now=utcnow())
        conn.commit()
    assert count(app, Rating) == 1


def test_a_session_is_kept_only_when_the_caller_commits(api: Api, app: Flask) -> None:
    before = count(app, ServiceSession)
    credentials = credentials_from_key(api.key)
    assert credentials is not None
    with app.test_request_context(), db.engine.connect() as conn:
        terminal = authenticate(conn, credentials)
        assert terminal is not None
        open_session(conn, terminal, "S001", None, ttl_seconds=60, secret_key="k", now=utcnow())
        conn.rollback()
    assert count(app, ServiceSession) == before


def test_a_wrong_key_is_refused_before_a_malformed_body(api: Api, app: Flask) -> None:
    wrong = Credentials("0" * 16, "not-the-secret")
    assert refused_code(app, RatingPost(content=malformed, credentials=lambda: wrong)) == (
        "unauthorized"
    )
    right = credentials_from_key(api.key)
    assert refused_code(app, RatingPost(content=malformed, credentials=lambda: right)) == (
        "invalid"
    )


def test_a_malformed_key_is_refused_before_the_body_is_read(api: Api, app: Flask) -> None:
    read: list[str] = []

    def body() -> RatingContent:
        read.append("body")
        return RatingContent("token", 5)

    def bad_header() -> Credentials | None:
        raise unauthorized()

    assert refused_code(app, RatingPost(content=body, credentials=bad_header)) == "unauthorized"
    assert read == []


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (lambda token: RatingContent("no-such-token", 5), "unknown_token"),
        (lambda token: RatingContent(token, 9), "invalid"),
        (lambda token: RatingContent(token, 1), "invalid"),  # a bad review without a reason
    ],
)
def test_the_service_names_the_refusal_by_its_code(
    api: Api, app: Flask, content: Callable[[str], RatingContent], code: str
) -> None:
    token = api.session()["token"]
    assert refused_code(app, RatingPost(content=lambda: content(token))) == code
    assert count(app, Rating) == 0


def test_the_api_answers_an_unlisted_code_as_400(app: Flask) -> None:
    from kiosk.api.views import _refused

    with app.test_request_context():
        response, status = _refused(RatingRefused("something_new", "新的拒绝"))
    assert status == 400
    assert response.get_json() == {"error": "something_new", "message": "新的拒绝"}
