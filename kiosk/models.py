"""The hall's data model (SQLAlchemy 2.0, typed).

Every instant is stored as a *naive UTC* ``DateTime``: SQLite has no time zone
type, and one convention on both backends keeps set-based queries simple. The
service layer converts to the hall's local time (``Hall.timezone``) at the edges.
Dates (assignment ranges, duty days) are plain local ``Date`` values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kiosk.extensions import db
from kiosk.rules.codes import AbsenceKind, Channel, EventKind, PunchSource, Role, Verdict, values


def utcnow() -> dt.datetime:
    """The current instant as naive UTC, the storage convention of this model."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# The value sets live in kiosk.rules.codes; these tuples feed the CHECK constraints.
PUNCH_SOURCES = values(PunchSource)
RATING_CHANNELS = values(Channel)
REVIEW_VERDICTS = values(Verdict)
ABSENCE_KINDS = values(AbsenceKind)
EVENT_KINDS = values(EventKind)
USER_ROLES = values(Role)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression ``column = 'a' OR column = 'b' ...``.

    Written with OR rather than ``IN (...)``: SQLite evaluates an IN list through an
    ephemeral table on every row, which doubled the cost of a bulk punch insert.
    """
    return " OR ".join(f"{column} = '{value}'" for value in values)


class Hall(db.Model):
    """A service hall; ``settings`` holds schedules, attendance and rating options of hall.toml."""

    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # 行政区划代码 (GB/T 2260) of hall.toml's ``[hall] area_code``: the provincial push's
    # ``areaCode`` (SPEC 11). None when the file names none; such a hall is not pushed.
    area_code: Mapped[str | None] = mapped_column(String(6))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    units: Mapped[list[Unit]] = relationship(back_populates="hall", order_by="Unit.code")
    windows: Mapped[list[Window]] = relationship(back_populates="hall", order_by="Window.code")


class Unit(db.Model):
    """A government unit (进驻单位) with windows in the hall."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # 统一社会信用代码 (GB 32100) of hall.toml's ``org_code``; the push's ``deptCode``.
    org_code: Mapped[str | None] = mapped_column(String(18))

    hall: Mapped[Hall] = relationship(back_populates="units")
    windows: Mapped[list[Window]] = relationship(back_populates="unit", order_by="Window.code")


class Window(db.Model):
    """A counter (窗口) of a unit; ``handles_cases`` is false for consultation desks."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    handles_cases: Mapped[bool] = mapped_column(Boolean, default=True)

    hall: Mapped[Hall] = relationship(back_populates="windows")
    unit: Mapped[Unit] = relationship(back_populates="windows")


class Staff(db.Model):
    """A window staff member (窗口工作人员), known by ``staff_no`` within a hall."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("hall_id", "staff_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    staff_no: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    photo: Mapped[str | None] = mapped_column(String(300))

    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="staff", order_by="Assignment.start_date"
    )


class StaffPhoto(db.Model):
    """A staff member's photo for the counter's 亮牌 card and their page: a JPEG re-encoded
    and resized by the back office (never the file as uploaded), one per person."""

    __tablename__ = "staff_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Assignment(db.Model):
    """A dated assignment of a staff member to a window; both ends inclusive, no end = open."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("staff_id", "start_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)

    staff: Mapped[Staff] = relationship(back_populates="assignments")
    window: Mapped[Window] = relationship()


class Punch(db.Model):
    """A raw clock-in punch. Never edited nor deleted: a :class:`PunchVoid` voids it."""

    __tablename__ = "punches"
    __table_args__ = (
        UniqueConstraint("staff_id", "punched_at"),
        CheckConstraint(one_of("source", PUNCH_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    punched_at: Mapped[dt.datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16), default="import")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    staff: Mapped[Staff] = relationship()
    void: Mapped[PunchVoid | None] = relationship(back_populates="punch")


class PunchVoid(db.Model):
    """The voiding of a punch by a duty officer, with the reason (audited)."""

    __tablename__ = "punch_voids"

    id: Mapped[int] = mapped_column(primary_key=True)
    punch_id: Mapped[int] = mapped_column(ForeignKey("punches.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    voided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    voided_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    punch: Mapped[Punch] = relationship(back_populates="void")


class Absence(db.Model):
    """Approved leave (请假) or an out-of-office registration (外出登记), a closed interval."""

    __tablename__ = "absences"
    __table_args__ = (
        UniqueConstraint("staff_id", "kind", "start"),
        CheckConstraint(one_of("kind", ABSENCE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Withdrawal (撤销): the row is kept, marked, and no longer counts (issue 13).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    staff: Mapped[Staff] = relationship()
    withdrawer: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by])


class Event(db.Model):
    """A spot check, complaint or commendation with signed points and a veto flag."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("hall_id", "event_id"),
        CheckConstraint(one_of("kind", EVENT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    event_id: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(100))
    points: Mapped[float] = mapped_column(Float)
    veto: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Withdrawal (撤销): the row is kept, marked, and no longer counts (issue 13).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    withdrawn_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    staff: Mapped[Staff] = relationship()
    withdrawer: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by])


class Case(db.Model):
    """A case (办件) from the approval system; on time when ``completed_at <= due_at``."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("hall_id", "case_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    case_no: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    matter: Mapped[str | None] = mapped_column(String(200))
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    weight: Mapped[float | None] = mapped_column(Float)

    staff: Mapped[Staff] = relationship()


class Device(db.Model):
    """A fingerprint reader on a serial line, with the state its listener last reported."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    name: Mapped[str] = mapped_column(String(64), unique=True)
    port: Mapped[str] = mapped_column(String(300))
    baud: Mapped[int] = mapped_column(Integer, default=57600)
    address: Mapped[int] = mapped_column(BigInteger, default=0xFFFFFFFF)
    password: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    unrecognised_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Set by `devices remove --keep-punches`: the reader is gone, its punches keep pointing
    # here (punches are never edited). A retired reader is not polled nor listed.
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class DeviceTemplate(db.Model):
    """Maps a template page on a reader's flash to a staff member."""

    __tablename__ = "device_templates"
    __table_args__ = (UniqueConstraint("device_id", "page"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    page: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))

    staff: Mapped[Staff] = relationship()


DEVICE_JOB_STATES = ("pending", "running", "done", "failed", "cancelled")


class DeviceJob(db.Model):
    """A job for the running listener (issue 12). Kind ``enroll``: ``devices enroll`` writes it
    ``pending``, the listener (the port's one owner) claims it (``running``), reports its
    ``stage`` (press, lift, again; the clock screen words it) and ends it ``done`` with
    the ``page`` it stored and mapped, ``failed`` (``stage`` says why) or ``cancelled``.
    ``timeout`` is the seconds allowed for each press, and for a listener to claim it.
    Kinds ``copy`` and ``delete`` share a hall's templates (see ``source_device_id``); they
    wait as long as their readers are away, and never time out."""

    __tablename__ = "device_jobs"
    __table_args__ = (CheckConstraint(one_of("state", DEVICE_JOB_STATES), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(16), default="enroll")
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    stage: Mapped[str | None] = mapped_column(String(16))
    page: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    timeout: Mapped[float] = mapped_column(Float, default=30.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # A template job (kind ``copy``): the reader and page the template is read from; the
    # job's ``device`` is where it goes, ``page`` where it was stored. Kind ``delete``:
    # ``page`` is the page deleted on ``device``.
    source_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    source_page: Mapped[int | None] = mapped_column(Integer)

    staff: Mapped[Staff] = relationship()
    device: Mapped[Device] = relationship(foreign_keys=[device_id])
    source_device: Mapped[Device | None] = relationship(foreign_keys=[source_device_id])


class Terminal(db.Model):
    """A counter terminal (touch screen, evaluator pad) bound to a window; key stored hashed."""

    __tablename__ = "terminals"
    __table_args__ = (UniqueConstraint("hall_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"))
    name: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime)

    window: Mapped[Window] = relationship()


class ServiceSession(db.Model):
    """One service at a counter; the citizen rates it once via the counter or the QR token."""

    __tablename__ = "service_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    case_no: Mapped[str | None] = mapped_column(String(64))
    # Only the SHA-256 of the token is kept: a leaked database does not leak usable links.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # A keyed hash of the address the session was opened from (the terminal's), for the
    # fraud signals of SPEC 12; never the address itself.
    opened_from: Mapped[str | None] = mapped_column(String(16))

    staff: Mapped[Staff] = relationship()
    window: Mapped[Window] = relationship()


class Rating(db.Model):
    """A citizen's rating; levels 1–2 are bad reviews, handled as a work order on the same row."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("hall_id", "rating_id"),
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        Index("ix_ratings_hall_rated_at", "hall_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    rating_id: Mapped[str] = mapped_column(String(64))
    # Unique: the database itself guarantees one rating per service session.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("service_sessions.id"), unique=True)
    # No index of its own: nothing looks ratings up by staff (reads go by hall and time).
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    rated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    level: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8), default="other")
    case_no: Mapped[str | None] = mapped_column(String(64))
    reasons: Mapped[str | None] = mapped_column(Text)  # '|'-separated, as in the CSV
    comment: Mapped[str | None] = mapped_column(Text)
    misuse: Mapped[bool] = mapped_column(Boolean, default=False)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    review: Mapped[str | None] = mapped_column(String(16))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rectified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rectification_note: Mapped[str | None] = mapped_column(Text)
    # SPEC 11 整改: a rectification is closed with its cause and the action taken; a
    # citizen's follow-up that is still unhappy reopens it (rectified_at back to None).
    rectification_cause: Mapped[str | None] = mapped_column(Text)
    rectification_action: Mapped[str | None] = mapped_column(Text)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A keyed hash of the address the rating was posted from (a phone's, for a QR rating):
    # the fraud signals of SPEC 12 compare them; the address itself is not kept.
    client_tag: Mapped[str | None] = mapped_column(String(16))
    # Raised by kiosk.services.push.mark_changed whenever something the provincial push
    # sends changes after the rating was stored (a verdict, an appeal): a delivery of an
    # older version makes the rating pending again (SPEC 11). A new rating starts at 1.
    push_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    staff: Mapped[Staff] = relationship()


CALLBACK_OUTCOMES = ("reached", "unreached", "impossible")
APPEAL_DECISIONS = ("approved", "refused")


class RatingCallback(db.Model):
    """A callback (回访) to the citizen about a bad review (SPEC 11): when, who, the outcome
    (``reached``, ``unreached``, or ``impossible`` when there is no contact, with the reason
    in ``note``) and what was said. ``satisfied`` is the citizen's answer to a follow-up
    after the rectification (None when not asked); False reopens the rectification."""

    __tablename__ = "rating_callbacks"
    __table_args__ = (CheckConstraint(one_of("outcome", CALLBACK_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), index=True)
    called_at: Mapped[dt.datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    called_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RatingAppeal(db.Model):
    """The window unit's appeal (申诉) against an upheld bad review (SPEC 11); one per
    rating. ``decision`` is None while pending; ``approved`` made the review unfounded."""

    __tablename__ = "rating_appeals"
    __table_args__ = (
        CheckConstraint(
            "decision IS NULL OR " + one_of("decision", APPEAL_DECISIONS), name="decision"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    statement: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    filed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class User(UserMixin, db.Model):
    """A back-office user: admin, leader, duty officer or unit viewer."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # Part of the id in every session cookie; raised on sign-out and on a password change,
    # so each cookie issued before then stops opening the back office, on every device.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when an admin resets the password: every back-office page sends the user to
    # /admin/password until they choose their own.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        """Flask-Login's alternative id: ``<id>:<session_version>``."""
        return f"{self.id}:{self.session_version or 0}"


class DutyAssignment(db.Model):
    """The duty roster (带班表): which officer is on duty on which day."""

    __tablename__ = "duty_roster"
    __table_args__ = (UniqueConstraint("hall_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship()


class AuditEntry(db.Model):
    """Append-only audit log: who changed what, when, before and after, and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User | None] = relationship()


class PublishedPeriod(db.Model):
    """A frozen, published bimonthly result (通报); a correction is a new revision."""

    __tablename__ = "published_periods"
    __table_args__ = (UniqueConstraint("hall_id", "period", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    period: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    inputs_detail: Mapped[str | None] = mapped_column(Text)
    """JSON ``{kind: sha256}`` per input kind (hall, roster, punches, …); None before it was kept."""
    result_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class AlertAck(db.Model):
    """An officer's acknowledgement of an alert (SPEC 12), kept under the alert's identity.

    An alert is ``(code, subject, since)`` (see :mod:`kiosk.rules.alerts`); ``since`` is
    naive UTC like every stored instant. An acknowledged alert leaves the open list from
    ``acked_at`` on; the row is never deleted.
    """

    __tablename__ = "alert_acks"
    __table_args__ = (UniqueConstraint("hall_id", "code", "subject", "since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    code: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64), default="")
    since: Mapped[dt.datetime] = mapped_column(DateTime)
    comment: Mapped[str] = mapped_column(Text)
    acked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


PUSH_STATES = ("delivered", "rejected")


class PushDelivery(db.Model):
    """The outbox of the provincial push (SPEC 11): how the platform last answered for a
    rating, and at which ``version`` (the rating's ``push_version`` that was sent).

    A rating is pending when it has no row here, or its row's ``version`` is below the
    rating's ``push_version`` (it changed since). ``delivered`` means the platform accepted
    it (or already had it: a duplicate); ``rejected`` keeps the platform's ``reason`` until an
    officer resends it (the row is then removed, so the rating is pending again). A row is
    written only after the platform's answer, in the same transaction as nothing else.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (CheckConstraint(one_of("state", PUSH_STATES), name="state"),)

    rating_pk: Mapped[int] = mapped_column(
        ForeignKey("ratings.id"), primary_key=True, autoincrement=False
    )
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class PushStatus(db.Model):
    """Per hall, the push's last success and last error, for ``push status`` and the back
    office (times naive UTC)."""

    __tablename__ = "push_status"

    hall_id: Mapped[int] = mapped_column(
        ForeignKey("halls.id"), primary_key=True, autoincrement=False
    )
    last_success_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_success_count: Mapped[int | None] = mapped_column(Integer)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class PublishedFile(db.Model):
    """One input file of a publication's bundle (SPEC 13), frozen when it was published.

    ``hall.toml``, the six CSV files and ``rules.toml`` as they stood at publication, in
    their import format, compressed (zlib); ``sha256`` and ``size`` are of the file
    itself. Append-only like the publication: a later correction of the data never
    changes what an earlier revision's bundle holds.
    """

    __tablename__ = "published_files"
    __table_args__ = (UniqueConstraint("published_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    published_id: Mapped[int] = mapped_column(ForeignKey("published_periods.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


# Hot-path indexes, named explicitly so migrations match on both backends. Punches need
# none beyond their unique (staff_id, punched_at): period reads seek per staff member.
Index("ix_cases_staff_completed_at", Case.staff_id, Case.completed_at)
# The alerts (SPEC 12) read a hall's open cases and its bad reviews on every page's count.
Index("ix_cases_hall_completed_at", Case.hall_id, Case.completed_at)
Index("ix_ratings_hall_level", Rating.hall_id, Rating.level)

from kiosk.models_devices import DeviceEvent  # noqa: E402,F401  (reader events table)
from kiosk.models_rules import RuleAdoption, RuleFile  # noqa: E402,F401  (rule files)
