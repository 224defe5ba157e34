"""Account links sent by email: password recovery and email confirmation.

A link carries a signed `[row id, secret]`; only the secret's SHA-256 is stored and it is
compared in constant time. A recovery link lasts one hour and works once: using it, asking
for a newer one or changing the password voids it. Asking for a link always gets the same
answer, whether or not the account exists.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import update

from sv_platform.accounts import limits
from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import User
from sv_platform.accounts.passwords import hash_password
from sv_platform.accounts.signals import sessions_ended
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.extensions import db, write_transaction
from sv_platform.notifications import services
from sv_platform.notifications.models import AccountToken

log = logging.getLogger("sv_platform.security")

RESET = "reset"
CONFIRM = "confirm"
LIFETIMES = {RESET: timedelta(hours=1), CONFIRM: timedelta(days=3)}
ANSWER = (
    "Si existe una cuenta con ese RUT o correo, te enviamos un enlace para crear una nueva "
    "contraseña. Revisa tu correo (también la carpeta de spam); el enlace vale por 1 hora."
)


class LinkInvalid(DomainError):
    status = 400
    message = (
        "Este enlace ya no es válido: venció, ya se usó o pediste uno más nuevo. "
        "Pide otro enlace para recuperar tu contraseña."
    )


class ConfirmLinkInvalid(LinkInvalid):
    message = (
        "Este enlace de confirmación ya no es válido: venció, ya se usó o tu correo cambió. "
        "Ingresa y pide uno nuevo desde el aviso en la parte superior de la página."
    )


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"sv-account-{purpose}")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _void(user_id: int, purpose: str, now: datetime) -> None:
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


def issue(user: User, purpose: str, *, now: datetime) -> str:
    """In the caller's transaction: a new link token for `user` (older unused ones of the
    same purpose stop working). Returns the token to put in the link."""
    _void(user.id, purpose, now)
    secret = secrets.token_urlsafe(32)
    row = AccountToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_digest(secret),
        email=user.email,
        created_at=now,
        expires_at=now + LIFETIMES[purpose],
    )
    db.session.add(row)
    db.session.flush()
    return _serializer(purpose).dumps([row.id, secret])


def _check(token: str, purpose: str, now: datetime, error=LinkInvalid) -> AccountToken:
    try:
        row_id, secret = _serializer(purpose).loads(token or "")
    except (BadSignature, ValueError, TypeError) as exc:
        raise error() from exc
    if not isinstance(row_id, int) or not isinstance(secret, str):
        raise error()
    row = db.session.get(AccountToken, row_id, populate_existing=True)
    if row is None or row.purpose != purpose:
        raise error()
    if not hmac.compare_digest(row.token_hash, _digest(secret)):
        raise error()
    if row.used_at is not None or as_utc(row.expires_at) <= as_utc(now):
        raise error()
    return row


def _reset_mail(user: User, token: str, now: datetime, *, by_admin: bool) -> None:
    reason = (
        "Un equipo administrador de Servicios Virtuales pidió este enlace para tu cuenta."
        if by_admin
        else "Alguien (ojalá tú) pidió recuperar la contraseña de tu cuenta."
    )
    services.queue(
        user,
        "recuperacion",
        {
            "subject": "Crea una nueva contraseña",
            "lines": [
                reason,
                "Usa el botón para crear una nueva contraseña. El enlace vale por 1 hora y "
                "sirve una sola vez.",
                "Si no fuiste tú, ignora este correo: tu contraseña no cambia.",
            ],
            "action_url": services.absolute_url(f"/recuperar-contrasena/{token}"),
            "action_label": "Crear una nueva contraseña",
            "reason": "Recibes este correo porque se pidió recuperar la contraseña de tu cuenta.",
        },
        now=now,
    )


def request_reset(identifier: str, *, now: datetime | None = None) -> str:
    """Someone asks for a recovery link by RUT or email: an active account with an address
    gets one by email. Returns the same Spanish answer whether or not it exists."""
    now = now or utcnow()
    with write_transaction():
        user = accounts.find_by_identifier(identifier or "")
        if user is not None and user.is_active and user.email:
            _reset_mail(user, issue(user, RESET, now=now), now, by_admin=False)
            log.info("password reset link user=%s", user.id)
        db.session.commit()
    return ANSWER


def send_reset_link(user_id: int, actor, *, now: datetime | None = None) -> User:
    """An admin sends a person a recovery link (audited). Raises NotAllowed, NotFound."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    now = now or utcnow()
    with write_transaction():
        user = db.session.get(User, user_id)
        if user is None or not user.is_active or not user.email:
            raise NotFound("La cuenta no existe o no tiene correo.")
        _reset_mail(user, issue(user, RESET, now=now), now, by_admin=True)
        accounts.record_audit(
            actor, "send_reset_link", "user", user.id, None, {"email": user.email}, commit=False
        )
        db.session.commit()
    return user


def check_reset(token: str, *, now: datetime | None = None) -> User:
    """The person a valid recovery link belongs to (the form page). Raises LinkInvalid."""
    row = _check(token, RESET, now or utcnow())
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise LinkInvalid()
    return user


def reset_password(token: str, new_password: str, *, now: datetime | None = None) -> User:
    """Set a new password from a recovery link (registration rules), use the link up, end
    every session; the owner is told by email. Raises LinkInvalid, InvalidInput.

    The password is hashed before the write lock is taken (the caller's reads must take
    none: a view marked `reads_without_lock`)."""
    now = now or utcnow()
    hashed = hash_password(new_password)
    with write_transaction():
        row = _check(token, RESET, now)
        user = db.session.get(User, row.user_id, with_for_update=True, populate_existing=True)
        if user is None or not user.is_active:
            raise LinkInvalid()
        row.used_at = now
        accounts.set_password(user, new_password, now=now, hashed=hashed)
        user_id = user.id
        db.session.commit()
    log.info("password reset user=%s", user_id)
    limits.clear_account_lock(user_id)  # proved who they are: no wait for the login limit
    sessions_ended.send(user_id)
    return user


def send_confirmation(user: User, *, now: datetime) -> None:
    """In the caller's transaction: a link that confirms the account's current address."""
    if not user.email or not user.is_active:
        return
    token = issue(user, CONFIRM, now=now)
    services.queue(
        user,
        "confirmacion",
        {
            "subject": "Confirma tu correo",
            "lines": [
                f"Confirma que {user.email} es tu correo en Servicios Virtuales.",
                "Así podremos avisarte cuando respondan tus consultas o tengas un cupo.",
            ],
            "action_url": services.absolute_url(f"/correo/confirmar/{token}"),
            "action_label": "Confirmar mi correo",
            "reason": "Recibes este correo porque esta dirección se registró en tu cuenta.",
        },
        now=now,
    )


def resend_confirmation(user: User, *, now: datetime | None = None) -> None:
    """The person asks again for the confirmation link (the notice's button)."""
    now = now or utcnow()
    with write_transaction():
        fresh = db.session.get(User, user.id, populate_existing=True)
        if fresh.email_confirmed_at is None:
            send_confirmation(fresh, now=now)
        db.session.commit()


def send_email_confirmation(user_id: int, actor, *, now: datetime | None = None) -> User:
    """An admin sends a person the email-confirmation link again (audited). Raises
    NotAllowed, NotFound, InvalidInput (the address is already confirmed)."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    now = now or utcnow()
    with write_transaction():
        user = db.session.get(User, user_id, populate_existing=True)
        if user is None or user.deleted_at is not None or not user.email:
            raise NotFound("La cuenta no existe o no tiene correo.")
        if user.email_confirmed_at is not None:
            raise InvalidInput("Ese correo ya está confirmado.")
        send_confirmation(user, now=now)
        accounts.record_audit(
            actor,
            "send_email_confirmation",
            "user",
            user.id,
            None,
            {"email": user.email},
            commit=False,
        )
        db.session.commit()
    return user


def confirm_email(token: str, *, now: datetime | None = None) -> User:
    """Confirm the address a link was sent to (no login needed: the link is the proof).
    Raises ConfirmLinkInvalid (bad, expired or used link, or the address changed)."""
    now = now or utcnow()
    with write_transaction():
        row = _check(token, CONFIRM, now, error=ConfirmLinkInvalid)
        user = db.session.get(User, row.user_id, with_for_update=True, populate_existing=True)
        if user is None or not accounts.mark_email_confirmed(user, row.email or "", now=now):
            raise ConfirmLinkInvalid()
        row.used_at = now
        db.session.commit()
    return user


def password_changed_notice(user: User, *, now: datetime) -> None:
    """In the password change's transaction: recovery links stop working and the owner
    is told by email (account security: sent even to an unconfirmed address)."""
    _void(user.id, RESET, now)
    services.queue(
        user,
        "contrasena_cambiada",
        {
            "subject": "Tu contraseña cambió",
            "lines": [
                "La contraseña de tu cuenta en Servicios Virtuales acaba de cambiar y se "
                "cerraron todas las sesiones abiertas.",
                "Si no fuiste tú, pide un enlace para recuperar tu contraseña de inmediato.",
            ],
            "action_url": services.absolute_url("/recuperar-contrasena"),
            "action_label": "Recuperar mi contraseña",
            "reason": "Recibes este correo para proteger tu cuenta.",
        },
        now=now,
    )
