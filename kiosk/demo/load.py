"""Loading the demo hall into the database: through the ordinary import (SPEC section 6).

The files are written into ``instance/demo/`` and imported, so the demo exercises the
same checks as a real migration; then the demo users, the duty roster and the published
previous period are added.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from kiosk.demo.hall import DEMO_HALL, DEMO_PASSWORD, DEMO_USERS, generate
from kiosk.extensions import db
from kiosk.interchange import import_file
from kiosk.localtime import hall_zone
from kiosk.models import Hall, User
from kiosk.services.accounts import create_user


def load_demo(now: dt.datetime | None = None, seed: int = 2026) -> list[str]:
    """Write the demo files to ``instance/demo/`` and import them; returns the summaries.

    A hall that is already loaded is left as it is (the generator's output depends on
    the day it runs, so loading again on another day would mix two different demos).
    """
    if db.session.scalar(select(Hall).where(Hall.code == DEMO_HALL)) is not None:
        return [f"demo hall {DEMO_HALL} is already loaded; nothing changed"]
    zone = hall_zone("Asia/Shanghai")
    local_now = (now or dt.datetime.now(zone)).astimezone(zone).replace(tzinfo=None)
    files = generate(local_now, seed)
    folder = Path(current_app.instance_path) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    summaries = []
    for kind in ("hall", "roster", "punches", "ratings", "cases", "absences", "events"):
        name = "hall.toml" if kind == "hall" else f"{kind}.csv"
        (folder / name).write_text(files[kind], encoding="utf-8")
        report = import_file(
            db.session, kind, files[kind].encode("utf-8"), DEMO_HALL, source_name=f"demo/{name}"
        )
        summaries.append(report.summary())
    hall = db.session.scalar(select(Hall).where(Hall.code == DEMO_HALL))
    assert hall is not None
    for username, display, role, unit_code in DEMO_USERS:
        if db.session.scalar(select(User).where(User.username == username)) is None:
            create_user(
                db.session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                hall=hall,
                unit_code=unit_code,
                display_name=display,
            )
    db.session.commit()
    _fill_duty_roster(hall, local_now.date())
    summaries.append(_publish_previous_period(hall))
    return summaries


def _fill_duty_roster(hall: Hall, today: dt.date) -> None:
    """The duty roster (带班表): the two demo officers take turns, a week either side of today."""
    from kiosk.models import DutyAssignment

    officers = db.session.scalars(
        select(User).where(User.username.in_(("duty", "duty2"))).order_by(User.username)
    ).all()
    for offset in range(-7, 15):
        day = today + dt.timedelta(days=offset)
        db.session.add(
            DutyAssignment(hall_id=hall.id, day=day, user_id=officers[day.toordinal() % 2].id)
        )
    db.session.commit()


def _publish_previous_period(hall: Hall) -> str:
    """Publish the last complete period as the demo leader, so the public display has results."""
    from kiosk.services import publishing
    from kiosk.services.rulefile import rules_in_force

    leader = db.session.scalar(select(User).where(User.username == "leader"))
    assert leader is not None
    rules = rules_in_force(current_app.config)
    code = publishing.default_period(hall)
    as_of = dt.datetime.now(dt.UTC).replace(microsecond=0)
    computation = publishing.compute(db.session, hall, publishing.parse_period(code), as_of, rules)
    row = publishing.publish(
        db.session,
        hall,
        period_code=code,
        as_of=as_of,
        reviewed_inputs_sha256=computation.inputs_sha256,
        reason=None,
        user_id=leader.id,
        rules=rules,
    )
    db.session.commit()
    return f"published {row.period} (revision {row.revision}) as the demo leader"
