"""The mail outbox, per-kind preferences, account tokens and SLA warnings already sent."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.extensions import db

MAIL_STATUSES = {
    "pending": "Pendiente",
    "sending": "Enviándose",
    "sent": "Enviado",
    "failed": "Fallido",
}


class OutboxMail(db.Model):
    """One email, written in the transaction of the event that causes it.

    The sender claims due rows (`pending`, or `sending` whose lease ran out), delivers them
    and marks them `sent`, or schedules a retry, or marks them `failed` with the server's
    answer. `group_key` lets a later event of the same kind update a mail not sent yet
    (a digest, the 15-minute summary of a chat)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str | None] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    unsubscribe_url: Mapped[str | None] = mapped_column(String(500))
    group_key: Mapped[str | None] = mapped_column(String(120))
    context: Mapped[dict | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_outbox_mail_due", "status", "next_attempt_at"),
        Index("ix_outbox_mail_group", "group_key", "status"),
    )

    @property
    def status_label(self) -> str:
        return MAIL_STATUSES.get(self.status, self.status)


class MailPreference(db.Model):
    """A person's choice for one kind of email: off, or (new consultas) a digest."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(default=True)
    digest_minutes: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_mail_preference_user_kind"),)


class AccountToken(db.Model):
    """A password-recovery or email-confirmation link: only its SHA-256 is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SlaWarning(db.Model):
    """A deadline warning already sent (so the job warns once per consulta, target, stage)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"))
    target: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "consultation_id", "target", "stage", name="uq_sla_warning_consultation_target"
        ),
    )
