"""The back office (后台管理) at ``/admin``: duty officers, leadership, admins and unit viewers.

``bp`` is the one blueprint of the back office. View modules attach their routes to it
by being imported here (``bp`` itself lives in :mod:`admin.blueprint`); every view checks its role on the server
with :func:`admin.auth.roles_required` (``admin`` may open everything).

Pages and who may open them (``tests/admin/test_role_table.py`` holds the one table every
URL rule is tested against):

* ``/admin/today`` today's hall (duty officers, leaders read), ``/admin/corrections``:
  duty officers (带班人员);
* the growing lists ``/admin/punches``, ``/admin/absences``, ``/admin/events``,
  ``/admin/ratings``, ``/admin/workorders``: duty officers, leaders and unit viewers read
  (unit viewers their own unit only), duty officers change (paged, filtered and exported
  through :mod:`admin.lists` and :mod:`kiosk.services.listing`);
* ``/admin/password``: everyone signed in changes their own password;
* ``/admin/roster`` the duty roster: duty officers and leaders read, admins edit;
* ``/admin/periods`` published notices (unit viewers: their own unit only), with
  ``/admin/periods/review`` and ``/admin/periods/publish`` for leaders;
* ``/admin/reports/weekly`` (duty, leader, unit) and ``/admin/reports/appraisal``
  (leader, unit);
* ``/admin/audit``: admins and leaders; ``/admin/users``: admins;
* ``/admin/workorders``: the bad-review work orders (:mod:`admin.workorders`);
* ``/admin/imports`` uploads (admins every kind, duty officers punches, absences, events,
  cases), ``/admin/terminals`` and ``/admin/devices`` (admins), ``/admin/rules`` the rule
  file in force (leaders and admins);
* ``/admin/reports/monthly``: the monthly attendance sheet (:mod:`admin.insight_views`);
* ``/admin/alerts``: the open alerts, acknowledged by duty officers (:mod:`admin.alert_views`);
* ``/admin/push``: the provincial push (:mod:`admin.push_views`): duty officers resend,
  leaders read;
* ``/admin/units``, ``/admin/windows``, ``/admin/hall`` (:mod:`admin.setup_views`) and
  ``/admin/staff`` (:mod:`admin.staff_views`): the hall's set-up, admins change, others read.
"""

from __future__ import annotations

# Imported for their side effect of registering routes on ``bp``.
from admin import (  # noqa: F401
    alert_views,
    audit_views,
    auth,
    device_views,
    duty,
    entries,
    import_views,
    insight_views,
    lists,
    period_views,
    push_views,
    report_views,
    rule_views,
    setup_views,
    staff_views,
    terminal_views,
    user_views,
    views,
    workorders,
)
from admin.blueprint import bp

__all__ = ["bp"]
