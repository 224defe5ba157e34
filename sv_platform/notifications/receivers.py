"""Emails caused by other domains' changes, queued inside their transactions (receivers of
their signals never commit), and the deadline-warning job."""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sv_platform.accounts.models import User
from sv_platform.accounts.signals import (
    account_created,
    email_changed,
    password_changed,
    registration_attempted,
)
from sv_platform.advisory.models import AREAS, Consultation
from sv_platform.advisory.signals import consultation_changed, message_posted
from sv_platform.core.timeutil import CHILE, as_utc, utcnow
from sv_platform.enrollment.signals import enrollment_graduated, enrollment_promoted
from sv_platform.extensions import db, socketio
from sv_platform.notifications import recovery, services
from sv_platform.notifications.models import SlaWarning

log = logging.getLogger(__name__)

CHAT_WINDOW = timedelta(minutes=15)
SLA_NOTICE = timedelta(hours=4)


def _consulta_url(consultation_id: int) -> str:
    return services.absolute_url(f"/consultas/{consultation_id}")


def _area(area: str) -> str:
    return AREAS.get(area, area).lower()


# --- account -------------------------------------------------------------------------


@account_created.connect
def confirm_new_account(user, *, now: datetime, **_extra) -> None:
    """A new account gets the link that confirms its address."""
    recovery.send_confirmation(user, now=now)


@email_changed.connect
def confirm_new_address(user, *, now: datetime, **_extra) -> None:
    """A changed address must be confirmed again (old links stop working)."""
    recovery.send_confirmation(user, now=now)


@password_changed.connect
def tell_password_changed(user, *, now: datetime, **_extra) -> None:
    recovery.password_changed_notice(user, now=now)


@registration_attempted.connect
def tell_registration_attempt(user, *, now: datetime, **_extra) -> None:
    """The owner of a RUT or email someone tried to register with hears of it by email."""
    services.queue(
        user,
        "intento_registro",
        {
            "subject": "Alguien intentó crear una cuenta con tus datos",
            "lines": [
                "Alguien intentó crear una cuenta nueva en Servicios Virtuales con tu RUT o tu "
                "correo. No creamos ninguna cuenta.",
                "Si fuiste tú, ya tienes una cuenta: ingresa con tu RUT o tu correo, o crea una "
                "nueva contraseña si no la recuerdas.",
                "Si no fuiste tú, no necesitas hacer nada.",
            ],
            "action_url": services.absolute_url("/recuperar-contrasena"),
            "action_label": "Crear una nueva contraseña",
            "reason": "Recibes este correo porque alguien usó tus datos en el registro.",
        },
        now=now,
    )


# --- enrolment -----------------------------------------------------------------------


@enrollment_promoted.connect
def seat_from_waitlist(seat, *, now: datetime, **_extra) -> None:
    """The entrepreneur left the waitlist and holds a seat."""
    offering = seat.offering
    course = offering.kind == "course"
    path = f"/cursos/{offering.reference}" if course else "/consultas"
    services.queue(
        seat.user,
        "cupo_asignado",
        {
            "subject": "Tienes un cupo",
            "lines": [
                f"Se liberó un cupo en «{offering.title}» y ahora es tuyo.",
                "Ya puedes comenzar el curso."
                if course
                else "Tu consulta pasó a la fila de atención: un asesor/a la tomará pronto.",
            ],
            "action_url": services.absolute_url(path),
            "action_label": "Ir al curso" if course else "Ver mis consultas",
            "reason": "Recibes este correo porque estabas en la lista de espera de este servicio.",
        },
        now=now,
    )


@enrollment_graduated.connect
def course_graduated(seat, *, now: datetime, **_extra) -> None:
    """Egreso of a course: the certificate link (a resolved consulta has its own mail)."""
    offering = seat.offering
    if offering.kind != "course":
        return
    services.queue(
        seat.user,
        "egreso",
        {
            "subject": "Terminaste el curso: tu certificado",
            "lines": [
                f"¡Felicitaciones! Completaste «{offering.title}».",
                "Tu certificado está listo para descargar.",
            ],
            "action_url": services.absolute_url(f"/cursos/{offering.reference}/certificado"),
            "action_label": "Ver mi certificado",
            "reason": "Recibes este correo porque completaste un curso en la plataforma.",
        },
        now=now,
    )


# --- consultas -----------------------------------------------------------------------


@consultation_changed.connect
def consultation_mail(consultation, *, action: str, now: datetime, **_extra) -> None:
    """Waiting for her answer, resolved (rate it), new consulta for the area's advisors."""
    if action == "ask":
        services.queue(
            consultation.user,
            "esperando_respuesta",
            {
                "subject": "Tu asesor/a espera tu respuesta",
                "lines": [
                    f"En tu consulta «{consultation.subject}» tu asesor/a necesita que le "
                    "respondas para seguir avanzando.",
                ],
                "action_url": _consulta_url(consultation.id),
                "action_label": "Responder en la consulta",
                "reason": "Recibes este correo porque abriste esta consulta.",
            },
            now=now,
        )
    elif action == "resolve":
        services.queue(
            consultation.user,
            "consulta_resuelta",
            {
                "subject": "Tu consulta fue resuelta",
                "lines": [
                    f"Tu consulta «{consultation.subject}» fue marcada como resuelta.",
                    "Cuéntanos cómo te fue: califícala en su página (toma un minuto). Si "
                    "algo quedó pendiente, puedes reabrirla dentro de 15 días.",
                ],
                "action_url": _consulta_url(consultation.id),
                "action_label": "Calificar la consulta",
                "reason": "Recibes este correo porque abriste esta consulta.",
            },
            now=now,
        )
    elif action in ("create", "open") and consultation.status == "nueva":
        for advisor in _advisors_of(consultation.area):
            _new_consulta(advisor, consultation, now)


def _advisors_of(area: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(
                User.role == "advisor",
                User.specialty == area,
                User.active.is_(True),
                User.deleted_at.is_(None),
            )
        )
    )


def _new_consulta(advisor: User, consultation: Consultation, now: datetime) -> None:
    """Immediately, or collected in the advisor's digest of the next N minutes. The email
    names the consulta by number and area only (nothing about the person)."""
    minutes = services.digest_minutes(advisor.id)
    if not minutes:
        services.queue(
            advisor,
            "nueva_consulta",
            {
                "subject": f"Nueva consulta #{consultation.id} en el área "
                f"{_area(consultation.area)}",
                "lines": [
                    f"Llegó la consulta #{consultation.id} al área {_area(consultation.area)} "
                    "y nadie la ha tomado todavía."
                ],
                "action_url": services.absolute_url("/asesor/consultas"),
                "action_label": "Ver la fila de consultas",
                "reason": "Recibes este correo porque eres asesor/a de esta área.",
            },
            now=now,
        )
        return
    key = f"digest:{advisor.id}"
    pending = services.pending_in_group(key)
    ids = list((pending.context or {}).get("ids", [])) if pending else []
    ids.append(consultation.id)
    count = len(ids)
    noun = "consulta nueva" if count == 1 else "consultas nuevas"
    context = {
        "subject": f"{count} {noun} en el área {_area(consultation.area)}",
        "lines": [
            f"Llegaron {count} {noun} al área {_area(consultation.area)}: "
            + ", ".join(f"#{i}" for i in ids)
            + ".",
            f"Recibes este resumen cada {minutes} minutos, como elegiste en tu perfil.",
        ],
        "action_url": services.absolute_url("/asesor/consultas"),
        "action_label": "Ver la fila de consultas",
        "reason": "Recibes este correo porque eres asesor/a de esta área.",
        "ids": ids,
    }
    if pending is not None:
        services.recompose(pending, advisor, context)
    else:
        services.queue(
            advisor,
            "nueva_consulta",
            context,
            now=now,
            group_key=key,
            send_at=now + timedelta(minutes=minutes),
        )


def in_consulta_room(user_id: int, consultation_id: int) -> bool:
    """Whether one of the person's chat sockets is in the consulta's room (this process:
    Socket.IO keeps no cross-server list, so with several servers the mail may still go)."""
    from sv_platform.advisory.events import NAMESPACE, room, user_room

    server = getattr(socketio, "server", None)
    if server is None:
        return False
    manager = server.manager
    in_room = {sid for sid, _ in manager.get_participants(NAMESPACE, room(consultation_id))}
    if not in_room:
        return False
    mine = {sid for sid, _ in manager.get_participants(NAMESPACE, user_room(user_id))}
    return bool(in_room & mine)


@message_posted.connect
def chat_mail(message, *, consultation, author, now: datetime, **_extra) -> None:
    """A message for someone not looking at the consulta: at most one email per consulta
    and person every 15 minutes, saying how many messages wait unread."""
    if author.id == consultation.user_id:
        recipient_id, kind = consultation.advisor_id, "respuesta_emprendedor"
    else:
        recipient_id, kind = consultation.user_id, "respuesta_asesor"
    if recipient_id is None or recipient_id == author.id:
        return
    if in_consulta_room(recipient_id, consultation.id):
        return  # reading it live (checked first: it costs no query)
    recipient = consultation.advisor if kind == "respuesta_emprendedor" else consultation.user
    if not services.may_email(recipient, kind):
        return
    key = f"chat:{consultation.id}:{recipient.id}"
    pending = services.pending_in_group(key)
    count = (pending.context or {}).get("count", 0) + 1 if pending else 1
    noun = "mensaje nuevo" if count == 1 else "mensajes nuevos"
    who = "tu asesor/a" if kind == "respuesta_asesor" else "la persona emprendedora"
    title = (
        f"«{consultation.subject}»"
        if kind == "respuesta_asesor"
        else f"#{consultation.id} ({_area(consultation.area)})"
    )
    context = {
        "subject": f"Tienes {count} {noun} en la consulta {title}",
        "lines": [
            f"Tienes {count} {noun} de {who} sin leer en la consulta {title}.",
            "Entra a la consulta para leerlos y responder.",
        ],
        "action_url": _consulta_url(consultation.id),
        "action_label": "Leer y responder",
        "reason": "Recibes este correo porque participas en esta consulta.",
        "count": count,
    }
    if pending is not None:
        services.recompose(pending, recipient, context)
        return
    last = services.last_in_group(key)
    send_at = now
    if last is not None and as_utc(last.created_at) + CHAT_WINDOW > as_utc(now):
        send_at = as_utc(last.created_at) + CHAT_WINDOW
    services.queue(recipient, kind, context, now=now, group_key=key, send_at=send_at)


# --- deadlines (job) -----------------------------------------------------------------


def business_time_left(now: datetime, due: datetime) -> timedelta:
    """Time from `now` to `due` counting only Chilean business days (weekends and holidays
    do not count); zero or negative once `due` passed."""
    from sv_platform.advisory.sla import is_business_day

    now, due = as_utc(now), as_utc(due)
    if due <= now:
        return due - now
    left = timedelta()
    cursor = now.astimezone(CHILE)
    end = due.astimezone(CHILE)
    while cursor < end:
        next_midnight = (cursor + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        next_midnight = next_midnight.replace(microsecond=0)
        stop = min(next_midnight, end)
        if is_business_day(cursor.date()):
            left += stop - cursor
        cursor = stop
        if left > SLA_NOTICE:
            break
    return left


TARGET_NAMES = {"first_response": "primera respuesta", "resolution": "resolución"}


def _sla_recipients(consultation: Consultation) -> list[User]:
    staff = [consultation.advisor] if consultation.advisor else _advisors_of(consultation.area)
    admins = db.session.scalars(
        select(User).where(User.role == "admin", User.active.is_(True), User.deleted_at.is_(None))
    )
    seen, people = set(), []
    for person in [*staff, *admins]:
        if person is not None and person.id not in seen:
            seen.add(person.id)
            people.append(person)
    return people


def warn_deadlines(now: datetime | None = None) -> int:
    """The job: a consulta whose first-response or resolution deadline is within 4
    business hours, or has passed, warns its advisor (every advisor of the area while
    unassigned) and the admins — once per consulta, target and stage (a unique row records
    it, so two runs at once cannot both warn). Returns how many warnings it recorded."""
    from sv_platform.advisory import sla

    now = now or utcnow()
    open_ids = list(
        db.session.scalars(
            select(Consultation.id).where(
                Consultation.status.in_(("nueva", "asignada", "en_curso", "esperando_emprendedor")),
                Consultation.opened_at.is_not(None),
            )
        )
    )
    db.session.commit()
    warned = 0
    for consultation_id in open_ids:
        consultation = db.session.get(Consultation, consultation_id)
        state = sla.sla_state(consultation, now=now)
        if state is None:
            continue
        left = business_time_left(now, state.due_at)
        stage = "vencido" if state.overdue else ("proximo" if left <= SLA_NOTICE else None)
        if stage is None:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    SlaWarning(
                        consultation_id=consultation.id,
                        target=state.target,
                        stage=stage,
                        created_at=now,
                    )
                )
        except IntegrityError:
            db.session.rollback()
            continue
        due = as_utc(state.due_at).astimezone(CHILE).strftime("%d-%m-%Y %H:%M")
        target = TARGET_NAMES[state.target]
        when = f"venció el {due}" if stage == "vencido" else f"vence el {due}"
        for person in _sla_recipients(consultation):
            services.queue(
                person,
                "plazo",
                {
                    "subject": f"Consulta #{consultation.id}: la {target} {when}",
                    "lines": [
                        f"El plazo de {target} de la consulta #{consultation.id} (área "
                        f"{_area(consultation.area)}, estado «{consultation.staff_status_label}») "
                        f"{when} (hora de Chile).",
                    ],
                    "action_url": _consulta_url(consultation.id),
                    "action_label": "Abrir la consulta",
                    "reason": "Recibes este correo porque atiendes o supervisas esta consulta.",
                },
                now=now,
            )
        db.session.commit()
        warned += 1
    return warned
