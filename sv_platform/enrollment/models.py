"""Offerings (what one enrols in), windows with cupos, and enrolments."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sv_platform.core.timeutil import UTCDateTime, as_utc, utcnow
from sv_platform.extensions import db

OFFERING_KINDS = ("course", "advisory")
STATUSES = ("active", "waitlisted", "cancelled", "graduated")
ADVISORY_OFFERINGS = {
    "legal": ("asesoria-legal", "Asesoría Legal Virtual"),
    "sustainability": ("asesoria-sustentabilidad", "Asesoría Virtual en Sustentabilidad"),
}


class Offering(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)

    windows: Mapped[list["EnrollmentWindow"]] = relationship(
        back_populates="offering", order_by="EnrollmentWindow.opens_at"
    )

    @property
    def is_course(self) -> bool:
        return self.kind == "course"


class EnrollmentWindow(db.Model):
    """A period with `capacity` cupos; `used` counts seats taken (active + graduated)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    region_code: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    offering: Mapped[Offering] = relationship(back_populates="windows")

    __table_args__ = (
        CheckConstraint("used >= 0 AND used <= capacity", name="seats_within_capacity"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
    )

    def is_open_at(self, now: datetime) -> bool:
        return as_utc(self.opens_at) <= as_utc(now) < as_utc(self.closes_at)

    @property
    def is_open(self) -> bool:
        return self.is_open_at(utcnow())

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.used, 0)

    @property
    def limit_reached(self) -> bool:
        return self.used >= self.capacity


class Enrollment(db.Model):
    """A user's seat (or waitlist place) in a window. `seq` orders arrivals."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("enrollment_window.id"))
    offering_id: Mapped[int] = mapped_column(ForeignKey("offering.id"))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    graduated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While active or waitlisted this equals offering_id; NULL otherwise. A unique index on
    # (user_id, open_slot) is the backstop for "one open enrolment per offering".
    open_slot: Mapped[int | None]

    # Not stored: the waitlist place it got when enroll() made it (None with a seat), for
    # the page that answers the enrolment without reading it again.
    arrival_position = None

    user = relationship("User")
    window: Mapped[EnrollmentWindow] = relationship()
    offering: Mapped[Offering] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "open_slot", name="uq_enrollment_user_open_slot"),
        Index("ix_enrollment_window_status", "window_id", "status", "id"),
        Index("ix_enrollment_offering_status", "offering_id", "status"),
    )

    @property
    def holds_seat(self) -> bool:
        return self.status in ("active", "graduated")
