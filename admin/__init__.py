"""The back office (后台管理) at ``/admin``: duty officers, leadership, admins and unit viewers.

``bp`` is the one blueprint of the back office. View modules attach their routes to it
by being imported here (``bp`` itself lives in :mod:`admin.blueprint`); every view checks its role on the server
with :func:`admin.auth.roles_required` (``admin`` may open everything).

Pages and who may open them:

* ``/admin/today`` today's hall, ``/admin/corrections``, ``/admin/absences``,
  ``/admin/events``: duty officers (带班人员);
* ``/admin/roster`` the duty roster: duty officers and leaders read, admins edit;
* ``/admin/periods`` published notices (unit viewers: their own unit only), with
  ``/admin/periods/review`` and ``/admin/periods/publish`` for leaders;
* ``/admin/reports/weekly`` (duty, leader, unit) and ``/admin/reports/appraisal``
  (leader, unit);
* ``/admin/audit`` and ``/admin/users``: admins;
* ``/admin/workorders``: the bad-review work orders (:mod:`admin.workorders`);
* ``/admin/units``, ``/admin/windows``, ``/admin/hall`` (:mod:`admin.setup_views`) and
  ``/admin/staff`` (:mod:`admin.staff_views`): the hall's set-up, admins change, others read.
"""

from __future__ import annotations

# Imported for their side effect of registering routes on ``bp``.
from admin import (  # noqa: F401
    audit_views,
    auth,
    duty,
    entries,
    period_views,
    report_views,
    setup_views,
    staff_views,
    user_views,
    views,
    workorders,
)
from admin.blueprint import bp

__all__ = ["bp"]
