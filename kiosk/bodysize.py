"""The request-size limit (SPEC 8, 9): a body over ``MAX_CONTENT_LENGTH`` is refused unread.

Every request's declared ``Content-Length`` is compared with the limit before any view,
CSRF check or form parser runs, so an oversized body is never read, let alone parsed; a
body without a length (chunked) is cut by Werkzeug's limited stream at the same limit.
The refusal is 413: JSON ``{"error": "too_large"}`` under ``/api/``, a short plain text
message elsewhere.

A view that takes larger uploads (a back-office import) raises the limit for itself::

    @bp.post("/imports")
    @allow_body("IMPORT_MAX_CONTENT_LENGTH")   # a config key, or a number of bytes
    def upload() -> ...

The mark is read before the CSRF check parses the form, which is why it is a decorator
and not an assignment to ``request.max_content_length`` inside the view (too late then).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

F = TypeVar("F", bound=Callable[..., Any])

# The attribute a view carries when it allows more than MAX_CONTENT_LENGTH.
_MARK = "kiosk_max_content_length"


def allow_body(limit: int | str) -> Callable[[F], F]:
    """Let one view accept bodies up to ``limit`` bytes (or the config key named ``limit``)."""

    def mark(view: F) -> F:
        setattr(view, _MARK, limit)
        return view

    return mark


def _view_limit(app: Flask, endpoint: str | None) -> int | None:
    """The view's own limit, if it has one (``None``: ``MAX_CONTENT_LENGTH`` applies)."""
    view = app.view_functions.get(endpoint or "")
    own = getattr(view, _MARK, None)
    if isinstance(own, str):
        own = app.config[own]
    return None if own is None else int(own)


def refuse_oversized_body() -> None:
    """Before every request: refuse a declared body over the limit without reading it."""
    # The proxies resolved once: this runs before every request, the rating POST included.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    req = request._get_current_object()  # type: ignore[attr-defined]
    own = _view_limit(app, req.endpoint)
    if own is not None:
        # The view's limit also governs Werkzeug's own reads (form parsing, get_data).
        req.max_content_length = own
        limit: int | None = own
    else:
        limit = app.config["MAX_CONTENT_LENGTH"]
    length = req.content_length
    if limit is not None and length is not None and length > limit:
        raise RequestEntityTooLarge()


def read_body() -> bytes:
    """The request body, never more than the limit; 413 when a body without a declared
    length (chunked) goes past it.

    Werkzeug stops such a stream at the limit without saying whether more was sent; one
    more byte read from the server's stream tells.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]
    limit = req.max_content_length
    length = req.content_length
    if length is not None and (limit is None or length <= limit) and "stream" not in vars(req):
        # A declared length within the limit and a stream nobody has read yet: exactly
        # that many bytes, as Werkzeug's wrapper would read them, without building the
        # wrapper (the rating POST's hot path).
        return bytes(req.environ["wsgi.input"].read(length))
    data = req.get_data(cache=False)
    at_limit = limit is not None and len(data) >= limit
    # The server's own stream, not Werkzeug's wrapper, which would refuse any read here.
    if at_limit and req.content_length is None and req.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data


def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int] | tuple[str, int, dict[str, str]]:
    """The 413 answer: JSON ``too_large`` on the API, plain text elsewhere."""
    limit = request.max_content_length
    message = _(
        "请求内容过大（上限 %(n)s 字节），未予处理。", n=limit if limit is not None else "?"
    )
    if request.path.startswith("/api/"):
        return jsonify(error="too_large", message=message), 413
    return message + "\n", 413, {"Content-Type": "text/plain; charset=utf-8"}


def init_app(app: Flask) -> None:
    """Install the check ahead of every other before-request function (CSRF included)."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_oversized_body)
    app.register_error_handler(RequestEntityTooLarge, too_large)
