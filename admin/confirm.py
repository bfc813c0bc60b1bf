"""A confirmation step the server enforces before an action that is hard to take back
(publishing a notice, voiding a punch, recording a veto, deactivating a user).

The first POST of such a form, once it is valid, changes nothing: it answers with a page
that says what is about to happen and repeats the submitted fields as hidden inputs with
``confirmed=1`` added. Only that second POST acts. Being plain HTML it works without
JavaScript, on the evaluator pad as on a desk, and a script or a stale page that posts
without the field cannot act by accident.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue

CONFIRM_FIELD = "confirmed"


def confirmed() -> bool:
    """Whether this POST is the confirmed second step."""
    return request.form.get(CONFIRM_FIELD) == "1"


def confirm_page(
    *,
    title: str,
    message: str,
    details: list[str],
    confirm_label: str,
    cancel_url: str,
    handover: dict[str, Any] | None = None,
) -> ResponseReturnValue:
    """The page that asks; it re-posts every submitted field to the same URL.

    ``handover`` (``{"officers": [(id, name), ...]}``) adds the question of a duty
    officer's deactivation: what becomes of their future roster days (``act-days``:
    keep, clear or hand, and ``act-to_user``).
    """
    asked = {"act-days", "act-to_user"} if handover else set()
    fields = [
        (k, v) for k, v in request.form.items(multi=True) if k != CONFIRM_FIELD and k not in asked
    ]
    return render_template(
        "admin/confirm.html",
        title=title,
        message=message,
        details=details,
        confirm_label=confirm_label,
        action=request.full_path.rstrip("?"),
        fields=fields,
        cancel_url=cancel_url,
        confirm_field=CONFIRM_FIELD,
        handover=handover,
    )
