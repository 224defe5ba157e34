"""Advisory rules: opening consultas, the lifecycle (the only place that changes a
consulta's status), chat messages, read marks, notes, attachments, SLAs and FAQ drafts."""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import format_date
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import Notification, User
from sv_platform.advisory import sla, uploads
from sv_platform.advisory.models import (
    AREAS,
    OPEN_STATUSES,
    STATUSES,
    Attachment,
    Consultation,
    ConsultationEvent,
    InternalNote,
    Message,
    ReadMark,
    ServiceLevel,
)
from sv_platform.core.domain import MAX_ID, DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.text import render_markdown
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db, write_transaction

log = logging.getLogger(__name__)

OFFERING_SLUGS = {"legal": "asesoria-legal", "sustainability": "asesoria-sustentabilidad"}
DEFAULT_LEVELS = {"legal": (2, 10), "sustainability": (2, 10)}  # first response, resolution
REOPEN_DAYS = 15
SUBJECT_MIN, SUBJECT_MAX = 8, 200
DESCRIPTION_MIN, DESCRIPTION_MAX = 20, 10_000
BODY_MAX = 5_000
NOTE_MAX = 5_000
COMMENT_MAX = 1_000
CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_CHAT_RATE = "20 per 10 seconds"

# action → (states it may start from, state it leads to, roles that may do it).
# "system" is the platform itself (waitlist promotion, automatic close).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "open": (("en_espera",), "nueva", ("system",)),
    "take": (("nueva",), "asignada", ("advisor",)),
    "assign": (("nueva",), "asignada", ("admin",)),
    "respond": (("asignada",), "en_curso", ("advisor", "admin")),
    "ask": (("en_curso",), "esperando_emprendedor", ("advisor", "admin")),
    "reply": (("esperando_emprendedor",), "en_curso", ("entrepreneur",)),
    "resolve": (("en_curso", "esperando_emprendedor"), "resuelta", ("advisor", "admin")),
    "close": (("resuelta",), "cerrada", ("entrepreneur",)),
    "auto_close": (("resuelta",), "cerrada", ("system",)),
    "reopen": (("resuelta",), "en_curso", ("entrepreneur",)),
    # The enrolment behind it was cancelled (by its owner, an admin or account deletion).
    "withdraw": (
        ("en_espera", "nueva", "asignada", "en_curso", "esperando_emprendedor"),
        "cerrada",
        ("system",),
    ),
}
# Advisors act only on consultas assigned to them, except when taking a new one.
NEEDS_ASSIGNEE = {"respond", "ask", "resolve"}


class InvalidTransition(DomainError):
    message = "Esta consulta no admite ese cambio en su estado actual."


class ConsultationClosed(DomainError):
    code = "closed"
    status = 409
    message = "Esta consulta está cerrada: ya no recibe mensajes."


class AlreadyOpen(DomainError):
    status = 409
    message = (
        "Ya tienes una consulta abierta en esta área. Continúa la conversación en ella; "
        "cuando se resuelva podrás abrir otra."
    )


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    message = (
        "Estás enviando mensajes muy seguido. Espera unos segundos y vuelve a "
        "intentarlo; tu texto sigue aquí."
    )


class PostResult(NamedTuple):
    message: Message
    created: bool


@dataclass(frozen=True)
class SlaState:
    target: str  # "first_response" | "resolution"
    due_at: datetime
    overdue: bool
    label: str


# --- access --------------------------------------------------------------------------------


def can_view(user, consultation: Consultation) -> bool:
    """Owner, advisors of the consulta's area, and admins; nobody else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    if user.role == "advisor":
        return user.specialty == consultation.area
    return user.role == "entrepreneur" and consultation.user_id == user.id


def is_staff(user) -> bool:
    return user.role in ("advisor", "admin")


def get_consultation(consultation_id, user) -> Consultation:
    """The consulta if `user` may see it. Raises NotFound, NotAllowed."""
    try:
        consultation_id = int(consultation_id)
    except (TypeError, ValueError) as exc:
        raise NotFound("Esa consulta no existe.") from exc
    consultation = db.session.get(Consultation, consultation_id)
    if consultation is None:
        raise NotFound("Esa consulta no existe.")
    if not can_view(user, consultation):
        raise NotAllowed("No tienes acceso a esta consulta.")
    return consultation


def url_for_consultation(consultation_id: int) -> str:
    return f"/consultas/{consultation_id}"


# --- service levels ------------------------------------------------------------------------


def service_level(area: str) -> tuple[int, int]:
    """(first response, resolution) targets in business days for an area."""
    row = db.session.scalar(select(ServiceLevel).where(ServiceLevel.area == area))
    if row is None:
        return DEFAULT_LEVELS[area]
    return row.first_response_days, row.resolution_days


def service_levels() -> dict[str, tuple[int, int]]:
    return {area: service_level(area) for area in AREAS}


def set_service_level(
    area: str, first_response_days, resolution_days, *, actor, now: datetime | None = None
) -> ServiceLevel:
    """Admins set an area's targets (1–30 business days, resolution ≥ first response);
    audited. Applies to consultas opened from now on. Raises NotAllowed, InvalidInput."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    if area not in AREAS:
        raise InvalidInput("Esa área no existe.", field="area")
    try:
        first, resolution = int(first_response_days), int(resolution_days)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Los plazos deben ser números enteros de días hábiles.") from exc
    if not 1 <= first <= 30:
        raise InvalidInput(
            "La primera respuesta debe ser entre 1 y 30 días hábiles.", field="first_response_days"
        )
    if not 1 <= resolution <= 60 or resolution < first:
        raise InvalidInput(
            "La resolución debe ser entre 1 y 60 días hábiles y no antes de la primera respuesta.",
            field="resolution_days",
        )
    row = db.session.scalar(select(ServiceLevel).where(ServiceLevel.area == area))
    before = dict(zip(("first_response_days", "resolution_days"), service_level(area), strict=True))
    if row is None:
        row = ServiceLevel(area=area, first_response_days=first, resolution_days=resolution)
        db.session.add(row)
    row.first_response_days, row.resolution_days = first, resolution
    row.updated_at = now or utcnow()
    db.session.flush()
    accounts.record_audit(
        actor,
        "set_service_level",
        "service_level",
        area,
        before,
        {"first_response_days": first, "resolution_days": resolution},
        commit=False,
    )
    db.session.commit()
    return row


def _set_due_dates(consultation: Consultation, now: datetime) -> None:
    first, resolution = service_level(consultation.area)
    consultation.opened_at = now
    consultation.first_response_due_at = sla.due_at(now, first)
    consultation.resolution_due_at = sla.due_at(now, resolution)


def sla_state(consultation: Consultation, *, now: datetime | None = None) -> SlaState | None:
    """The target that runs now (first response, then resolution) and the time left."""
    if consultation.status not in OPEN_STATUSES or consultation.opened_at is None:
        return None
    now = as_utc(now or utcnow())
    if consultation.first_response_at is None:
        target, due, name = (
            "first_response",
            consultation.first_response_due_at,
            "Primera respuesta",
        )
    else:
        target, due, name = "resolution", consultation.resolution_due_at, "Resolución"
    due = as_utc(due)
    today, due_day = sla.chile_date(now), sla.chile_date(due)
    if now > due:
        late = sla.business_days_between(due_day, today)
        unit = "día hábil" if late == 1 else "días hábiles"
        label = f"{name}: atrasada {late} {unit}" if late else f"{name}: atrasada"
        return SlaState(target, due, True, label)
    if due_day == today:
        return SlaState(target, due, False, f"{name}: vence hoy")
    left = sla.business_days_between(today, due_day)
    unit = "día hábil" if left == 1 else "días hábiles"
    return SlaState(target, due, False, f"{name}: quedan {left} {unit}")


def expected_answer(consultation: Consultation) -> str | None:
    """The sentence the entrepreneur sees: when to expect the first answer."""
    if consultation.status not in ("nueva", "asignada") or not consultation.first_response_due_at:
        return None
    day = format_date(sla.chile_date(consultation.first_response_due_at), "EEEE d 'de' MMMM")
    return f"Te responderemos a más tardar el {day}."


# --- transitions ---------------------------------------------------------------------------


def _role_for(consultation: Consultation, actor) -> str | None:
    if actor is None:
        return "system"
    if actor.role == "admin":
        return "admin"
    if actor.role == "advisor" and actor.specialty == consultation.area:
        return "advisor"
    if actor.role == "entrepreneur" and actor.id == consultation.user_id:
        return "entrepreneur"
    return None


def check_transition(consultation: Consultation, action: str, actor) -> str:
    """The state `action` leads to, if allowed from the current state for this actor.
    Raises InvalidTransition (unknown action or wrong state), NotAllowed (wrong role)."""
    if action not in TRANSITIONS:
        raise InvalidTransition()
    sources, target, roles = TRANSITIONS[action]
    role = _role_for(consultation, actor)
    if role not in roles:
        raise NotAllowed("Tu perfil no puede hacer ese cambio en esta consulta.")
    if role == "advisor" and action in NEEDS_ASSIGNEE and consultation.advisor_id != actor.id:
        raise NotAllowed("Esta consulta está asignada a otra persona.")
    if consultation.status not in sources:
        raise InvalidTransition(
            f"No se puede hacer eso con una consulta en estado «{consultation.status_label}»."
        )
    return target


def _apply(
    consultation: Consultation, action: str, actor, now: datetime, note: str | None = None
) -> None:
    """Inside a transaction: check, change the status and record who/when/from/to."""
    target = check_transition(consultation, action, actor)
    db.session.add(
        ConsultationEvent(
            consultation_id=consultation.id,
            actor_id=actor.id if actor else None,
            action=action,
            from_status=consultation.status,
            to_status=target,
            note=note,
            created_at=now,
        )
    )
    consultation.status = target


def _locked(consultation_id: int) -> Consultation:
    consultation = db.session.get(Consultation, consultation_id, populate_existing=True)
    if consultation is None:
        raise NotFound("Esa consulta no existe.")
    return consultation


def _locked_for(consultation_id: int, actor) -> Consultation:
    """Inside a transaction: the fresh consulta, if `actor` may see it. Raises NotFound,
    NotAllowed."""
    consultation = _locked(consultation_id)
    if not can_view(actor, consultation):
        raise NotAllowed("No tienes acceso a esta consulta.")
    return consultation


def _transition(
    consultation_id: int, action: str, actor, *, now: datetime | None = None
) -> Consultation:
    """Run a lifecycle action that changes nothing but the state, and record it."""
    now = now or utcnow()
    with write_transaction():
        consultation = _locked_for(consultation_id, actor)
        _apply(consultation, action, actor, now)
        db.session.commit()
    return consultation


def take(consultation_id: int, advisor, *, now: datetime | None = None) -> Consultation:
    """An advisor of the area takes a new consulta (nueva → asignada). Raises NotFound,
    NotAllowed, InvalidTransition (someone else took it first)."""
    now = now or utcnow()
    with write_transaction():
        consultation = _locked_for(consultation_id, advisor)
        if (
            advisor.role == "advisor"
            and consultation.advisor_id not in (None, advisor.id)
            and consultation.status in OPEN_STATUSES
        ):
            raise InvalidTransition("Otra persona ya tomó esta consulta.")
        _apply(consultation, "take", advisor, now)
        consultation.advisor_id, consultation.assigned_at = advisor.id, now
        db.session.commit()
    return consultation


def assign(
    consultation_id: int, advisor_id: int, *, actor, now: datetime | None = None
) -> Consultation:
    """An admin assigns or reassigns a consulta to an active advisor of its area. A new one
    becomes `asignada`; an ongoing one keeps its state. Raises NotFound, NotAllowed,
    InvalidInput, InvalidTransition."""
    now = now or utcnow()
    if actor is None or actor.role != "admin":
        raise NotAllowed("Solo un administrador/a puede reasignar consultas.")
    with write_transaction():
        consultation = _locked(consultation_id)
        advisor = db.session.get(User, int(advisor_id or 0))
        if (
            advisor is None
            or advisor.role != "advisor"
            or not advisor.is_active
            or advisor.specialty != consultation.area
        ):
            raise InvalidInput(
                "Elige un asesor/a activo/a del área de la consulta.", field="advisor_id"
            )
        if consultation.status == "nueva":
            _apply(consultation, "assign", actor, now, note=f"a {advisor.name}")
        elif consultation.status in ("asignada", "en_curso", "esperando_emprendedor"):
            db.session.add(
                ConsultationEvent(
                    consultation_id=consultation.id,
                    actor_id=actor.id,
                    action="reassign",
                    from_status=consultation.status,
                    to_status=consultation.status,
                    note=f"a {advisor.name}",
                    created_at=now,
                )
            )
        else:
            raise InvalidTransition("Solo se reasignan consultas abiertas.")
        before = {"advisor_id": consultation.advisor_id}
        consultation.advisor_id, consultation.assigned_at = advisor.id, now
        accounts.record_audit(
            actor,
            "assign_consultation",
            "consultation",
            consultation.id,
            before,
            {"advisor_id": advisor.id},
            commit=False,
        )
        accounts.notify(
            advisor.id,
            f"Te asignaron la consulta «{consultation.subject}».",
            url_for_consultation(consultation.id),
            commit=False,
        )
        db.session.commit()
    return consultation


def ask(consultation_id: int, advisor, *, now: datetime | None = None) -> Consultation:
    """The advisor waits for the entrepreneur's answer (en_curso → esperando_emprendedor)."""
    return _transition(consultation_id, "ask", advisor, now=now)


def resolve(consultation_id: int, advisor, *, now: datetime | None = None) -> Consultation:
    """The advisor marks the consulta resolved and the enrolment graduates (egreso).
    Raises NotFound, NotAllowed, InvalidTransition."""
    now = now or utcnow()
    with write_transaction():
        consultation = _locked_for(consultation_id, advisor)
        _apply(consultation, "resolve", advisor, now)
        consultation.resolved_at = now
        accounts.notify(
            consultation.user_id,
            f"Tu consulta «{consultation.subject}» fue resuelta. Cuéntanos cómo te "
            "fue y califícala.",
            url_for_consultation(consultation.id),
            commit=False,
        )
        db.session.commit()
    if consultation.enrollment_id:
        seat = enrollment.get_enrollment(consultation.enrollment_id)
        if seat.status == "active":
            enrollment.graduate(seat.id, now=now)
    return consultation


def close(
    consultation_id: int, user, *, rating, comment: str | None = None, now: datetime | None = None
) -> Consultation:
    """The entrepreneur closes a resolved consulta and rates it (1–5, optional comment).
    Raises NotFound, NotAllowed, InvalidInput, InvalidTransition."""
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise InvalidInput("Elige una calificación de 1 a 5.", field="rating")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput(
            f"El comentario puede tener hasta {COMMENT_MAX} caracteres.", field="comment"
        )
    now = now or utcnow()
    with write_transaction():
        consultation = _locked_for(consultation_id, user)
        _apply(consultation, "close", user, now)
        consultation.closed_at, consultation.rating = now, rating
        consultation.rating_comment = comment or None
        db.session.commit()
    return consultation


def reopen(consultation_id: int, user, *, now: datetime | None = None) -> Consultation:
    """The entrepreneur reopens a resolved consulta within 15 days (→ en_curso).
    Raises NotFound, NotAllowed, InvalidTransition."""
    now = now or utcnow()
    with write_transaction():
        consultation = _locked_for(consultation_id, user)
        check_transition(consultation, "reopen", user)
        if as_utc(consultation.resolved_at) + timedelta(days=REOPEN_DAYS) < as_utc(now):
            raise InvalidTransition(
                f"Pasaron más de {REOPEN_DAYS} días desde que se resolvió; abre una nueva consulta."
            )
        _apply(consultation, "reopen", user, now)
        consultation.resolved_at = None
        if consultation.advisor_id:
            accounts.notify(
                consultation.advisor_id,
                f"Reabrieron la consulta «{consultation.subject}».",
                url_for_consultation(consultation.id),
                commit=False,
            )
        db.session.commit()
    return consultation


def auto_close_due(*, now: datetime | None = None) -> int:
    """Resolved consultas older than 15 days close by themselves (no rating). Returns how
    many closed. Cheap when there is nothing to do (a read, no write lock)."""
    now = now or utcnow()
    limit = now - timedelta(days=REOPEN_DAYS)
    ids = list(
        db.session.scalars(
            select(Consultation.id).where(
                Consultation.status == "resuelta", Consultation.resolved_at < limit
            )
        )
    )
    closed = 0
    for consultation_id in ids:
        with write_transaction():
            consultation = _locked(consultation_id)
            if consultation.status != "resuelta" or as_utc(consultation.resolved_at) >= limit:
                db.session.rollback()
                continue
            _apply(consultation, "auto_close", None, now)
            consultation.closed_at = now
            db.session.commit()
            closed += 1
    return closed


def events_for(consultation: Consultation) -> list[ConsultationEvent]:
    return list(
        db.session.scalars(
            select(ConsultationEvent)
            .where(ConsultationEvent.consultation_id == consultation.id)
            .order_by(ConsultationEvent.id)
        )
    )


# --- opening a consulta --------------------------------------------------------------------


def _check_fields(area, subject, description) -> tuple[str, str, str]:
    if area not in AREAS:
        raise InvalidInput("Elige el área de tu consulta: legal o sustentabilidad.", field="area")
    subject = " ".join((subject or "").split())
    if len(subject) < SUBJECT_MIN:
        raise InvalidInput(
            f"Escribe el asunto de tu consulta (al menos {SUBJECT_MIN} caracteres).",
            field="subject",
        )
    if len(subject) > SUBJECT_MAX:
        raise InvalidInput(
            f"El asunto puede tener hasta {SUBJECT_MAX} caracteres.", field="subject"
        )
    description = (description or "").strip()
    if len(description) < DESCRIPTION_MIN:
        raise InvalidInput(
            f"Cuéntanos un poco más en la descripción (al menos {DESCRIPTION_MIN} caracteres).",
            field="description",
        )
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"La descripción puede tener hasta {DESCRIPTION_MAX} caracteres.", field="description"
        )
    return area, subject, description


def open_consultation(
    user, *, area: str, subject: str, description: str, files=(), now: datetime | None = None
) -> Consultation:
    """Open a consulta: it takes a cupo of the area's window through the enrolment service
    (reusing an open enrolment that has no consulta yet) or joins the waitlist, in which case
    it waits as `en_espera` until promoted. Attachments: up to 3 PDF/JPG/PNG files checked
    by content. Raises InvalidInput, AlreadyOpen, NotAllowed and the enrolment errors
    (ProfileIncomplete, WindowClosed)."""
    now = now or utcnow()
    if user.role != "entrepreneur":
        raise NotAllowed("Solo las personas emprendedoras pueden abrir consultas.")
    area, subject, description = _check_fields(area, subject, description)
    checked = uploads.check_files(files, max_mb=current_app.config["MAX_UPLOAD_MB"])
    offering = enrollment.get_offering(OFFERING_SLUGS[area])
    current = enrollment.open_enrollment(user.id, offering.id)
    if current is not None:
        if db.session.scalar(
            select(Consultation.id).where(Consultation.enrollment_id == current.id)
        ):
            raise AlreadyOpen()
        seat = current
    else:
        try:
            seat = enrollment.enroll(user, offering, now=now)
        except enrollment.AlreadyEnrolled as exc:  # a double submit raced us
            raise AlreadyOpen() from exc
    upload_dir = current_app.config["UPLOAD_DIR"]
    stored: list[str] = []
    with write_transaction():
        status = "nueva" if seat.status == "active" else "en_espera"
        consultation = Consultation(
            user_id=user.id,
            area=area,
            subject=subject,
            description=description,
            status=status,
            enrollment_id=seat.id,
            created_at=now,
        )
        if status == "nueva":
            _set_due_dates(consultation, now)
        db.session.add(consultation)
        try:
            db.session.flush()
        except IntegrityError as exc:
            db.session.rollback()
            raise AlreadyOpen() from exc
        db.session.add(
            ConsultationEvent(
                consultation_id=consultation.id,
                actor_id=user.id,
                action="create",
                from_status=None,
                to_status=status,
                created_at=now,
            )
        )
        try:
            for item in checked:
                name = uploads.store(upload_dir, item)
                stored.append(name)
                db.session.add(
                    Attachment(
                        consultation_id=consultation.id,
                        uploaded_by=user.id,
                        original_name=item.original_name,
                        stored_name=name,
                        content_type=item.content_type,
                        size=item.size,
                        created_at=now,
                    )
                )
            db.session.commit()
        except BaseException:
            uploads.remove(upload_dir, stored)
            raise
    log.info("consultation opened id=%s area=%s status=%s", consultation.id, area, status)
    return consultation


def _on_promotion(seat) -> None:
    """Enrolment hook: a waitlisted consulta whose enrolment got a cupo opens (nueva)."""
    now = utcnow()
    with write_transaction():
        consultation = db.session.scalar(
            select(Consultation).where(Consultation.enrollment_id == seat.id)
        )
        if consultation is None or consultation.status != "en_espera":
            db.session.rollback()
            return
        _apply(consultation, "open", None, now)
        _set_due_dates(consultation, now)
        db.session.commit()


enrollment.register_promotion_hook("advisory", _on_promotion)


def _on_cancel(seat) -> None:
    """Enrolment hook: cancelling the enrolment of an unfinished consulta withdraws it
    (closed, recorded), so it never lingers in a queue or on the waitlist."""
    now = utcnow()
    with write_transaction():
        consultation = db.session.scalar(
            select(Consultation).where(Consultation.enrollment_id == seat.id)
        )
        if consultation is None or consultation.status not in TRANSITIONS["withdraw"][0]:
            db.session.rollback()
            return
        _apply(consultation, "withdraw", None, now, note="Inscripción cancelada")
        consultation.closed_at = now
        db.session.commit()


enrollment.register_cancel_hook("advisory", _on_cancel)


def waitlist_position(consultation: Consultation) -> int | None:
    if consultation.status != "en_espera" or not consultation.enrollment_id:
        return None
    return enrollment.waitlist_position(enrollment.get_enrollment(consultation.enrollment_id))


def consultations_of(user) -> list[Consultation]:
    """An entrepreneur's consultas, open ones first, newest first."""
    order = case((Consultation.status.in_(("cerrada",)), 1), else_=0)
    return list(
        db.session.scalars(
            select(Consultation)
            .where(Consultation.user_id == user.id)
            .order_by(order, Consultation.id.desc())
        )
    )


QUEUE_FILTERS = {
    "abiertas": "Abiertas",
    "mias": "Mis consultas",
    **{k: v for k, v in STATUSES.items() if k != "esperando_emprendedor"},
    "esperando_emprendedor": "Esperando al emprendedor/a",
}


def advisor_queue(
    user, *, status: str | None = None, area: str | None = None
) -> list[Consultation]:
    """The staff queue: advisors see their specialty, admins every area (or one).
    Unassigned first, then oldest first. `status` is a state, "abiertas" or "mias"."""
    if user.role not in ("advisor", "admin"):
        raise NotAllowed()
    query = select(Consultation)
    if user.role == "advisor":
        query = query.where(Consultation.area == user.specialty)
    elif area in AREAS:
        query = query.where(Consultation.area == area)
    status = status or "abiertas"
    if status == "abiertas":
        query = query.where(Consultation.status.in_(OPEN_STATUSES))
    elif status == "mias":
        query = query.where(Consultation.advisor_id == user.id, Consultation.status != "cerrada")
    elif status in STATUSES:
        query = query.where(Consultation.status == status)
    else:
        raise InvalidInput("Ese filtro no existe.")
    unassigned_first = case((Consultation.advisor_id.is_(None), 0), else_=1)
    oldest = func.coalesce(Consultation.opened_at, Consultation.created_at)
    return list(db.session.scalars(query.order_by(unassigned_first, oldest, Consultation.id)))


def advisors_for(area: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.role == "advisor",
                User.specialty == area,
                User.active.is_(True),
                User.deleted_at.is_(None),
            )
            .order_by(User.name)
        )
    )


# --- chat ----------------------------------------------------------------------------------


def _chat_limiter():
    """Per-user send limit, stored where RATELIMIT_STORAGE_URI says (Redis in production,
    so every process shares it)."""
    app = current_app._get_current_object()
    limiter = app.extensions.get("sv_advisory_chat_limiter")
    if limiter is None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
        rate = parse_limit(app.config.get("CHAT_RATE_LIMIT", DEFAULT_CHAT_RATE))
        limiter = (MovingWindowRateLimiter(storage), rate)
        app.extensions["sv_advisory_chat_limiter"] = limiter
    return limiter


def _hit_rate_limit(user_id: int) -> None:
    """Raises RateLimited. With the limit storage unreachable the message goes through (and
    is logged): the chat must keep working when Redis does not."""
    strategy, rate = _chat_limiter()
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    try:
        allowed = strategy.hit(rate, f"{prefix}advisory-chat", str(user_id))
    except Exception:  # noqa: BLE001 - storage down: allow rather than fail the chat
        log.warning("chat rate-limit storage unreachable; message allowed", exc_info=True)
        return
    if not allowed:
        raise RateLimited()


TYPING_RATE = parse_limit("30 per 10 seconds")


def note_typing(consultation_id, user) -> Consultation:
    """Someone in the consulta is typing: only participants, and at most 30 signals per
    10 seconds per person (the browser sends one every few seconds). Raises NotFound,
    NotAllowed, RateLimited."""
    consultation = get_consultation(consultation_id, user)
    strategy, _rate = _chat_limiter()
    if not strategy.hit(TYPING_RATE, "advisory-typing", str(user.id)):
        raise RateLimited()
    return consultation


def _message_id(value, name: str) -> int:
    """A message id sent by a client: an integer from 0 (nothing yet) to MAX_ID."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise InvalidInput(f"{name} debe ser un número entero.")
    return value


def can_post(consultation: Consultation, user) -> bool:
    """Whether the chat form is offered to `user` (the rules of `_check_can_post`)."""
    try:
        _check_can_post(consultation, user)
    except DomainError:
        return False
    return True


def _check_can_post(consultation: Consultation, author) -> None:
    status = consultation.status
    if status == "cerrada":
        raise ConsultationClosed()
    if status == "resuelta":
        raise ConsultationClosed(
            "Esta consulta está resuelta. Si necesitas algo más, reábrela desde esta página."
        )
    if author.role == "entrepreneur":
        if author.id != consultation.user_id:
            raise NotAllowed("No tienes acceso a esta consulta.")
        return
    if status in ("nueva", "en_espera"):
        raise InvalidTransition("Toma la consulta (o asígnala) antes de responder.")
    if author.role == "advisor" and consultation.advisor_id != author.id:
        raise NotAllowed("Esta consulta está asignada a otra persona.")


def _find_message(consultation_id: int, author_id: int, client_msg_id: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.consultation_id == consultation_id,
            Message.author_id == author_id,
            Message.client_msg_id == client_msg_id,
        )
    )


def _last_read(consultation_id: int, user_id: int) -> int:
    return (
        db.session.scalar(
            select(ReadMark.last_read_id).where(
                ReadMark.consultation_id == consultation_id, ReadMark.user_id == user_id
            )
        )
        or 0
    )


def _notify_recipient(consultation: Consultation, author, message: Message) -> None:
    """A notice for the other side when they have not read this far and have no unread
    notice for this consulta yet (reading the consulta clears it)."""
    recipient = (
        consultation.advisor_id if author.id == consultation.user_id else consultation.user_id
    )
    if recipient is None or recipient == author.id:
        return
    if _last_read(consultation.id, recipient) >= message.id:
        return
    url = url_for_consultation(consultation.id)
    pending = db.session.scalar(
        select(Notification.id).where(
            Notification.user_id == recipient,
            Notification.url == url,
            Notification.read_at.is_(None),
        )
    )
    if pending is None:
        accounts.notify(
            recipient,
            f"Nuevo mensaje de {author.name} en «{consultation.subject}».",
            url,
            commit=False,
        )


def post_message(
    consultation_id, author, body, client_msg_id, *, now: datetime | None = None
) -> PostResult:
    """Store a chat message (the socket event and the HTML form both call this). The same
    (author, client_msg_id) returns the stored message instead of a new one. The advisor's
    first message starts the conversation (asignada → en_curso); the entrepreneur's reply
    ends a wait (esperando_emprendedor → en_curso). Rate-limited per user.
    Raises NotFound, NotAllowed, InvalidInput, ConsultationClosed, InvalidTransition,
    RateLimited."""
    consultation = get_consultation(consultation_id, author)
    if not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput("El mensaje no trae un identificador válido.", field="body")
    if not isinstance(body, str) or not body.strip():
        raise InvalidInput("Escribe un mensaje antes de enviarlo.", field="body")
    body = body.strip()
    if len(body) > BODY_MAX:
        raise InvalidInput(f"El mensaje puede tener hasta {BODY_MAX} caracteres.", field="body")
    existing = _find_message(consultation.id, author.id, client_msg_id)
    if existing is not None:
        return PostResult(existing, False)
    _check_can_post(consultation, author)
    _hit_rate_limit(author.id)
    now = now or utcnow()
    with write_transaction():
        consultation = _locked(consultation.id)
        existing = _find_message(consultation.id, author.id, client_msg_id)
        if existing is not None:
            return PostResult(existing, False)
        _check_can_post(consultation, author)
        if author.role != "entrepreneur":
            if consultation.status == "asignada":
                _apply(consultation, "respond", author, now)
            if consultation.first_response_at is None:
                consultation.first_response_at = now
        elif consultation.status == "esperando_emprendedor":
            _apply(consultation, "reply", author, now)
        message = Message(
            consultation_id=consultation.id,
            author_id=author.id,
            body=body,
            client_msg_id=client_msg_id,
            created_at=now,
        )
        db.session.add(message)
        consultation.last_message_at = now
        try:
            db.session.flush()
            _mark_read_locked(consultation.id, author.id, message.id, now)
            _notify_recipient(consultation, author, message)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            existing = _find_message(consultation.id, author.id, client_msg_id)
            if existing is None:
                raise
            return PostResult(existing, False)
    return PostResult(message, True)


def messages_after(consultation_id, user, after_id=None) -> list[Message]:
    """Messages with id > after_id (all when None), oldest first. Raises NotFound,
    NotAllowed, InvalidInput."""
    consultation = get_consultation(consultation_id, user)
    query = select(Message).where(Message.consultation_id == consultation.id)
    if after_id is not None:
        query = query.where(Message.id > _message_id(after_id, "after_id"))
    return list(db.session.scalars(query.order_by(Message.id)))


def message_payload(message: Message) -> dict:
    """The protocol's message object; body_html is sanitized Markdown."""
    author = message.author
    return {
        "id": message.id,
        "consultation_id": message.consultation_id,
        "author_id": message.author_id,
        "author_name": author.name if author else "Cuenta eliminada",
        "author_role": author.role if author else "entrepreneur",
        "body_html": str(render_markdown(message.body, hard_breaks=True, images=False)),
        "created_at": as_utc(message.created_at).isoformat(),
        "client_msg_id": message.client_msg_id,
    }


def _mark_read_locked(consultation_id: int, user_id: int, up_to_id: int, now: datetime) -> int:
    mark = db.session.scalar(
        select(ReadMark).where(
            ReadMark.consultation_id == consultation_id, ReadMark.user_id == user_id
        )
    )
    if mark is None:
        mark = ReadMark(consultation_id=consultation_id, user_id=user_id, last_read_id=0)
        db.session.add(mark)
    if up_to_id > mark.last_read_id:
        mark.last_read_id, mark.updated_at = up_to_id, now
    return mark.last_read_id


def mark_read(consultation_id, user, up_to_id, *, now: datetime | None = None) -> int:
    """Move the user's read mark forward (never back, never past the last message) and
    clear their unread notices for this consulta. Returns the mark. Raises NotFound,
    NotAllowed, InvalidInput."""
    up_to_id = _message_id(up_to_id, "up_to_id")
    consultation = get_consultation(consultation_id, user)
    now = now or utcnow()
    last = (
        db.session.scalar(
            select(func.max(Message.id)).where(Message.consultation_id == consultation.id)
        )
        or 0
    )
    up_to_id = min(up_to_id, last)
    current = _last_read(consultation.id, user.id)
    url = url_for_consultation(consultation.id)
    unread_notice = db.session.scalar(
        select(Notification.id).where(
            Notification.user_id == user.id, Notification.url == url, Notification.read_at.is_(None)
        )
    )
    if up_to_id <= current and unread_notice is None:
        return current
    with write_transaction():
        mark = _mark_read_locked(consultation.id, user.id, up_to_id, now)
        db.session.execute(
            update(Notification)
            .where(
                Notification.user_id == user.id,
                Notification.url == url,
                Notification.read_at.is_(None),
            )
            .values(read_at=now)
        )
        try:
            db.session.commit()
        except IntegrityError:  # two first reads raced: the other one stored the mark
            db.session.rollback()
            mark = _last_read(consultation.id, user.id)
    return mark


def read_marks(consultation: Consultation) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(ReadMark.user_id, ReadMark.last_read_id).where(
                ReadMark.consultation_id == consultation.id
            )
        ).all()
    )


def other_side_read(consultation: Consultation, user) -> int:
    """How far the other side has read (for the "Leído" marks on your own messages)."""
    marks = read_marks(consultation)
    if user.id == consultation.user_id:
        # The entrepreneur's counterpart is the assigned advisor, not any staff who looked.
        return marks.get(consultation.advisor_id, 0) if consultation.advisor_id else 0
    return marks.get(consultation.user_id, 0)


# --- notes, attachments --------------------------------------------------------------------


def add_note(consultation_id, author, body, *, now: datetime | None = None) -> InternalNote:
    """An internal note: advisors of the area and admins only. Raises NotFound, NotAllowed,
    InvalidInput."""
    consultation = get_consultation(consultation_id, author)
    if not is_staff(author):
        raise NotAllowed("Las notas internas son solo para el equipo asesor.")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Escribe la nota antes de guardarla.", field="body")
    if len(body) > NOTE_MAX:
        raise InvalidInput(f"La nota puede tener hasta {NOTE_MAX} caracteres.", field="body")
    note = InternalNote(
        consultation_id=consultation.id, author_id=author.id, body=body, created_at=now or utcnow()
    )
    db.session.add(note)
    db.session.commit()
    return note


def notes_for(consultation: Consultation, user) -> list[InternalNote]:
    if not is_staff(user):
        return []
    return list(
        db.session.scalars(
            select(InternalNote)
            .where(InternalNote.consultation_id == consultation.id)
            .order_by(InternalNote.id)
        )
    )


def attachments_for(consultation: Consultation) -> list[Attachment]:
    return list(
        db.session.scalars(
            select(Attachment)
            .where(Attachment.consultation_id == consultation.id)
            .order_by(Attachment.id)
        )
    )


def get_attachment(consultation_id, attachment_id, user):
    """(attachment, file path) if `user` may see the consulta. Raises NotFound, NotAllowed."""
    consultation = get_consultation(consultation_id, user)
    attachment = db.session.get(Attachment, int(attachment_id))
    if attachment is None or attachment.consultation_id != consultation.id:
        raise NotFound("Ese archivo no existe.")
    path = uploads.path_of(current_app.config["UPLOAD_DIR"], attachment.stored_name)
    if not path.is_file():
        raise NotFound("Ese archivo ya no está disponible.")
    return attachment, path


# --- FAQ -----------------------------------------------------------------------------------


def _check_faq_author(consultation: Consultation, user) -> None:
    if not is_staff(user):
        raise NotAllowed("Solo el equipo asesor puede publicar preguntas frecuentes.")
    if consultation.status not in ("resuelta", "cerrada"):
        raise InvalidTransition(
            "Solo una consulta resuelta puede convertirse en pregunta frecuente."
        )


def faq_draft(consultation_id, user) -> dict:
    """Question and answer pre-filled from the conversation (to be edited to remove
    personal data before publishing). Raises NotFound, NotAllowed, InvalidTransition."""
    consultation = get_consultation(consultation_id, user)
    _check_faq_author(consultation, user)
    question = consultation.subject.strip().rstrip("?¿ ")
    question = question if question.startswith("¿") else f"¿{question}"
    answers = [
        m.body for m in messages_after(consultation.id, user) if m.author_id != consultation.user_id
    ]
    return {"question": f"{question}?", "answer": "\n\n".join(answers), "area": consultation.area}


def publish_to_faq(
    consultation_id, user, *, question: str, answer: str, tags=(), published: bool = False
):
    """Create a FAQ entry linked to the consulta (the FAQ stores the consulta id).
    Raises NotFound, NotAllowed, InvalidTransition and the FAQ's InvalidEntry."""
    from sv_platform.faq import services as faq

    consultation = get_consultation(consultation_id, user)
    _check_faq_author(consultation, user)
    return faq.create_entry(
        question=question,
        answer=answer,
        area=consultation.area,
        tags=tuple(tags),
        published=bool(published),
        source_consultation_id=consultation.id,
        actor=user,
    )


def faq_suggestions(query: str | None, area: str | None = None) -> list[dict]:
    """FAQ entries similar to what the person is typing (never raises)."""
    from sv_platform.faq import services as faq

    if not query or len(query.strip()) < 3:
        return []
    try:
        return faq.suggest(query, area=area if area in AREAS else None, limit=5)
    except Exception:  # noqa: BLE001 - suggestions must never block opening a consulta
        log.exception("faq suggestions failed")
        db.session.rollback()
        return []


# --- personal data -------------------------------------------------------------------------


def export_user_data(user_id: int) -> dict:
    """The person's consultas and the messages they wrote."""
    items = []
    for consultation in db.session.scalars(
        select(Consultation).where(Consultation.user_id == user_id).order_by(Consultation.id)
    ):
        items.append(
            {
                "asunto": consultation.subject,
                "area": consultation.area_label,
                "descripcion": consultation.description,
                "estado": consultation.status_label,
                "creada": as_utc(consultation.created_at).isoformat(),
                "calificacion": consultation.rating,
                "comentario": consultation.rating_comment,
                "mensajes": [
                    {"fecha": as_utc(m.created_at).isoformat(), "texto": m.body}
                    for m in db.session.scalars(
                        select(Message)
                        .where(
                            Message.consultation_id == consultation.id, Message.author_id == user_id
                        )
                        .order_by(Message.id)
                    )
                ],
            }
        )
    return {"consultas": items}


def anonymize_user(user_id: int) -> None:
    """A deleted account: its consultas keep their numbers for statistics, but the texts it
    wrote and its attachments are erased."""
    upload_dir = current_app.config["UPLOAD_DIR"]
    ids = list(db.session.scalars(select(Consultation.id).where(Consultation.user_id == user_id)))
    for attachment in db.session.scalars(
        select(Attachment).where(Attachment.consultation_id.in_(ids))
    ):
        uploads.remove(upload_dir, [attachment.stored_name])
        db.session.delete(attachment)
    db.session.execute(
        update(Consultation)
        .where(Consultation.user_id == user_id)
        .values(subject="(consulta anonimizada)", description="(eliminado)", rating_comment=None)
    )
    db.session.execute(
        update(Message).where(Message.author_id == user_id).values(body="(mensaje eliminado)")
    )
    db.session.commit()
