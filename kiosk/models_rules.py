"""The rule files the back office uploads and adopts (SPEC 5.3, 10 ``/admin/rules``).

The rule file in force is stored in the database, so that every process that shares it
(the web workers, the API, the listener, the commands) uses the same one: the newest
row of ``rule_adoptions`` names it. Every uploaded file is kept byte for byte (its
sha256 is what results record), so a result of any earlier rule file can be re-checked;
adopting the same file again later is a new adoption row, and the history reads in
order. With no adoption at all, ``SCORING_RULES`` (or the shipped default) is in force.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kiosk.extensions import db


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class RuleFile(db.Model):
    """One uploaded rule file, checked by :func:`kiosk.rules.ruleset.parse_rules`."""

    __tablename__ = "rule_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str | None] = mapped_column(String(200))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RuleAdoption(db.Model):
    """A rule file put in force; the newest adoption is the rule file in force."""

    __tablename__ = "rule_adoptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_file_id: Mapped[int] = mapped_column(ForeignKey("rule_files.id"), index=True)
    adopted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    adopted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    rule_file: Mapped[RuleFile] = relationship()
