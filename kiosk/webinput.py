"""Refusing hostile request input before any view sees it.

A NUL byte cannot be stored by PostgreSQL (it raises, so the page would answer 500), and no
control character belongs in a path, a query string or a form of this service; such a
request gets a 400 with a message. The terminal API (``/api/``) and the clock screen with its
feed (``/clock``, ``/clock/events``, ``/clock/stream``) check their input themselves and
answer in their own format.
"""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _

from kiosk.textlimits import control_character

# The clock screen and its feed read one or two parameters, each checked against a strict
# pattern, and answer a bad one in their own words (JSON for the feed); other parameters
# they never read.
CHECK_THEIR_OWN = frozenset({"/clock", "/clock/events", "/clock/stream"})


def refuse_control_characters() -> None:
    """``before_request``: 400 when the path, a query parameter or a form field holds one."""
    if request.path.startswith("/api/") or request.path in CHECK_THEIR_OWN:
        return
    texts = [request.path]
    for values in (request.args, request.form):
        for key, items in values.lists():
            texts.append(key)
            texts.extend(items)
    if any(control_character(text) for text in texts):
        abort(400, description=_("请求中含有控制字符（如 NUL），已拒绝。"))
