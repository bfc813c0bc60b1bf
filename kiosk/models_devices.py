"""Tables of the fingerprint-reader side (issue 4), kept apart from ``kiosk.models``.

``DeviceEvent`` is the live feed of the clock-in screen: the listener (its own process)
writes one row per recognition, a punch or a "not recognised", and the web process polls
the rows by increasing id.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kiosk.extensions import db

DEVICE_EVENT_KINDS = ("punch", "unmapped", "no_match")


class DeviceEvent(db.Model):
    """One finger press a reader acted on.

    ``kind`` is ``punch`` (stored as ``punch_id``), ``unmapped`` (the module matched
    ``page`` but no staff member is mapped to it) or ``no_match`` (the module found no
    template). ``at`` is the host's time of the search reply, naive UTC.
    """

    __tablename__ = "device_events"
    __table_args__ = (CheckConstraint("kind IN ('punch', 'unmapped', 'no_match')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))
    page: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    punch_id: Mapped[int | None] = mapped_column(ForeignKey("punches.id"))
    # The listener journal's id of the press (issue 12): unique, so that replaying the
    # journal after a crash stores each press once. None for events of older listeners.
    press_id: Mapped[str | None] = mapped_column(String(32), unique=True)


Index("ix_device_events_at", DeviceEvent.at)


class DeviceSeen(db.Model):
    """A stretch of time in which the listener kept seeing a reader (SPEC 12 ``reader_offline``).

    The listener reports a live reader every few seconds; each report extends the reader's
    latest span when it comes at most :data:`SEEN_GAP_SECONDS` after the span's end, and
    starts a new one otherwise. So "when was the reader last seen, as of instant T" is a
    question of the data alone, for any T: the latest span end before T, or T itself
    inside a span. Instants are naive UTC.
    """

    __tablename__ = "device_seen"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime)


SEEN_GAP_SECONDS = 60
"""Two reports further apart than this are two spans (the listener reports every 5 s)."""

Index("ix_device_seen_device_last", DeviceSeen.device_id, DeviceSeen.last_seen)
