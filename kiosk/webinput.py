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

# Endpoints that check their own input and answer in their own format: the terminal API
# (JSON), the phone page (its comment is refused in the citizen's words and the level
# buttons stay usable), and the clock screen and its feed, which read one or two parameters
# each checked against a strict pattern (JSON `invalid` naming the parameter).
_CHECKS_ITS_OWN = ("/api/", "/r/")
_CLOCK_PAGES = frozenset({"/clock", "/clock/events", "/clock/stream"})


def refuse_control_characters() -> None:
    """``before_request``: 400 when the path, a query parameter or a form field holds one."""
    if request.path.startswith(_CHECKS_ITS_OWN) or request.path in _CLOCK_PAGES:
        return
    texts = [request.path]
    for values in (request.args, request.form):
        for key, items in values.lists():
            texts.append(key)
            texts.extend(items)
    if any(control_character(text) for text in texts):
        abort(400, description=_("请求中含有控制字符（如 NUL），已拒绝。"))
