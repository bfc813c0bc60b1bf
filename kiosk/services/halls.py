"""Finding a hall: by its code, or the only hall in the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import Hall
from kiosk.services.errors import Invalid


class HallNotFound(Invalid):
    """No hall, or an ambiguous choice of hall (code ``not_found``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found")


def resolve_hall(session: Session, code: str | None) -> Hall:
    """The hall named by ``code``, or the only hall in the database."""
    if code:
        hall = session.scalar(select(Hall).where(Hall.code == code))
        if hall is None:
            known = ", ".join(session.scalars(select(Hall.code).order_by(Hall.code))) or "none"
            raise HallNotFound(f'unknown hall "{code}" (known halls: {known})')
        return hall
    halls = session.scalars(select(Hall).order_by(Hall.code)).all()
    if not halls:
        raise HallNotFound(
            "no hall yet: import one first with `flask --app kiosk import hall FILE`"
        )
    if len(halls) > 1:
        codes = ", ".join(h.code for h in halls)
        raise HallNotFound(f"several halls in this database ({codes}): name one with --hall CODE")
    return halls[0]
