"""People, their company, in-app notifications and the admin audit log."""

from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.extensions import db

SPECIALTIES = ("legal", "sustainability")
SEXES = {
    "femenino": "Femenino",
    "masculino": "Masculino",
    "otro": "Otro",
    "no_informa": "Prefiero no informar",
}
EDUCATION_LEVELS = {
    "basica": "Educación básica",
    "media": "Educación media",
    "tecnica": "Técnico de nivel superior",
    "universitaria": "Universitaria",
    "postgrado": "Postgrado",
    "sin_estudios": "Sin estudios formales",
}
SECTORS = {
    "comercio": "Comercio al por mayor y menor",
    "alimentos": "Elaboración de alimentos y bebidas",
    "gastronomia": "Restaurantes y gastronomía",
    "turismo": "Turismo y alojamiento",
    "agricultura": "Agricultura, ganadería y pesca",
    "manufactura": "Manufactura y artesanía",
    "construccion": "Construcción",
    "transporte": "Transporte y logística",
    "servicios_profesionales": "Servicios profesionales y técnicos",
    "tecnologia": "Tecnología e información",
    "salud_belleza": "Salud, belleza y bienestar",
    "educacion": "Educación y capacitación",
    "otro": "Otra actividad",
}
COMPANY_SIZES = {"micro": "Microempresa", "pequena": "Pequeña empresa"}


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    rut: Mapped[str | None] = mapped_column(String(12), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="entrepreneur")
    specialty: Mapped[str | None] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(String(2))
    comuna_code: Mapped[str | None] = mapped_column(String(5))
    sex: Mapped[str | None] = mapped_column(String(20))
    birth_date: Mapped[date | None]
    education_level: Mapped[str | None] = mapped_column(String(20))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_version: Mapped[str | None] = mapped_column(String(20))
    session_version: Mapped[int] = mapped_column(default=1)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the current email was confirmed through its link (None: not confirmed yet).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    company: Mapped["Company | None"] = relationship(
        back_populates="user", uselist=False, cascade="all, delete-orphan"
    )

    # The admin's people list filters on these and pages by id (newest first).
    __table_args__ = (
        Index("ix_user_role_id", "role", "id"),
        Index("ix_user_region_code_id", "region_code", "id"),
        Index("ix_user_comuna_code_id", "comuna_code", "id"),
        Index("ix_user_sex_id", "sex", "id"),
        Index("ix_user_created_at_id", "created_at", "id"),
    )

    def get_id(self) -> str:
        """Session id carries the version, so bumping it ends every old session."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.active and self.deleted_at is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_advisor(self) -> bool:
        return self.role == "advisor"

    @property
    def is_entrepreneur(self) -> bool:
        return self.role == "entrepreneur"

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]

    @property
    def profile_complete(self) -> bool:
        """Everything the program needs to count a beneficiary is filled in."""
        return all(
            [
                self.rut,
                self.email,
                self.name,
                self.phone,
                self.region_code,
                self.comuna_code,
                self.sex,
                self.birth_date,
                self.education_level,
                self.consent_at,
            ]
        )


class Company(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    rut: Mapped[str | None] = mapped_column(String(12))
    legal_name: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(40))
    region_code: Mapped[str | None] = mapped_column(String(2))
    comuna_code: Mapped[str | None] = mapped_column(String(5))
    started_on: Mapped[date | None]
    size: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(back_populates="company")


class ConsentEvent(db.Model):
    """One step of a person's consent history: given (with the policy version) or withdrawn."""

    __tablename__ = "consent_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # "given" | "withdrawn"
    version: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Notification(db.Model):
    """An in-app notice for one user (promotion from a waitlist, a new chat message...)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)


class AuditEntry(db.Model):
    """Who changed what, when, before → after (every admin change)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.current_timestamp()
    )
    note: Mapped[str | None] = mapped_column(Text)
    # The person the entry is about (an account changed or viewed, an enrolment removed).
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    __table_args__ = (
        Index("ix_audit_entry_actor_id_id", "actor_id", "id"),
        Index("ix_audit_entry_action_id", "action", "id"),
        Index("ix_audit_entry_target", "target_type", "target_id", "id"),
        Index("ix_audit_entry_subject_id_id", "subject_id", "id"),
        Index("ix_audit_entry_created_at", "created_at"),
    )


# Search keys compare byte by byte on every database (prefix ranges must not depend on the
# server's collation).
SEARCH_KEY = String(140).with_variant(String(140, collation="C"), "postgresql")


class PersonKey(db.Model):
    """One search key of a person: `n:` a word of their name or their company's razón
    social, `e:` their email, `r:` the digits of their RUT or their company's. Maintained by
    accounts.people on every flush; prefix searches are index range scans."""

    __tablename__ = "person_key"

    key: Mapped[str] = mapped_column(SEARCH_KEY, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True, index=True)
