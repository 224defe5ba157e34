"""Socket.IO handlers of the /chat namespace: thin like views, same services as the form."""

import logging
import threading
from functools import wraps
from urllib.parse import urlsplit

from flask import g, request
from flask_login import current_user
from flask_socketio import join_room, leave_room
from flask_wtf.csrf import validate_csrf
from sqlalchemy import event
from wtforms.validators import ValidationError

from sv_platform.accounts.signals import sessions_ended
from sv_platform.advisory import chat, live
from sv_platform.advisory.models import STAFF_STATUSES, STATUSES
from sv_platform.advisory.signals import consultation_changed
from sv_platform.core.domain import DomainError, valid_id
from sv_platform.extensions import (
    CHAT_EVENT_SLOTS,
    db,
    read_anew,
    socket_event_transactions,
    socketio,
)

log = logging.getLogger("sv_platform.security")
NAMESPACE = "/chat"


def room(consultation_id: int) -> str:
    return f"consulta-{consultation_id}"


def user_room(user_id: int) -> str:
    return f"usuario-{user_id}"


@sessions_ended.connect
def drop_user_sockets(user_id, **_extra) -> None:
    """Logout, password change, disabled or deleted account: the user's chat sockets are
    disconnected on every server process, so they stop receiving room broadcasts at once."""
    socketio.server.manager.disconnect_room(user_room(user_id), NAMESPACE)


def broadcast_message(payload: dict, *, skip_sid=None) -> None:
    """Send a stored message to everyone in its room (after it was stored)."""
    socketio.emit(
        "message",
        payload,
        to=room(payload["consultation_id"]),
        namespace=NAMESPACE,
        skip_sid=skip_sid,
    )


def status_payload(consultation_id: int, status: str) -> dict:
    """The `status` event: the new state, its label for the entrepreneur (`status_label`)
    and for staff, and where each page fetches the actions now open to its own viewer
    (actions differ per viewer, so they are never broadcast to the room)."""
    return {
        "consultation_id": consultation_id,
        "status": status,
        "status_label": STATUSES.get(status, status),
        "staff_status_label": STAFF_STATUSES.get(status, status),
        "state_url": f"/consultas/{consultation_id}/estado",
    }


def broadcast_status(consultation_id: int, status: str) -> None:
    socketio.emit(
        "status",
        status_payload(consultation_id, status),
        to=room(consultation_id),
        namespace=NAMESPACE,
    )


_PENDING = "sv_advisory_status_changes"


@consultation_changed.connect
def status_after_commit(consultation, **_extra) -> None:
    """Every change of state (from a page, a socket, a job or another domain's
    transaction) is announced to the consulta's room once its transaction commits; a
    rollback announces nothing."""
    session = db.session()
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = {}

        def on_commit(_session):
            event.remove(session, "after_rollback", on_rollback)
            changes = session.info.pop(_PENDING, {})
            for consultation_id, status in changes.items():
                try:
                    broadcast_status(consultation_id, status)
                except Exception:  # noqa: BLE001 - the change is stored; pages catch up on join
                    log.warning("status broadcast failed", exc_info=True)

        def on_rollback(_session):
            event.remove(session, "after_commit", on_commit)
            session.info.pop(_PENDING, None)

        event.listen(session, "after_commit", on_commit, once=True)
        event.listen(session, "after_rollback", on_rollback, once=True)
    pending[consultation.id] = consultation.status


def _fail(code: str, error: DomainError | None = None) -> dict:
    """A refusal ack; a domain error also says in Spanish what happened."""
    if error is None:
        return {"ok": False, "error": code}
    return {"ok": False, "error": code, "message": error.message}


def _active_user():
    """The session's user, re-read at every event: a logout or a disabled account ends
    access at the next event (the loader checks the session version)."""
    g.pop("_login_user", None)
    if not current_user.is_authenticated or not current_user.is_active:
        return None
    return current_user._get_current_object()


def _same_origin() -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc == request.host


# Under gunicorn the events come from a pool of SV_CHAT_EVENT_SLOTS threads (extensions.py,
# in arrival order). Connects run in each socket's own thread instead, so a storm of
# reconnects is bounded here to as many at once: hundreds together would only share one
# interpreter lock, each holding a pooled connection longer.
_CONNECT_SLOTS = threading.BoundedSemaphore(CHAT_EVENT_SLOTS)


def chat_event(handler):
    """Authenticate, validate the payload shape, turn domain errors into ack codes."""

    @wraps(handler)
    def wrapper(data=None, *_extra):
        with socket_event_transactions():
            return _run(data)

    def _run(data):
        try:
            user = _active_user()
            if user is None:
                return _fail("unauthenticated")
            if not isinstance(data, dict):
                return _fail("invalid")
            consultation_id = data.get("consultation_id")
            if not valid_id(consultation_id):
                return _fail("invalid")
            return handler(user, consultation_id, data)
        except DomainError as error:
            return _fail(error.code, error)
        except Exception:  # every event gets an ack, even when something unexpected fails
            log.exception("chat event %s failed", handler.__name__)
            db.session.rollback()
            return _fail("invalid")

    return wrapper


@socketio.on("connect", namespace=NAMESPACE)
def connect(auth=None):
    with _CONNECT_SLOTS, socket_event_transactions():
        _connect(auth)


def _connect(auth):
    if _active_user() is None:
        raise ConnectionRefusedError("unauthenticated")
    if not _same_origin():
        log.warning("socket refused: foreign origin %s", request.headers.get("Origin"))
        raise ConnectionRefusedError("forbidden")
    token = auth.get("csrf_token") if isinstance(auth, dict) else None
    try:
        validate_csrf(token)
    except ValidationError as exc:
        log.warning("socket refused: csrf (%s) ip=%s", exc, request.remote_addr)
        raise ConnectionRefusedError("forbidden") from exc
    join_room(user_room(current_user.id))


@socketio.on("join", namespace=NAMESPACE)
@chat_event
def join(user, consultation_id, data):
    after_id = data.get("after_id")
    chat.check_history_request(consultation_id, user, after_id)  # before it enters the room
    name = room(consultation_id)
    join_room(name)
    try:
        # Read anew once in the room: what was stored before this point is in the ack, what
        # is stored later is broadcast to this socket (the page skips an id it shows).
        read_anew(keep=user)
        messages = chat.messages_after(consultation_id, user, after_id)
        ack = {"ok": True, "messages": [chat.message_payload(m) for m in messages]}
        if "state_version" in data:  # the page's: the ack says whether it must fetch its state
            ack["state_version"] = live.current_version(consultation_id, user)
    except DomainError:
        leave_room(name)  # access lost meanwhile: the socket receives nothing more
        raise
    return ack


@socketio.on("send", namespace=NAMESPACE)
@chat_event
def send(user, consultation_id, data):
    posted = chat.post_message(consultation_id, user, data.get("body"), data.get("client_msg_id"))
    payload = chat.message_payload(posted.message)
    if posted.created:
        broadcast_message(payload, skip_sid=request.sid)
    return {"ok": True, "message": payload}


@socketio.on("typing", namespace=NAMESPACE)
@chat_event
def typing(user, consultation_id, data):
    chat.note_typing(consultation_id, user)
    socketio.emit(
        "typing",
        {"consultation_id": consultation_id, "name": user.first_name},
        to=room(consultation_id),
        namespace=NAMESPACE,
        skip_sid=request.sid,
    )
    return {"ok": True}


@socketio.on("read", namespace=NAMESPACE)
@chat_event
def read(user, consultation_id, data):
    mark = chat.mark_read(consultation_id, user, data.get("up_to_id"))
    socketio.emit(
        "read",
        {"consultation_id": consultation_id, "user_id": user.id, "up_to_id": mark},
        to=room(consultation_id),
        namespace=NAMESPACE,
        skip_sid=request.sid,
    )
    return {"ok": True, "up_to_id": mark}
