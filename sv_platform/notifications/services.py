"""The outbox: which emails a person gets (kinds, preferences, confirmed address), how an
email is composed and queued in the caller's transaction, unsubscribe links, admin list."""

import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_, select, update

from sv_platform.accounts.models import User
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db, write_transaction
from sv_platform.notifications.models import MAIL_STATUSES, MailPreference, OutboxMail

PLATFORM = "Servicios Virtuales"


@dataclass(frozen=True)
class Kind:
    label: str  # what the preference and the unsubscribe page call it
    roles: tuple[str, ...]  # who can receive it (and sees it in /perfil)
    security: bool = False  # account security: always sent, even to an unconfirmed address


KINDS: dict[str, Kind] = {
    "respuesta_asesor": Kind("Tu asesor/a respondió en tu consulta", ("entrepreneur",)),
    "esperando_respuesta": Kind("Tu asesor/a espera tu respuesta", ("entrepreneur",)),
    "consulta_resuelta": Kind("Tu consulta fue resuelta", ("entrepreneur",)),
    "cupo_asignado": Kind("Saliste de la lista de espera y tienes cupo", ("entrepreneur",)),
    "egreso": Kind("Terminaste un curso: tu certificado", ("entrepreneur",)),
    "nueva_consulta": Kind("Nueva consulta en tu especialidad", ("advisor",)),
    "respuesta_emprendedor": Kind("La persona emprendedora respondió", ("advisor",)),
    "plazo": Kind("Plazos de respuesta por vencer o vencidos", ("advisor", "admin")),
    "recuperacion": Kind("Recuperar contraseña", (), security=True),
    "contrasena_cambiada": Kind("Tu contraseña cambió", (), security=True),
    "confirmacion": Kind("Confirmar tu correo", (), security=True),
    "intento_registro": Kind("Alguien intentó registrarse con tus datos", (), security=True),
}
DIGEST_CHOICES = {0: "Al momento", 30: "Resumen cada 30 minutos", 120: "Resumen cada 2 horas"}
DIGEST_KIND = "nueva_consulta"
PAGE_SIZE = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class UnsubscribeLinkInvalid(DomainError):
    status = 400
    message = "Este enlace para dejar de recibir correos no es válido. Revisa que esté completo."


def clean_header(value: str | None, limit: int = 200) -> str:
    """A header value on one line: CR, LF and other control characters become a space (a
    name or subject can never add a header)."""
    return " ".join(_CONTROL.sub(" ", value or "").split())[:limit]


def absolute_url(path: str) -> str:
    """An absolute link from SV_BASE_URL and a local path (links never carry a session)."""
    return current_app.config["BASE_URL"].rstrip("/") + path


def kinds_for(user: User) -> list[str]:
    """The kinds of email a person can choose in their profile (by role)."""
    return [name for name, kind in KINDS.items() if user.role in kind.roles]


def _preference(user_id: int, kind: str) -> MailPreference | None:
    with db.session.no_autoflush:  # mails queued in this transaction need no flush to decide
        return db.session.scalar(
            select(MailPreference).where(
                MailPreference.user_id == user_id, MailPreference.kind == kind
            )
        )


def digest_minutes(user_id: int) -> int:
    """0 for 'send each new consulta at once', otherwise the digest period in minutes."""
    pref = _preference(user_id, DIGEST_KIND)
    return pref.digest_minutes if pref else 0


def may_email(user: User | None, kind: str) -> bool:
    """The rule for every email: an active account with an address; account-security mail
    goes even to an unconfirmed address, every other kind only to a confirmed one whose
    owner did not switch that kind off."""
    if user is None or not user.is_active or not user.email:
        return False
    spec = KINDS[kind]
    if spec.security:
        return True
    if user.role not in spec.roles or user.email_confirmed_at is None:
        return False
    pref = _preference(user.id, kind)
    return pref is None or pref.enabled


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="sv-unsubscribe")


def unsubscribe_url(user_id: int, kind: str) -> str:
    """The signed one-click link that switches one kind off for one person, no login."""
    token = _serializer().dumps([user_id, kind])
    return absolute_url(f"/correos/baja/{token}")


def read_unsubscribe(token: str) -> tuple[User, str]:
    """The person and kind a link names. Raises UnsubscribeLinkInvalid."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError) as exc:
        raise UnsubscribeLinkInvalid() from exc
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or kind not in KINDS or KINDS[kind].security:
        raise UnsubscribeLinkInvalid()
    return user, kind


def _set_enabled(user_id: int, kind: str, enabled: bool, *, now: datetime) -> MailPreference:
    pref = _preference(user_id, kind)
    if pref is None:
        pref = MailPreference(user_id=user_id, kind=kind)
        db.session.add(pref)
    pref.enabled, pref.updated_at = enabled, now
    return pref


def unsubscribe(token: str, *, now: datetime | None = None) -> tuple[User, str]:
    """One-click unsubscribe: that kind only is switched off for the link's owner; pending
    mails of that kind to them are dropped. Raises UnsubscribeLinkInvalid."""
    now = now or utcnow()
    with write_transaction():
        user, kind = read_unsubscribe(token)
        _set_enabled(user.id, kind, False, now=now)
        _drop_pending(user.id, [kind], now)
        db.session.commit()
    return user, kind


def _drop_pending(user_id: int, kinds: list[str], now: datetime) -> None:
    if kinds:
        db.session.execute(
            update(OutboxMail)
            .where(
                OutboxMail.user_id == user_id,
                OutboxMail.kind.in_(kinds),
                OutboxMail.status == "pending",
            )
            .values(status="failed", last_error="Cancelado: la persona no quiere este correo.")
        )


@dataclass(frozen=True)
class PreferenceRow:
    kind: str
    label: str
    enabled: bool


def preferences_for(user: User) -> list[PreferenceRow]:
    """Each kind the person can choose, on or off (on unless they switched it off)."""
    prefs = {
        p.kind: p
        for p in db.session.scalars(select(MailPreference).where(MailPreference.user_id == user.id))
    }
    return [
        PreferenceRow(kind, KINDS[kind].label, prefs[kind].enabled if kind in prefs else True)
        for kind in kinds_for(user)
    ]


def save_preferences(
    user: User, enabled: set[str], digest: int | None = None, *, now: datetime | None = None
) -> list[PreferenceRow]:
    """Store the person's choices: every kind of their role not in `enabled` is off; an
    advisor also picks immediate or digest for new consultas. Raises InvalidInput."""
    now = now or utcnow()
    allowed = kinds_for(user)
    if set(enabled) - set(allowed):
        raise InvalidInput("Elige solo tipos de correo de la lista.")
    if digest is not None and (DIGEST_KIND not in allowed or digest not in DIGEST_CHOICES):
        raise InvalidInput("Elige cada cuánto recibir las consultas nuevas.", field="digest")
    with write_transaction():
        for kind in allowed:
            pref = _set_enabled(user.id, kind, kind in enabled, now=now)
            if kind == DIGEST_KIND and digest is not None:
                pref.digest_minutes = digest
        _drop_pending(user.id, [k for k in allowed if k not in enabled], now)
        db.session.commit()
    return preferences_for(user)


def render_mail(kind: str, user: User, context: dict) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of an email, from the shared Spanish templates.

    `context`: subject, lines (paragraphs), action_url, action_label, reason; the greeting
    uses only the recipient's own first name."""
    spec = KINDS[kind]
    values = {
        **context,
        "platform": PLATFORM,
        "first_name": clean_header(user.first_name, 60),
        "kind_label": spec.label,
        "unsubscribe_url": None if spec.security else unsubscribe_url(user.id, kind),
        "profile_url": absolute_url("/perfil"),
    }
    subject = clean_header(f"{context['subject']} · {PLATFORM}")
    env = current_app.jinja_env  # no request needed: jobs compose mail too
    text = env.get_template("notifications/email/message.txt").render(**values)
    html = env.get_template("notifications/email/message.html").render(**values)
    return subject, text, html


def queue(
    user: User,
    kind: str,
    context: dict,
    *,
    now: datetime,
    group_key: str | None = None,
    send_at: datetime | None = None,
) -> OutboxMail | None:
    """Add an email to the outbox in the caller's transaction (never commits): it is sent
    only if that transaction commits. None when the rule (`may_email`) says not to."""
    if not may_email(user, kind):
        return None
    subject, text, html = render_mail(kind, user, context)
    mail = OutboxMail(
        kind=kind,
        user_id=user.id,
        to_addr=user.email,
        to_name=clean_header(user.name, 120),
        subject=subject,
        body_text=text,
        body_html=html,
        unsubscribe_url=None if KINDS[kind].security else unsubscribe_url(user.id, kind),
        group_key=group_key,
        context=context,
        status="pending",
        next_attempt_at=send_at or now,
        created_at=now,
    )
    db.session.add(mail)
    return mail


def pending_in_group(group_key: str) -> OutboxMail | None:
    """The mail of a group not sent yet (a digest or chat summary still collecting)."""
    return db.session.scalar(
        select(OutboxMail)
        .where(OutboxMail.group_key == group_key, OutboxMail.status == "pending")
        .order_by(OutboxMail.id.desc())
        .limit(1)
        .with_for_update()
    )


def last_in_group(group_key: str) -> OutboxMail | None:
    return db.session.scalar(
        select(OutboxMail)
        .where(OutboxMail.group_key == group_key)
        .order_by(OutboxMail.id.desc())
        .limit(1)
    )


def recompose(mail: OutboxMail, user: User, context: dict) -> OutboxMail:
    """A pending mail of a group gets its new content (one more item in the summary)."""
    mail.context = context
    mail.subject, mail.body_text, mail.body_html = render_mail(mail.kind, user, context)
    return mail


@dataclass(frozen=True)
class OutboxPage:
    mails: list[OutboxMail]
    total: int
    page: int
    pages: int
    counts: dict[str, int]
    query: str
    status: str


def outbox_page(
    actor, *, query: str = "", status: str = "", page: int = 1, per_page: int = PAGE_SIZE
) -> OutboxPage:
    """The admin's view of the outbox: newest first, searchable by address, subject or kind,
    filtered by status, paginated, with the count per status. Raises NotAllowed."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    query = (query or "").strip()[:100]
    status = status if status in MAIL_STATUSES else ""
    stmt = select(OutboxMail)
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(OutboxMail.to_addr).like(like),
                func.lower(OutboxMail.subject).like(like),
                OutboxMail.kind.like(like),
            )
        )
    if status:
        stmt = stmt.where(OutboxMail.status == status)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    mails = list(
        db.session.scalars(
            stmt.order_by(OutboxMail.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
    )
    counts = dict(
        db.session.execute(
            select(OutboxMail.status, func.count()).group_by(OutboxMail.status)
        ).all()
    )
    return OutboxPage(mails, total, page, pages, counts, query, status)


def retry(mail_id: int, *, actor, now: datetime | None = None) -> OutboxMail:
    """An admin sends a failed mail again: it goes back to pending with fresh attempts;
    audited. Raises NotAllowed, NotFound, InvalidInput (only failed mails)."""
    from sv_platform.accounts import services as accounts

    if actor is None or actor.role != "admin":
        raise NotAllowed()
    now = now or utcnow()
    with write_transaction():
        mail = db.session.get(OutboxMail, mail_id, with_for_update=True, populate_existing=True)
        if mail is None:
            raise NotFound("Ese correo no existe.")
        if mail.status != "failed":
            raise InvalidInput("Solo se reintentan correos fallidos.")
        mail.status, mail.attempts, mail.next_attempt_at = "pending", 0, now
        mail.claim_token, mail.claimed_until = None, None
        accounts.record_audit(
            actor,
            "retry_mail",
            "outbox_mail",
            mail.id,
            {"status": "failed"},
            {"status": "pending"},
            commit=False,
        )
        db.session.commit()
    return mail
