"""Translatable messages of the service layer, usable with or without a request.

Services raise errors with messages for people. In a web request they are translated
to the visitor's language; from the command line, a worker or a test without a request
(where the locale selector has no request to read) the Chinese source text is used.
"""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext


def _(text: str, **params: Any) -> str:
    """``gettext`` in a request; the formatted Chinese source text anywhere else."""
    if has_request_context():
        return str(gettext(text, **params))
    return text % params if params else text


def language() -> str:
    """The visitor's language (``zh`` or ``en``) in a request; ``zh`` anywhere else."""
    if has_request_context():
        locale = get_locale()
        return locale.language if locale is not None else "zh"
    return "zh"
