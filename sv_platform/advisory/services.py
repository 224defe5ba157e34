"""Advisory pages and queries: what a person sees of consultas (the consulta page and the
actions it offers, the queues), FAQ drafts from a consulta and personal data.

The rules that change things live beside it: `lifecycle` (status), `chat` (messages, read
marks, notes), `attachments` (files) and `sla` (business-day targets).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_timedelta
from sqlalchemy import and_, case, func, or_, select, update

from sv_platform.accounts import people
from sv_platform.accounts.models import User
from sv_platform.accounts.signals import data_exported, user_anonymized
from sv_platform.advisory import attachments, availability, chat, lifecycle, sla
from sv_platform.advisory.access import get_consultation, is_staff
from sv_platform.advisory.chat import messages_after
from sv_platform.advisory.lifecycle import InvalidTransition
from sv_platform.advisory.models import (
    AREAS,
    OPEN_STATUSES,
    STAFF_STATUSES,
    STATUSES,
    Attachment,
    Consultation,
    ConsultationEvent,
    InternalNote,
    Message,
)
from sv_platform.core import redact
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed
from sv_platform.core.text import render_markdown
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Action:
    """Something the viewer may do to the consulta now: `name` is the lifecycle action
    (or `assign`, `note`, `faq`), `label` the button text."""

    name: str
    label: str
    style: str = "btn-outline-primary"


# Buttons in the order the page shows them.
ACTIONS = (
    Action("take", "Tomar consulta", "btn-primary"),
    Action("ask", "Esperar respuesta del emprendedor/a"),
    Action("resolve", "Marcar como resuelta", "btn-success"),
    Action("close", "Cerrar y calificar", "btn-primary"),
    Action("reopen", "Todavía tengo dudas: reabrir la consulta", "btn-outline-secondary"),
)


def _may(consultation: Consultation, action: str, user, now: datetime) -> bool:
    try:
        lifecycle.check_transition(consultation, action, user)
    except DomainError:
        return False
    if action == "reopen":
        resolved = as_utc(consultation.resolved_at)
        return resolved is not None and resolved + timedelta(days=lifecycle.REOPEN_DAYS) >= now
    return True


def available_actions(consultation: Consultation, user, *, now: datetime | None = None):
    """What `user` may do to the consulta now, by the same rules the lifecycle enforces
    (check_transition, the reopen period, who may assign, note or publish to the FAQ)."""
    now = as_utc(now or utcnow())
    actions = [a for a in ACTIONS if _may(consultation, a.name, user, now)]
    if user.role == "admin" and consultation.status in lifecycle.TRANSITIONS["withdraw"][0]:
        if consultation.status != "en_espera":
            actions.append(Action("assign", "Asignar"))
    if is_staff(user):
        actions.append(Action("note", "Guardar nota interna"))
        if consultation.status in ("resuelta", "cerrada"):
            actions.append(Action("faq", "Convertir en pregunta frecuente"))
    return actions


def _post_notice(consultation: Consultation, user) -> str | None:
    """Why the chat form is not offered to `user`, in their words (None when it is)."""
    try:
        chat.check_can_post(consultation, user)
    except DomainError as error:
        if consultation.status == "resuelta" and is_staff(user):
            return "Esta consulta está resuelta."
        return error.message
    return None


def waiting_time(consultation: Consultation, now: datetime) -> str | None:
    """ "hace 3 horas" since the consulta opened, while it waits for the team (new or
    ongoing); None when it waits for the entrepreneur, is resolved or closed."""
    if consultation.status not in OPEN_STATUSES or consultation.status == "esperando_emprendedor":
        return None
    start = consultation.opened_at or consultation.created_at
    return format_timedelta(as_utc(start) - now, granularity="minute", add_direction=True)


@dataclass
class ConsultationPage:
    """Everything the consulta page shows its viewer."""

    consultation: Consultation
    viewer: User
    messages: list
    payloads: list[dict]
    attachments: list
    notes: list
    events: list
    actions: list[Action]
    sla: sla.SlaState | None
    expected: str | None
    position: int | None
    other_read: int
    post_notice: str | None
    waiting: str | None
    description_html: str
    status_labels: dict
    advisors: list = field(default_factory=list)
    attending: "availability.Availability | None" = None

    @property
    def is_staff(self) -> bool:
        return is_staff(self.viewer)

    @property
    def can_post(self) -> bool:
        return self.post_notice is None

    @property
    def action_names(self) -> set[str]:
        return {a.name for a in self.actions}

    @property
    def may_ever_post(self) -> bool:
        """The chat form belongs on the page (shown when `can_post`; a reopened consulta
        shows it again without a reload)."""
        return self.consultation.status != "cerrada"

    @property
    def attachments_payload(self) -> list[dict]:
        return [chat.attachment_payload(a) for a in self.attachments]

    @property
    def takes_by_answering(self) -> bool:
        """The viewer's first message takes the consulta (help-desk rule in chat)."""
        return chat.takes_by_answering(self.consultation, self.viewer)

    @property
    def status_label(self) -> str:
        return self.status_labels.get(self.consultation.status, self.consultation.status)

    @property
    def buttons(self) -> list[Action]:
        """The lifecycle actions shown as plain buttons (close has its own rating form)."""
        return [a for a in self.actions if a.name in ("take", "ask", "resolve")]


def consultation_page(
    consultation_id, user, *, now: datetime | None = None, conversation: bool = True
) -> ConsultationPage:
    """The consulta page for `user` (without its messages, files, notes and description
    when not `conversation`). Raises NotFound, NotAllowed."""
    now = as_utc(now or utcnow())
    consultation = get_consultation(consultation_id, user)
    messages = messages_after(consultation.id, user) if conversation else []
    staff = is_staff(user)
    actions = available_actions(consultation, user, now=now)
    return ConsultationPage(
        consultation=consultation,
        viewer=user,
        messages=messages,
        payloads=[chat.message_payload(m) for m in messages],
        attachments=attachments.attachments_for(consultation) if conversation else [],
        notes=chat.notes_for(consultation, user) if conversation else [],
        events=events_for(consultation),
        actions=actions,
        sla=sla.sla_state(consultation, now=now),
        expected=sla.expected_answer(consultation),
        position=waitlist_position(consultation),
        other_read=chat.other_side_read(consultation, user) if conversation else 0,
        post_notice=_post_notice(consultation, user),
        waiting=waiting_time(consultation, now),
        description_html=render_markdown(consultation.description, images=False)
        if conversation
        else "",
        status_labels=STAFF_STATUSES if staff else STATUSES,
        advisors=advisors_for(consultation.area)
        if conversation and any(a.name == "assign" for a in actions)
        else [],
        attending=None if staff else availability.for_entrepreneur(consultation, now=now),
    )


def consultation_state(consultation_id, user, *, now: datetime | None = None) -> ConsultationPage:
    """What the parts of the consulta page that follow its state need (status, actions,
    notices, history), without the conversation. Raises NotFound, NotAllowed."""
    return consultation_page(consultation_id, user, now=now, conversation=False)


def events_for(consultation: Consultation) -> list[ConsultationEvent]:
    """The consulta's history of status changes, oldest first."""
    return list(
        db.session.scalars(
            select(ConsultationEvent)
            .where(ConsultationEvent.consultation_id == consultation.id)
            .order_by(ConsultationEvent.id)
        )
    )


def waitlist_position(consultation: Consultation) -> int | None:
    """The place in line (1 = next) of a waiting consulta or enrolment, else None."""
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


QUEUE_PAGE = 50


@dataclass(frozen=True)
class QueuePage:
    items: list
    number: int
    has_next: bool


def _queue_search(query, q: str):
    """A consulta number ("123" or "n.º 123"), or a person (RUT, name, email), or words of
    the subject."""
    q = " ".join((q or "").split())[:120]
    if not q:
        return query
    digits = q.lower().removeprefix("n.º").removeprefix("#").strip()
    if digits.isdigit() and len(digits) < 7:
        return query.where(Consultation.id == int(digits))
    person = people.matching(Consultation.user_id, q)
    words = [w for w in q.split() if len(w) > 1][:5]
    subject = [Consultation.subject.ilike(f"%{w}%") for w in words]
    return query.where(or_(and_(*person), and_(*subject)) if subject else and_(*person))


def advisor_queue(
    user,
    *,
    status: str | None = None,
    area: str | None = None,
    q: str | None = None,
    page: int = 1,
    size: int = QUEUE_PAGE,
) -> QueuePage:
    """The staff queue: advisors see their specialty, admins every area (or one).
    Unassigned first, then oldest first, `size` per page. `status` is a state, "abiertas"
    or "mias"; `q` a consulta number, a person or words of the subject. Raises NotAllowed,
    InvalidInput (unknown filter)."""
    if user.role not in ("advisor", "admin"):
        raise NotAllowed()
    query = _queue_search(select(Consultation), q)
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
    page = max(1, min(int(page or 1), 10_000))
    rows = list(
        db.session.scalars(
            query.order_by(unassigned_first, oldest, Consultation.id)
            .offset((page - 1) * size)
            .limit(size + 1)
        )
    )
    return QueuePage(items=rows[:size], number=page, has_next=len(rows) > size)


def advisors_for(area: str) -> list[User]:
    """Active advisors of an area, by name (who a consulta may be assigned to)."""
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


def _check_faq_author(consultation: Consultation, user) -> None:
    if not is_staff(user):
        raise NotAllowed("Solo el equipo asesor puede publicar preguntas frecuentes.")
    if consultation.status not in ("resuelta", "cerrada"):
        raise InvalidTransition(
            "Solo una consulta resuelta puede convertirse en pregunta frecuente."
        )


def faq_draft(consultation_id, user) -> dict:
    """Question and answer pre-filled from the conversation, with personal data already
    removed (rule: the advisor never starts from the person's data): RUTs, emails, phone
    numbers, the names of the person and of every advisor who wrote, greetings and
    sign-offs. Raises NotFound, NotAllowed, InvalidTransition."""
    consultation = get_consultation(consultation_id, user)
    _check_faq_author(consultation, user)
    messages = [
        m for m in messages_after(consultation.id, user) if m.author_id != consultation.user_id
    ]
    authors = {consultation.user_id, *(m.author_id for m in messages)}
    names = [u.name for u in db.session.scalars(select(User).where(User.id.in_(authors)))]
    subject = redact.scrub(consultation.subject, names).strip().rstrip("?¿ .")
    question = subject if subject.startswith("¿") else f"¿{subject}"
    answers = [text for text in (redact.scrub(m.body, names) for m in messages) if text]
    return {"question": f"{question}?", "answer": "\n\n".join(answers), "area": consultation.area}


def publish_to_faq(consultation_id, user, *, question: str, answer: str, tags=(), **_ignored):
    """Propose a FAQ entry drafted from the consulta (the FAQ stores the consulta id). It
    stays unpublished until a second person approves it (faq.approve_entry: another
    advisor of the area or an admin). Raises NotFound, NotAllowed, InvalidTransition and
    the FAQ's InvalidEntry."""
    from sv_platform.faq import services as faq

    consultation = get_consultation(consultation_id, user)
    _check_faq_author(consultation, user)
    return faq.create_entry(
        question=question,
        answer=answer,
        area=consultation.area,
        tags=tuple(tags),
        source_consultation_id=consultation.id,
        proposed_by_id=user.id,
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


@data_exported.connect
def export_user_data(user_id: int, **_extra) -> dict:
    """The person's consultas and the messages they wrote; for advisors and admins also
    every message they wrote in consultas they attended and their internal notes (their
    own words only: what the other person wrote is that person's data)."""
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
    written = [
        {
            "consulta": m.consultation_id,
            "fecha": as_utc(m.created_at).isoformat(),
            "texto": m.body,
        }
        for m in db.session.scalars(
            select(Message)
            .join(Consultation, Consultation.id == Message.consultation_id)
            .where(Message.author_id == user_id, Consultation.user_id != user_id)
            .order_by(Message.id)
        )
    ]
    notes = [
        {
            "consulta": n.consultation_id,
            "fecha": as_utc(n.created_at).isoformat(),
            "texto": n.body,
        }
        for n in db.session.scalars(
            select(InternalNote).where(InternalNote.author_id == user_id).order_by(InternalNote.id)
        )
    ]
    return {
        "consultas": items,
        "mensajes_en_consultas_atendidas": written,
        "notas_internas": notes,
    }


@user_anonymized.connect
def anonymize_user(user_id: int, **_extra) -> None:
    """In the deletion's transaction: the account's consultas keep their numbers for
    statistics, but the texts it wrote are erased, its name, RUT, emails and phone numbers
    are replaced in what advisors wrote to it (messages and internal notes), and its
    attachments go (their files once the deletion commits)."""
    ids = list(db.session.scalars(select(Consultation.id).where(Consultation.user_id == user_id)))
    stored = []
    for attachment in db.session.scalars(
        select(Attachment).where(Attachment.consultation_id.in_(ids))
    ):
        stored.append(attachment.stored_name)
        db.session.delete(attachment)
    attachments.remove_after_commit(current_app.config["UPLOAD_DIR"], stored)
    db.session.execute(
        update(Consultation)
        .where(Consultation.user_id == user_id)
        .values(subject="(consulta anonimizada)", description="(eliminado)", rating_comment=None)
    )
    db.session.execute(
        update(Message).where(Message.author_id == user_id).values(body="(mensaje eliminado)")
    )
    # What others wrote to the person names them: their name, RUT, email and phones go.
    person = db.session.get(User, user_id)
    names = [person.name] if person else []
    for item in db.session.scalars(
        select(Message).where(Message.consultation_id.in_(ids), Message.author_id != user_id)
    ):
        item.body = redact.replace_names(redact.scrub_identifiers(item.body), names)
    for note in db.session.scalars(
        select(InternalNote).where(InternalNote.consultation_id.in_(ids))
    ):
        note.body = redact.replace_names(redact.scrub_identifiers(note.body), names)
