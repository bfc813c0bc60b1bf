"""The back office (后台管理) at ``/admin``: duty officers, leadership, admins and unit viewers.

``bp`` is the one blueprint of the back office. View modules attach their routes to it
by being imported at the bottom of this file; every view checks its role on the server
with :func:`admin.auth.roles_required`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Imported for their side effect of registering routes on ``bp`` (kept after ``bp`` exists).
from admin import (  # noqa: E402, F401
    audit_views,
    auth,
    duty,
    entries,
    period_views,
    report_views,
    user_views,
    views,
    workorders,
)
