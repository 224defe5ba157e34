"""The chat of a consulta: messages (idempotent by client id), read marks, rate limits,
typing signals and the staff's internal notes. The socket events and the no-JS form call
the same functions."""

import logging
import re
import threading
import time
from collections import deque
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import Notification
from sv_platform.advisory import attachments
from sv_platform.advisory.access import (
    consultation_key,
    get_consultation,
    is_staff,
    lock_for_message,
    url_for_consultation,
)
from sv_platform.advisory.lifecycle import InvalidTransition, apply_transition
from sv_platform.advisory.models import Attachment, Consultation, InternalNote, Message, ReadMark
from sv_platform.advisory.signals import message_posted
from sv_platform.core.domain import MAX_ID, DomainError, InvalidInput, NotAllowed
from sv_platform.core.formatting import datetime_cl
from sv_platform.core.text import render_markdown
from sv_platform.core.timeutil import UTCDateTime, as_utc, utcnow
from sv_platform.extensions import add_as_loaded, commit_keeping_loaded, db, write_transaction

log = logging.getLogger(__name__)

BODY_MAX = 5_000


NOTE_MAX = 5_000


CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


DEFAULT_CHAT_RATE = "20 per 10 seconds"

# How a message's time reads on the page and in live messages alike.
MESSAGE_TIME = "d MMM, HH:mm"


class ConsultationClosed(DomainError):
    code = "closed"
    status = 409
    message = "Esta consulta está cerrada: ya no recibe mensajes."


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


class _ProcessMovingWindow:
    """The moving-window limit of `limits`, kept in this process's memory.

    `limits`' own memory storage wakes a timer thread every 10 ms while any hit is stored,
    which walks every key under its lock, and starts a new thread for it after each hit:
    with hundreds of people chatting that cost more interpreter time than the check
    itself. This keeps, per person and kind, the times of the hits still inside the window
    (the same rule: at most `amount` hits in any `expiry` seconds)."""

    def __init__(self):
        self._hits: dict[tuple, deque] = {}
        self._lock = threading.Lock()
        self._prune_at = time.monotonic() + _PRUNE_EVERY_S

    def hit(self, rate, *identifiers: str) -> bool:
        now = time.monotonic()
        key = (rate.amount, rate.get_expiry(), *identifiers)
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            start = now - rate.get_expiry()
            while hits and hits[0] <= start:
                hits.popleft()
            if len(hits) >= rate.amount:
                return False
            hits.append(now)
            if now >= self._prune_at:
                self._prune(now)
            return True

    def _prune(self, now: float) -> None:
        """Forget whoever has no hit left inside their window (once a minute, locked)."""
        self._prune_at = now + _PRUNE_EVERY_S
        stale = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - k[1]]
        for key in stale:
            del self._hits[key]


_PRUNE_EVERY_S = 60


def _chat_limiter():
    """Per-user send limit, stored where RATELIMIT_STORAGE_URI says (Redis in production,
    so every process shares it; `memory://` keeps it in this process)."""
    app = current_app._get_current_object()
    limiter = app.extensions.get("sv_advisory_chat_limiter")
    if limiter is None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        rate = parse_limit(app.config.get("CHAT_RATE_LIMIT", DEFAULT_CHAT_RATE))
        if uri.startswith("memory://"):
            strategy = _ProcessMovingWindow()
        else:
            strategy = MovingWindowRateLimiter(storage_from_string(uri))
        limiter = (strategy, rate)
        app.extensions["sv_advisory_chat_limiter"] = limiter
    return limiter


def _within_limit(rate, kind: str, user_id: int) -> bool:
    """Count one hit against `rate`; with the limit storage unreachable the hit is allowed
    (and logged): the chat must keep working when Redis does not."""
    strategy, _rate = _chat_limiter()
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    try:
        return strategy.hit(rate, f"{prefix}{kind}", str(user_id))
    except Exception:  # noqa: BLE001 - storage down: allow rather than fail the chat
        log.warning("chat rate-limit storage unreachable; %s allowed", kind, exc_info=True)
        return True


def _hit_rate_limit(user_id: int) -> None:
    if not _within_limit(_chat_limiter()[1], "advisory-chat", user_id):
        raise RateLimited()


TYPING_RATE = parse_limit("30 per 10 seconds")


def note_typing(consultation_id, user) -> Consultation:
    """Someone in the consulta is typing: only participants, and at most 30 signals per
    10 seconds per person (the browser sends one every few seconds). Raises NotFound,
    NotAllowed, RateLimited."""
    consultation = get_consultation(consultation_id, user)
    if not _within_limit(TYPING_RATE, "advisory-typing", user.id):
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
        check_can_post(consultation, user)
    except DomainError:
        return False
    return True


def takes_by_answering(consultation: Consultation, author) -> bool:
    """Whether `author`'s message takes the consulta (rule: as in a help desk, an advisor
    of the area who answers a new, unassigned consulta takes it)."""
    return (
        consultation.status == "nueva"
        and consultation.advisor_id is None
        and author.role == "advisor"
        and author.specialty == consultation.area
    )


def check_can_post(consultation: Consultation, author) -> None:
    """The chat accepts `author`'s message in this state. Raises ConsultationClosed,
    NotAllowed, InvalidTransition (a waiting consulta, or an admin's answer to an
    unassigned one: it must be assigned first)."""
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
    if takes_by_answering(consultation, author):
        return
    if status == "en_espera":
        raise InvalidTransition(
            "Esta consulta está en lista de espera: se podrá responder cuando tenga cupo."
        )
    if status == "nueva":
        raise InvalidTransition("Asigna la consulta a un asesor/a antes de responder.")
    if author.role == "advisor" and consultation.advisor_id != author.id:
        raise NotAllowed("Esta consulta está asignada a otra persona.")


_STORED_MESSAGE = text(
    "SELECT id FROM message WHERE consultation_id = :consultation_id"
    " AND author_id = :author_id AND client_msg_id = :client_msg_id"
)


def _find_message(consultation_id: int, author_id: int, client_msg_id: str) -> Message | None:
    """The message already stored under this client id, if any (plain SQL: almost every
    send finds none, and only a retry loads the message)."""
    found = (
        db.session.connection()
        .execute(
            _STORED_MESSAGE,
            {
                "consultation_id": consultation_id,
                "author_id": author_id,
                "client_msg_id": client_msg_id,
            },
        )
        .scalar()
    )
    return None if found is None else db.session.get(Message, found)


_INSERT_MESSAGE = insert(Message.__table__)


def _insert_message(consultation_id, author_id, body, client_msg_id, now) -> Message:
    """One Core INSERT, and the message in the session as if loaded: the ORM's flush of a
    new object costs several times the statement, on every message. A message with this
    client id already stored raises IntegrityError (the unique constraint)."""
    values = {
        "consultation_id": consultation_id,
        "author_id": author_id,
        "body": body,
        "client_msg_id": client_msg_id,
        "created_at": now,
    }
    result = db.session.connection().execute(_INSERT_MESSAGE, values)
    return add_as_loaded(Message(id=result.inserted_primary_key[0], **values))


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
    """A notice for the other side unless they still have an unread one for this consulta
    (reading the consulta clears it; a new message is always past their read mark)."""
    recipient = (
        consultation.advisor_id if author.id == consultation.user_id else consultation.user_id
    )
    if recipient is None or recipient == author.id:
        return
    accounts.notify_unless_unread(
        recipient,
        f"Nuevo mensaje de {author.name} en «{consultation.subject}».",
        url_for_consultation(consultation.id),
        now=message.created_at,
    )


def _check_room_for_files(consultation: Consultation, count: int) -> None:
    if not count:
        return
    stored = db.session.scalar(
        select(func.count())
        .select_from(Attachment)
        .where(Attachment.consultation_id == consultation.id)
    )
    if stored + count > attachments.MAX_PER_CONSULTATION:
        left = max(0, attachments.MAX_PER_CONSULTATION - stored)
        raise InvalidInput(
            f"Una consulta admite hasta {attachments.MAX_PER_CONSULTATION} archivos en total"
            + (f"; puedes adjuntar {left} más." if left else " y ya los tiene."),
            field="attachments",
        )


def _stored_or_refuse(consultation_id, author, client_msg_id, refusal) -> PostResult:
    """A send that was refused: the message this client id already stored (a retry whose
    ack was lost), or the refusal."""
    existing = _find_message(consultation_id, author.id, client_msg_id)
    if existing is None:
        raise refusal
    return PostResult(existing, False)


def post_message(
    consultation_id,
    author,
    body,
    client_msg_id,
    *,
    files=(),
    now: datetime | None = None,
) -> PostResult:
    """Store a chat message with its attachments (the socket event, the JS upload and the
    HTML form all call this). The same (author, client_msg_id) returns the stored message
    instead of a new one. An advisor of the area answering a new consulta takes it
    (nueva → asignada → en_curso); the advisor's first message starts the conversation
    (asignada → en_curso); the entrepreneur's reply ends a wait (esperando_emprendedor →
    en_curso). Files: up to 3 per message and 20 per consulta, PDF/JPG/PNG checked by
    content. Message, files and state change commit together. Rate-limited per user.
    Raises NotFound, NotAllowed, InvalidInput, ConsultationClosed, InvalidTransition,
    RateLimited.

    A text message reads nothing before its write: the consulta is read, locked and
    checked by the one UPDATE … RETURNING that also touches it, and a repeated client id
    is caught by the unique constraint. Only when something refuses it is the stored
    message looked for (a retry whose ack was lost gets the message it stored, even if
    the consulta closed or the limit was reached since). Files are checked by content
    only once the consulta is known to accept the author's message."""
    consultation_id = consultation_key(consultation_id)
    if not isinstance(client_msg_id, str) or not CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput("El mensaje no trae un identificador válido.", field="body")
    if body is None and files:
        body = ""
    if not isinstance(body, str):
        raise InvalidInput("Escribe un mensaje antes de enviarlo.", field="body")
    body = body.strip()
    if len(body) > BODY_MAX:
        raise InvalidInput(f"El mensaje puede tener hasta {BODY_MAX} caracteres.", field="body")
    if not body and not files:
        raise InvalidInput("Escribe un mensaje antes de enviarlo.", field="body")
    try:
        if files:
            check_can_post(get_consultation(consultation_id, author), author)
        _hit_rate_limit(author.id)
    except (ConsultationClosed, InvalidTransition, RateLimited) as refusal:
        return _stored_or_refuse(consultation_id, author, client_msg_id, refusal)
    checked = attachments.check_files(files, max_mb=current_app.config["MAX_UPLOAD_MB"])
    if not body and not checked:
        raise InvalidInput("Escribe un mensaje antes de enviarlo.", field="body")
    now = now or utcnow()
    upload_dir = current_app.config["UPLOAD_DIR"]
    stored: list[str] = []
    with write_transaction(keep_loaded=True):
        consultation = lock_for_message(consultation_id, author, now)
        try:
            check_can_post(consultation, author)
        except (ConsultationClosed, InvalidTransition) as refusal:
            db.session.rollback()
            return _stored_or_refuse(consultation_id, author, client_msg_id, refusal)
        _check_room_for_files(consultation, len(checked))
        if author.role != "entrepreneur":
            if takes_by_answering(consultation, author):
                apply_transition(consultation, "take", author, now, note="al responder")
                consultation.advisor_id, consultation.assigned_at = author.id, now
            if consultation.status == "asignada":
                apply_transition(consultation, "respond", author, now)
            if consultation.first_response_at is None:
                consultation.first_response_at = now
        elif consultation.status == "esperando_emprendedor":
            apply_transition(consultation, "reply", author, now)
        try:
            message = _insert_message(consultation.id, author.id, body, client_msg_id, now)
            for item in checked:
                name = attachments.store(upload_dir, item)
                stored.append(name)
                db.session.add(attachments.record(consultation, author, item, name, now, message))
            _mark_own_message_read(consultation.id, author.id, message.id, now)
            _notify_recipient(consultation, author, message)
            message_posted.send(message, consultation=consultation, author=author, now=now)
            # the message, its author and its consulta are what was just written: the
            # payload reads nothing again
            commit_keeping_loaded()
        except IntegrityError:  # this client id is stored: everything here rolled back
            db.session.rollback()
            attachments.remove(upload_dir, stored)
            existing = _find_message(consultation_id, author.id, client_msg_id)
            if existing is None:
                raise
            return PostResult(existing, False)
        except BaseException:
            attachments.remove(upload_dir, stored)
            raise
    if stored:
        db.session.refresh(message, ["attachments"])
    else:
        set_committed_value(message, "attachments", [])
    return PostResult(message, True)


def check_history_request(consultation_id, user, after_id=None) -> None:
    """What `messages_after` checks — the position and the access — without reading the
    history: a socket is refused before it enters the consulta's room. Raises NotFound,
    NotAllowed, InvalidInput."""
    if after_id is not None:
        _message_id(after_id, "after_id")
    get_consultation(consultation_id, user)


def messages_after(consultation_id, user, after_id=None) -> list[Message]:
    """Messages with id > after_id (all when None), oldest first. Raises NotFound,
    NotAllowed, InvalidInput."""
    consultation = get_consultation(consultation_id, user)
    query = select(Message).where(Message.consultation_id == consultation.id)
    if after_id is not None:
        query = query.where(Message.id > _message_id(after_id, "after_id"))
    return list(db.session.scalars(query.order_by(Message.id)))


def attachment_payload(item: Attachment) -> dict:
    """A file as the page lists it: its safe download name, size and authorized URL."""
    return {
        "id": item.id,
        "name": attachments.download_name(item.original_name, item.content_type),
        "content_type": item.content_type,
        "size_kb": max(1, round(item.size / 1024)),
        "url": attachments.url_for_attachment(item),
    }


def message_payload(message: Message) -> dict:
    """The protocol's message object; body_html is sanitized Markdown, `created_label` the
    time as every page shows it (24-hour es-CL, America/Santiago), `attachments` its files."""
    author = message.author
    return {
        "id": message.id,
        "consultation_id": message.consultation_id,
        "author_id": message.author_id,
        "author_name": author.name if author else "Cuenta eliminada",
        "author_role": author.role if author else "entrepreneur",
        "body_html": str(render_markdown(message.body, hard_breaks=True, images=False)),
        "created_at": as_utc(message.created_at).isoformat(),
        "created_label": datetime_cl(message.created_at, MESSAGE_TIME),
        "client_msg_id": message.client_msg_id,
        "attachments": [attachment_payload(a) for a in message.attachments],
    }


def _mark_read_in_transaction(
    consultation_id: int, user_id: int, up_to_id: int, now: datetime
) -> int:
    """Move the mark forward inside the caller's write transaction; returns the mark."""
    mark = db.session.scalar(
        select(ReadMark)
        .where(ReadMark.consultation_id == consultation_id, ReadMark.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if mark is None:
        mark = ReadMark(consultation_id=consultation_id, user_id=user_id, last_read_id=0)
        db.session.add(mark)
    if up_to_id > mark.last_read_id:
        mark.last_read_id, mark.updated_at = up_to_id, now
    return mark.last_read_id


# One statement on both databases, safe against the same person's first `read` racing
# their first message (on PostgreSQL a plain UPDATE-then-INSERT could hit the unique pair).
_MOVE_OWN_MARK = text(
    "INSERT INTO consultation_read (consultation_id, user_id, last_read_id, updated_at)"
    " VALUES (:consultation_id, :user_id, :message_id, :now)"
    " ON CONFLICT (consultation_id, user_id) DO UPDATE"
    " SET last_read_id = excluded.last_read_id, updated_at = excluded.updated_at"
    " WHERE consultation_read.last_read_id < excluded.last_read_id"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _mark_own_message_read(consultation_id: int, user_id: int, message_id: int, now) -> None:
    """The author has read their own new message: one upsert of their mark (a new
    message's id is above every mark, so it always moves)."""
    db.session.connection().execute(
        _MOVE_OWN_MARK,
        {
            "message_id": message_id,
            "now": now,
            "consultation_id": consultation_id,
            "user_id": user_id,
        },
    )


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
        mark = _mark_read_in_transaction(consultation.id, user.id, up_to_id, now)
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
    """user id → the last message id each participant read."""
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
    """Internal notes of the consulta: staff only (empty for the entrepreneur)."""
    if not is_staff(user):
        return []
    return list(
        db.session.scalars(
            select(InternalNote)
            .where(InternalNote.consultation_id == consultation.id)
            .order_by(InternalNote.id)
        )
    )
