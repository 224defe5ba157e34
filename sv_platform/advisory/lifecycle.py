"""The consulta's lifecycle: the only code that changes a consulta's status.

Every change locks the consulta's row first (`lock_consultation`: `SELECT … FOR UPDATE` on
PostgreSQL, the write lock taken at BEGIN on SQLite), checks the transition table and
records an event; its consequences in other domains (the enrolment's egreso, a freed cupo)
commit in the same transaction, and receivers of `consultation_changed` add theirs.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import User
from sv_platform.advisory import attachments, sla
from sv_platform.advisory.access import (
    OFFERING_SLUGS,
    lock_consultation,
    lock_visible,
    url_for_consultation,
)
from sv_platform.advisory.models import (
    AREAS,
    OPEN_STATUSES,
    Consultation,
    ConsultationEvent,
)
from sv_platform.advisory.signals import consultation_changed
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, valid_id
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.enrollment import services as enrollment
from sv_platform.enrollment import signals as enrollment_signals
from sv_platform.extensions import db, write_transaction

log = logging.getLogger(__name__)

REOPEN_DAYS = 15
SUBJECT_MIN, SUBJECT_MAX = 8, 200
DESCRIPTION_MIN, DESCRIPTION_MAX = 20, 10_000
COMMENT_MAX = 1_000

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


class AlreadyOpen(DomainError):
    status = 409
    message = (
        "Ya tienes una consulta abierta en esta área. Continúa la conversación en ella; "
        "cuando se resuelva podrás abrir otra."
    )


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


def apply_transition(
    consultation: Consultation, action: str, actor, now: datetime, note: str | None = None
) -> None:
    """Inside a transaction on a locked consulta: check, change the status, record
    who/when/from/to and send `consultation_changed`. Raises what check_transition raises."""
    target = check_transition(consultation, action, actor)
    old_status = consultation.status
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
    db.session.flush()
    consultation_changed.send(
        consultation, action=action, old_status=old_status, actor=actor, now=now
    )


def _transition(
    consultation_id: int, action: str, actor, *, now: datetime | None = None
) -> Consultation:
    """Run a lifecycle action that changes nothing but the state, and record it."""
    now = now or utcnow()
    with write_transaction():
        consultation = lock_visible(consultation_id, actor)
        apply_transition(consultation, action, actor, now)
        db.session.commit()
    return consultation


def take(consultation_id: int, advisor, *, now: datetime | None = None) -> Consultation:
    """An advisor of the area takes a new consulta (nueva → asignada). Raises NotFound,
    NotAllowed, InvalidTransition (someone else took it first)."""
    now = now or utcnow()
    with write_transaction():
        consultation = lock_visible(consultation_id, advisor)
        if (
            advisor.role == "advisor"
            and consultation.advisor_id not in (None, advisor.id)
            and consultation.status in OPEN_STATUSES
        ):
            raise InvalidTransition("Otra persona ya tomó esta consulta.")
        apply_transition(consultation, "take", advisor, now)
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
    if not valid_id(advisor_id):
        raise InvalidInput(
            "Elige un asesor/a activo/a del área de la consulta.", field="advisor_id"
        )
    with write_transaction():
        consultation = lock_consultation(consultation_id)
        advisor = db.session.get(User, advisor_id)
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
            apply_transition(consultation, "assign", actor, now, note=f"a {advisor.name}")
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
    """The advisor marks the consulta resolved and its enrolment graduates (egreso), in one
    transaction. Raises NotFound, NotAllowed, InvalidTransition."""
    now = now or utcnow()
    with write_transaction():
        consultation = lock_visible(consultation_id, advisor)
        apply_transition(consultation, "resolve", advisor, now)
        consultation.resolved_at = now
        accounts.notify(
            consultation.user_id,
            f"Tu consulta «{consultation.subject}» fue resuelta. Cuéntanos cómo te "
            "fue y califícala.",
            url_for_consultation(consultation.id),
            commit=False,
        )
        if consultation.enrollment_id:
            enrollment.mark_graduated(consultation.enrollment_id, now=now)
        db.session.commit()
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
        consultation = lock_visible(consultation_id, user)
        apply_transition(consultation, "close", user, now)
        consultation.closed_at, consultation.rating = now, rating
        consultation.rating_comment = comment or None
        db.session.commit()
    return consultation


def reopen(consultation_id: int, user, *, now: datetime | None = None) -> Consultation:
    """The entrepreneur reopens a resolved consulta within 15 days (→ en_curso).
    Raises NotFound, NotAllowed, InvalidTransition."""
    now = now or utcnow()
    with write_transaction():
        consultation = lock_visible(consultation_id, user)
        check_transition(consultation, "reopen", user)
        if as_utc(consultation.resolved_at) + timedelta(days=REOPEN_DAYS) < as_utc(now):
            raise InvalidTransition(
                f"Pasaron más de {REOPEN_DAYS} días desde que se resolvió; abre una nueva consulta."
            )
        if _open_in_area(consultation.user_id, consultation.area, exclude_id=consultation.id):
            raise AlreadyOpen(
                "Ya tienes otra consulta abierta en esta área: continúa en ella. Solo puede "
                "haber una consulta abierta por área."
            )
        apply_transition(consultation, "reopen", user, now)
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
            consultation = lock_consultation(consultation_id)
            if consultation.status != "resuelta" or as_utc(consultation.resolved_at) >= limit:
                db.session.rollback()
                continue
            apply_transition(consultation, "auto_close", None, now)
            consultation.closed_at = now
            db.session.commit()
            closed += 1
    return closed


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


def _open_in_area(user_id: int, area: str, *, exclude_id: int | None = None) -> int | None:
    """The id of the person's open consulta in `area` (waiting, new or ongoing), if any."""
    query = select(Consultation.id).where(
        Consultation.user_id == user_id,
        Consultation.area == area,
        Consultation.status.in_(OPEN_STATUSES),
    )
    if exclude_id is not None:
        query = query.where(Consultation.id != exclude_id)
    return db.session.scalars(query.limit(1)).first()


def open_consultation(
    user, *, area: str, subject: str, description: str, files=(), now: datetime | None = None
) -> Consultation:
    """Open a consulta: one open consulta per person and area. It takes a cupo of the area's
    window through the enrolment service (reusing an open enrolment that has no consulta
    yet) or joins the waitlist, in which case it waits as `en_espera` until promoted; seat,
    consulta and attachments commit together. Attachments: up to 3 PDF/JPG/PNG files
    checked by content. Raises InvalidInput, AlreadyOpen, NotAllowed and the enrolment
    errors (ProfileIncomplete, WindowClosed)."""
    now = now or utcnow()
    if user.role != "entrepreneur":
        raise NotAllowed("Solo las personas emprendedoras pueden abrir consultas.")
    area, subject, description = _check_fields(area, subject, description)
    checked = attachments.check_files(files, max_mb=current_app.config["MAX_UPLOAD_MB"])
    offering = enrollment.get_offering(OFFERING_SLUGS[area])
    upload_dir = current_app.config["UPLOAD_DIR"]
    stored: list[str] = []
    with write_transaction():
        if _open_in_area(user.id, area):
            raise AlreadyOpen()
        seat = enrollment.open_enrollment(user.id, offering.id)
        if seat is None:
            try:
                seat = enrollment.claim_seat(user, offering, now=now)
            except enrollment.AlreadyEnrolled as exc:  # a double submit raced us
                raise AlreadyOpen() from exc
        elif db.session.scalar(
            select(Consultation.id).where(Consultation.enrollment_id == seat.id)
        ):
            raise AlreadyOpen()
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
            sla.set_due_dates(consultation, now)
        db.session.add(consultation)
        try:
            db.session.flush()
        except IntegrityError as exc:
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
                name = attachments.store(upload_dir, item)
                stored.append(name)
                db.session.add(attachments.record(consultation, user, item, name, now))
            db.session.flush()
            consultation_changed.send(
                consultation, action="create", old_status=None, actor=user, now=now
            )
            db.session.commit()
        except BaseException:
            attachments.remove(upload_dir, stored)
            raise
    log.info("consultation opened id=%s area=%s status=%s", consultation.id, area, status)
    return consultation


def _consultation_of(seat) -> Consultation | None:
    if seat.offering.kind != "advisory":
        return None
    return db.session.scalar(
        select(Consultation).where(Consultation.enrollment_id == seat.id).with_for_update()
    )


@enrollment_signals.enrollment_promoted.connect
def open_on_promotion(seat, *, now: datetime, **_extra) -> None:
    """In the promotion's transaction: a waitlisted consulta whose enrolment got a cupo
    opens (en_espera → nueva) with its due dates."""
    consultation = _consultation_of(seat)
    if consultation is None or consultation.status != "en_espera":
        return
    apply_transition(consultation, "open", None, now)
    sla.set_due_dates(consultation, now)


@enrollment_signals.enrollment_cancelled.connect
def withdraw_on_cancel(seat, *, now: datetime, **_extra) -> None:
    """In the cancellation's transaction: the unfinished consulta of a cancelled enrolment
    is withdrawn (closed, recorded), so it never lingers in a queue or on the waitlist."""
    consultation = _consultation_of(seat)
    if consultation is None or consultation.status not in TRANSITIONS["withdraw"][0]:
        return
    apply_transition(consultation, "withdraw", None, now, note="Inscripción cancelada")
    consultation.closed_at = now
