"""Advisor availability, as in a help desk: each advisor says "Disponible" or "No
disponible"; a mark lasts one working day (AVAILABILITY_HOURS) and ends with the advisor's
sessions (logout, password change, disabled account), so a forgotten mark never promises a
live answer. Entrepreneurs see whether someone of the area is attending now and, when
nobody is, that they will be told by email instead of waiting on the page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from sv_platform.accounts.models import User
from sv_platform.accounts.signals import sessions_ending
from sv_platform.advisory.models import AdvisorAvailability, Consultation
from sv_platform.core.domain import NotAllowed
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.extensions import db

AVAILABILITY_HOURS = 10


def _fresh(now: datetime):
    return AdvisorAvailability.updated_at >= as_utc(now) - timedelta(hours=AVAILABILITY_HOURS)


def set_available(user, available: bool, *, now: datetime | None = None) -> bool:
    """An advisor marks themselves available or not. Returns the new state.
    Raises NotAllowed (only advisors attend a queue)."""
    if user is None or user.role != "advisor":
        raise NotAllowed("Solo las personas asesoras marcan su disponibilidad.")
    now = now or utcnow()
    row = db.session.get(AdvisorAvailability, user.id)
    if row is None:
        row = AdvisorAvailability(user_id=user.id)
        db.session.add(row)
    row.available, row.updated_at = bool(available), now
    db.session.commit()
    return row.available


def is_available(user_id: int | None, *, now: datetime | None = None) -> bool:
    """Whether the advisor's "Disponible" mark holds now."""
    if user_id is None:
        return False
    now = now or utcnow()
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(AdvisorAvailability)
            .where(
                AdvisorAvailability.user_id == user_id,
                AdvisorAvailability.available.is_(True),
                _fresh(now),
            )
        )
    )


def available_in(area: str, *, now: datetime | None = None) -> int:
    """How many active advisors of `area` are available now."""
    now = now or utcnow()
    return (
        db.session.scalar(
            select(func.count())
            .select_from(AdvisorAvailability)
            .join(User, User.id == AdvisorAvailability.user_id)
            .where(
                User.role == "advisor",
                User.specialty == area,
                User.active.is_(True),
                User.deleted_at.is_(None),
                AdvisorAvailability.available.is_(True),
                _fresh(now),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Availability:
    """What the entrepreneur is told about who attends her consulta now."""

    available: bool
    text: str


def _how_notified(user) -> str:
    from sv_platform.notifications import services as notifications

    if notifications.may_email(user, "respuesta_asesor"):
        return f"te avisaremos por correo a {user.email} y en «Avisos»"
    return "te avisaremos en «Avisos»"


def for_entrepreneur(consultation: Consultation, *, now: datetime | None = None):
    """Whether someone is attending a consulta that waits for an answer (new: any advisor of
    the area; assigned: its advisor), said in the entrepreneur's words; None when the
    consulta is not waiting for the advisor."""
    if consultation.status not in ("nueva", "asignada"):
        return None
    if consultation.status == "nueva":
        count = available_in(consultation.area, now=now)
        if count:
            who = "una persona asesora" if count == 1 else f"{count} personas asesoras"
            return Availability(
                True, f"Ahora hay {who} del área atendiendo: te responderán en esta página."
            )
        return Availability(
            False,
            "En este momento no hay personas asesoras del área atendiendo. No necesitas "
            f"esperar en esta página: {_how_notified(consultation.user)} cuando te respondan.",
        )
    if is_available(consultation.advisor_id, now=now):
        return Availability(True, "Tu asesor/a está atendiendo ahora: te responderá aquí.")
    return Availability(
        False,
        "Tu asesor/a no está atendiendo en este momento. No necesitas esperar en esta "
        f"página: {_how_notified(consultation.user)} cuando te responda.",
    )


def area_summary(area: str, *, now: datetime | None = None) -> str:
    """One line for the new-consulta page: is anyone of the area attending now?"""
    count = available_in(area, now=now)
    if count == 1:
        return "Ahora hay 1 persona asesora disponible."
    if count:
        return f"Ahora hay {count} personas asesoras disponibles."
    return (
        "Ahora no hay personas asesoras disponibles: te avisaremos por correo y en «Avisos» "
        "cuando te respondan."
    )


@sessions_ending.connect
def end_availability(user_id, **_extra) -> None:
    """Every session of the person is ending (inside that transaction): their mark ends
    with them, in the same commit."""
    db.session.execute(
        update(AdvisorAvailability)
        .where(AdvisorAvailability.user_id == user_id, AdvisorAvailability.available.is_(True))
        .values(available=False, updated_at=utcnow())
    )
