"""Endpoints of the terminal API (SPEC 9): sessions, QR codes, ratings and the OpenAPI document.

Terminals authenticate with ``Authorization: Bearer KEY``; the counter page's signed-in
session counts as the key (on a POST with its CSRF token in ``X-CSRFToken``, because a
cookie, unlike a bearer key, is sent by the browser on its own). The API itself is exempt
from form CSRF checks.

The views read the transport (headers, JSON bodies) and translate: the ratings service
decides what is refused and in which order, and a :class:`~kiosk.services.errors.Refused`
becomes SPEC 9's JSON error with the HTTP status of its code (:data:`HTTP_STATUS`, the
one table of them). The views commit what the service wrote.
"""

from __future__ import annotations

import io
import json
from typing import Any

import qrcode
from flask import Blueprint, Response, current_app, jsonify, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from limits import parse_many
from sqlalchemy import Connection
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from kiosk.api.openapi import openapi_document
from kiosk.bodysize import read_body
from kiosk.extensions import csrf, db
from kiosk.models import utcnow
from kiosk.services.driversql import statement_commits
from kiosk.services.errors import Refused
from kiosk.services.ratings import (
    COUNTER_SESSION_KEY,
    Credentials,
    RatingContent,
    RatingPost,
    TerminalIdentity,
    authenticate,
    client_tag,
    credentials_from_key,
    current_rating_limit,
    invalid,
    open_session,
    qr_token,
    submit_rating,
    unauthorized,
    unstorable,
)
from kiosk.services.rulefile import rules_in_force

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.record_once
def _check_config(state: BlueprintSetupState) -> None:
    """Refuse to start with a rating configuration that would fail on every request."""
    config = state.app.config
    limit = str(config["RATING_RATE_LIMIT"] or "0").strip()
    if limit != "0":
        try:
            parse_many(limit)
        except ValueError:
            raise ValueError(
                f"RATING_RATE_LIMIT = {limit!r} is not a rate limit such as '120 per minute' "
                "(or 0 to turn the limit off)"
            ) from None
    ttl = config["RATING_TOKEN_TTL"]
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError(f"RATING_TOKEN_TTL = {ttl!r} must be a positive number of seconds")


# The HTTP status of each refusal code (SPEC 9): the one place that knows them. A code
# missing here is a 400, as a refused request is; tests check that every code the
# ratings service and these views raise is listed.
HTTP_STATUS: dict[str, int] = {
    "invalid": 400,
    "unauthorized": 401,
    "wrong_terminal": 403,
    "not_found": 404,
    "unknown_token": 404,
    "already_rated": 409,
    "expired": 410,
    "too_many_requests": 429,
}


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> tuple[Response, int]:
    return jsonify({"error": exc.code, "message": exc.message}), HTTP_STATUS.get(exc.code, 400)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    # Keep every answer of the API JSON, also for a wrong method or an oversized body.
    status = exc.code or 500
    code = {
        404: "not_found",
        413: "too_large",
        429: "too_many_requests",
        500: "internal",
    }.get(status, "invalid")
    return jsonify({"error": code, "message": exc.description or exc.name}), status


@bp.errorhandler(Exception)
def _internal_error(exc: Exception) -> tuple[Response, int]:
    # A fault of the service (an exception no check expected) is 500 ``internal``, never
    # ``invalid``: the terminal may retry, and the log keeps the traceback.
    current_app.logger.exception("terminal API fault on %s %s", request.method, request.path)
    return jsonify(error="internal", message=_("服务内部错误，请稍后重试。")), 500


def request_credentials() -> Credentials | None:
    """The terminal credentials of this request: a bearer key or the counter page's session.

    Raises a 401 refusal for a malformed ``Authorization`` header, or for the page's
    session on a POST without its CSRF token; None when the request claims no terminal.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _sep, key = header.partition(" ")
        credentials = credentials_from_key(key) if scheme.lower() == "bearer" else None
        if credentials is None:
            raise unauthorized()
        return credentials
    key_id = session.get(COUNTER_SESSION_KEY)
    if key_id is None:
        return None
    # A state-changing call on the cookie needs the page's CSRF token; a GET (the QR image
    # in an <img>) cannot send one and changes nothing.
    if request.method != "GET" and current_app.config["WTF_CSRF_ENABLED"]:
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (ValidationError, CSRFError):
            raise unauthorized(_("页面已过期，请刷新后重试。")) from None
    return Credentials(str(key_id), None)


def request_terminal(conn: Connection) -> TerminalIdentity:
    """The terminal of this request; a 401 refusal without valid credentials."""
    credentials = request_credentials()
    terminal = authenticate(conn, credentials) if credentials is not None else None
    if terminal is None:
        raise unauthorized()
    return terminal


def _not_a_json_object() -> str:
    # Translated only when refused: a translation lookup on every rating POST costs a
    # tenth of the hot path (bench/rating_throughput.py).
    return _("请求体必须是 JSON 对象（Content-Type: application/json）。")


def _json_object(fields: frozenset[str]) -> dict[str, Any]:
    """The request's JSON object, with no field but ``fields``; a 400 refusal otherwise.

    Parsed here rather than with ``request.get_json``: a nesting thousands deep makes the
    JSON decoder raise RecursionError, which is a malformed body, not a fault.
    """
    if not request.is_json:
        raise invalid(_not_a_json_object())
    try:
        body = json.loads(read_body())
    except (ValueError, RecursionError):
        raise invalid(_not_a_json_object()) from None
    if not isinstance(body, dict):
        raise invalid(_not_a_json_object())
    unknown = sorted(str(name) for name in body if name not in fields)
    if unknown:
        raise invalid(
            _(
                "未知字段：%(names)s（可用字段：%(fields)s）。",
                names="、".join(unknown)[:200],
                fields="、".join(sorted(fields)),
            )
        )
    return body


def _text(value: str, name: str) -> str:
    if unstorable(value):
        raise invalid(_("字段 %(name)s 含有不允许的字符（如 NUL）。", name=name))
    return value


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(_("字段 %(name)s 必须是字符串。", name=name))
    return None if value is None else _text(value, name)


def rate_url(token: str) -> str:
    """The absolute phone-page URL of a token, on ``PUBLIC_BASE_URL`` or the request's host."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        return str(base).rstrip("/") + url_for("counter.rate", token=token)
    return url_for("counter.rate", token=token, _external=True)


_SESSION_FIELDS = frozenset({"staff_no", "case_no"})
_RATING_FIELDS = frozenset({"token", "level", "reasons", "comment"})


@bp.post("/sessions")
def create_session() -> tuple[Response, int]:
    """Open a service session at the terminal's window (201 with token and rate_url)."""
    with db.engine.connect() as conn:
        terminal = request_terminal(conn)
        body = _json_object(_SESSION_FIELDS)
        staff_no = body.get("staff_no")
        if not isinstance(staff_no, str):
            raise invalid(_("请填写工号（staff_no，字符串）。"))
        staff_no = _text(staff_no, "staff_no")
        case_no = _optional_text(body, "case_no")
        opened = open_session(
            conn,
            terminal,
            staff_no,
            case_no,
            ttl_seconds=int(current_app.config["RATING_TOKEN_TTL"]),
            secret_key=current_app.config["SECRET_KEY"],
            now=utcnow(),
            opened_from=client_tag(current_app.config["SECRET_KEY"], request.remote_addr),
        )
        conn.commit()
    return jsonify(
        session_id=opened.public_id,
        token=opened.token,
        rate_url=rate_url(opened.token),
        expires_at=opened.expires_at.isoformat(timespec="seconds"),
    ), 201


def qr_png(data: str) -> bytes:
    """A QR code PNG of ``data``, large enough to scan from a counter screen."""
    image = qrcode.make(data, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@bp.get("/sessions/<session_id>/qr.png")
def session_qr(session_id: str) -> Response:
    """The session's QR code encoding its rate_url; only for a terminal of the session's hall."""
    with db.engine.connect() as conn:
        terminal = request_terminal(conn)
        token = qr_token(
            conn, terminal, session_id, secret_key=current_app.config["SECRET_KEY"], now=utcnow()
        )
    response = Response(qr_png(rate_url(token)), mimetype="image/png")
    response.headers["Cache-Control"] = "no-store"
    return response


def _rating_body() -> RatingContent:
    """The fields of a rating post; a 400 refusal for a malformed body."""
    body = _json_object(_RATING_FIELDS)
    token, level = body.get("token"), body.get("level")
    if not isinstance(token, str) or not token:
        raise invalid(_("缺少评价凭证（token）。"))
    token = _text(token, "token")
    if not isinstance(level, int) or isinstance(level, bool):
        raise invalid(_("评价等级（level）必须是 1 到 5 之间的整数。"))
    reasons = body.get("reasons", [])
    if reasons is None:
        reasons = []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise invalid(_("差评原因（reasons）必须是字符串列表。"))
    return RatingContent(
        token, level, [_text(r, "reasons") for r in reasons], _optional_text(body, "comment")
    )


@bp.post("/ratings")
def create_rating() -> Response:
    """Rate a session: a counter rating with a terminal key, a QR rating without (201).

    Counted for the rate limit per terminal key (counter calls) or per client address
    (phone calls, and keys that fail); refused in SPEC 9's order, which the service keeps
    (:func:`~kiosk.services.ratings.submit_rating`): 401, malformed body, 403
    ``wrong_terminal``, 404, 409, 410, invalid content.
    """
    # The proxies resolved once: each use of one is a context look-up on the hot path.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    address = request.remote_addr
    post = RatingPost(
        content=_rating_body,
        credentials=request_credentials,
        client_address=address,
        client_tag=client_tag(app.config["SECRET_KEY"], address),
    )
    # Read before the connection is taken (see submit_rating).
    rules = rules_in_force()
    limit = current_rating_limit(app)
    # One row is written: the insert commits itself (see statement_commits).
    with db.engine.connect() as conn, statement_commits(conn):
        stored = submit_rating(conn, post, now=utcnow(), limit=limit, rules=rules)
        conn.commit()
    # The bytes jsonify would send ({"rating_id":"..."} and a newline), without its
    # provider's round of options on the hot path.
    body = json.dumps({"rating_id": stored.rating_id}, separators=(",", ":")) + "\n"
    return app.response_class(body, status=201, mimetype="application/json")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 document of this API."""
    return jsonify(openapi_document())
