"""Consultas, their transitions, chat messages, read marks, notes, attachments and SLAs."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.extensions import db

AREAS = {"legal": "Legal", "sustainability": "Sustentabilidad"}
STATUSES = {
    "en_espera": "En lista de espera",
    "nueva": "Nueva",
    "asignada": "Asignada",
    "en_curso": "En curso",
    "esperando_emprendedor": "Esperando tu respuesta",
    "resuelta": "Resuelta",
    "cerrada": "Cerrada",
}
# How staff read the same states (the entrepreneur reads STATUSES).
STAFF_STATUSES = {**STATUSES, "esperando_emprendedor": "Esperando al emprendedor/a"}
OPEN_STATUSES = ("nueva", "asignada", "en_curso", "esperando_emprendedor")


class Consultation(db.Model):
    """A ticket of one entrepreneur in one area, tied to the enrolment that gave it a cupo."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    area: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)

    user = relationship("User", foreign_keys=[user_id])
    advisor = relationship("User", foreign_keys=[advisor_id])

    __table_args__ = (Index("ix_consultation_area_status", "area", "status"),)

    @property
    def area_label(self) -> str:
        return AREAS.get(self.area, self.area)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def staff_status_label(self) -> str:
        return STAFF_STATUSES.get(self.status, self.status)

    @property
    def is_closed(self) -> bool:
        return self.status == "cerrada"


class ConsultationEvent(db.Model):
    """One recorded transition: who (None = the system), when, from, to."""

    __tablename__ = "consultation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor = relationship("User")


class Message(db.Model):
    """One chat message. (consultation, author, client_msg_id) is unique: retries never
    duplicate."""

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    body: Mapped[str] = mapped_column(Text)
    client_msg_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author = relationship("User")
    attachments = relationship(
        "Attachment", lazy="selectin", order_by="Attachment.id", viewonly=True
    )

    __table_args__ = (
        UniqueConstraint(
            "consultation_id",
            "author_id",
            "client_msg_id",
            name="uq_message_consultation_author_client_msg",
        ),
        Index("ix_message_consultation_id_id", "consultation_id", "id"),
    )


class ReadMark(db.Model):
    """The last message id a participant has seen in a consulta."""

    __tablename__ = "consultation_read"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    last_read_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("consultation_id", "user_id", name="uq_consultation_read_pair"),
    )


class InternalNote(db.Model):
    """A note among advisors and admins; the entrepreneur never sees it."""

    __tablename__ = "consultation_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author = relationship("User")


class Attachment(db.Model):
    """A file uploaded with a consulta (`message_id` None) or with one of its chat messages,
    stored outside static/ under a random name."""

    __tablename__ = "consultation_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), index=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    original_name: Mapped[str] = mapped_column(String(200))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdvisorAvailability(db.Model):
    """Whether an advisor said they are attending the chat now ("Disponible"). A mark older
    than AVAILABILITY_HOURS, or ended by a logout, counts as not available."""

    __tablename__ = "advisor_availability"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    available: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ServiceLevel(db.Model):
    """Targets per area, in Chilean business days (set by admins)."""

    __tablename__ = "service_level"

    id: Mapped[int] = mapped_column(primary_key=True)
    area: Mapped[str] = mapped_column(String(20), unique=True)
    first_response_days: Mapped[int]
    resolution_days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
