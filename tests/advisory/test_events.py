"""The /chat Socket.IO protocol with real logged-in sessions (Flask-SocketIO test client)."""

import pytest
from sqlalchemy import func, select

from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import User
from sv_platform.advisory import chat as chat_service
from sv_platform.advisory import lifecycle
from sv_platform.advisory.models import Message
from sv_platform.core.domain import NotAllowed
from sv_platform.extensions import db, socketio
from tests.advisory.conftest import NOW, send_message


def _events(sock, name):
    # The test client keeps a "message" event's single argument unwrapped.
    return [
        e["args"] if name == "message" else e["args"][0]
        for e in sock.get_received("/chat")
        if e["name"] == name
    ]


def _refused(ack) -> str:
    """The code of a refusal ack (a domain refusal also carries its Spanish message)."""
    assert ack["ok"] is False and set(ack) <= {"ok", "error", "message"}, ack
    return ack["error"]


def test_join_returns_the_history_and_send_reaches_the_other_side(chat, in_progress, legal_advisor):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    ack = owner.emit("join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
    assert ack["ok"] and [m["body_html"] for m in ack["messages"]] == ["<p>Hola, te ayudo.</p>"]
    assert advisor.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )["ok"]
    sent = send_message(owner, in_progress.id, "¿Cuánto cuesta?", "c-1")
    assert sent["ok"] and sent["message"]["client_msg_id"] == "c-1"
    received = _events(advisor, "message")
    assert [m["id"] for m in received] == [sent["message"]["id"]]
    assert received[0]["author_name"] == in_progress.user.name
    assert received[0]["author_role"] == "entrepreneur"


def test_a_retry_stores_one_message_and_broadcasts_once(chat, in_progress, legal_advisor):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        sock.emit("join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
    first = send_message(owner, in_progress.id, "Reintento", "r-1")
    second = send_message(owner, in_progress.id, "Reintento", "r-1")
    assert first["message"]["id"] == second["message"]["id"]
    assert len(_events(advisor, "message")) == 1
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == "r-1")
        )
        == 1
    )


def test_resume_with_after_id_returns_exactly_the_missed_messages(chat, in_progress, legal_advisor):
    _h, owner = chat(in_progress.user)
    history = owner.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )["messages"]
    last_seen = history[-1]["id"]
    owner.disconnect(namespace="/chat")
    missed = [
        chat_service.post_message(
            in_progress.id, legal_advisor, f"Mientras no estabas {i}", f"miss-{i}"
        ).message.id
        for i in range(3)
    ]
    _h, again = chat(in_progress.user)
    ack = again.emit(
        "join",
        {"consultation_id": in_progress.id, "after_id": last_seen},
        namespace="/chat",
        callback=True,
    )
    assert [m["id"] for m in ack["messages"]] == missed


def test_typing_and_read_reach_the_room(chat, in_progress, legal_advisor):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        sock.emit("join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
    assert owner.emit(
        "typing", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    ) == {"ok": True}
    assert _events(advisor, "typing") == [
        {"consultation_id": in_progress.id, "name": in_progress.user.first_name}
    ]
    last = chat_service.messages_after(in_progress.id, legal_advisor)[-1].id
    ack = owner.emit(
        "read",
        {"consultation_id": in_progress.id, "up_to_id": last + 50},
        namespace="/chat",
        callback=True,
    )
    assert ack == {"ok": True, "up_to_id": last}  # never past the last message
    assert _events(advisor, "read") == [
        {"consultation_id": in_progress.id, "user_id": in_progress.user_id, "up_to_id": last}
    ]


def test_typing_floods_are_rate_limited(chat, in_progress):
    _h, owner = chat(in_progress.user)
    acks = [
        owner.emit("typing", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
        for _ in range(31)
    ]
    assert acks[:30] == [{"ok": True}] * 30
    assert _refused(acks[30]) == "rate_limited"


def test_a_connection_without_session_is_refused(app):
    sock = socketio.test_client(app, namespace="/chat", auth={"csrf_token": "x"})
    assert not sock.is_connected("/chat")


@pytest.mark.parametrize("token", ["", "no-es-un-token", None])
def test_a_wrong_or_missing_csrf_token_is_refused(chat, in_progress, login, token):
    http = login(in_progress.user)
    sock = socketio.test_client(
        app=http.application,
        namespace="/chat",
        flask_test_client=http,
        auth=None if token is None else {"csrf_token": token},
    )
    assert not sock.is_connected("/chat")


def test_csrf_is_checked_even_when_forms_do_not_check_it(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.post(
            "/ingresar", data={"identifier": user.email, "password": "clave-de-prueba-segura"}
        )
        client.get("/perfil")
        sock = socketio.test_client(
            app, namespace="/chat", flask_test_client=client, auth={"csrf_token": "falso"}
        )
        assert not sock.is_connected("/chat")
        db.session.remove()


def test_a_foreign_origin_is_refused(chat, in_progress, login):
    http = login(in_progress.user)
    # The Engine.IO handshake itself (same-origin CORS policy of the server) ...
    refused = http.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 400
    allowed = http.get(
        "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost"}
    )
    assert allowed.status_code == 200
    # ... and the /chat connect handler both refuse another site.
    _h, sock = chat(in_progress.user, http=http, headers={"Origin": "https://evil.example"})
    assert not sock.is_connected("/chat")
    _h, ok = chat(in_progress.user, http=http, headers={"Origin": "http://localhost"})
    assert ok.is_connected("/chat")


def test_others_get_forbidden_and_unknown_ids_not_found(
    chat, in_progress, make_user, green_advisor
):
    for outsider in (make_user(), green_advisor):
        _h, sock = chat(outsider)
        assert sock.is_connected("/chat")
        join = sock.emit(
            "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
        )
        send = send_message(sock, in_progress.id, "hola", "z-1")
        typing = sock.emit(
            "typing", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
        )
        assert {_refused(a) for a in (join, send, typing)} == {"forbidden"}
    missing = sock.emit("join", {"consultation_id": 9999}, namespace="/chat", callback=True)
    assert _refused(missing) == "not_found"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == "z-1")
        )
        == 0
    )


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "texto",
        {"consultation_id": "1"},
        {"consultation_id": True},
        {"consultation_id": 1, "after_id": "abc"},
        {"consultation_id": 1, "after_id": 2**31},
    ],
)
def test_malformed_payloads_are_invalid(chat, in_progress, payload):
    if isinstance(payload, dict) and type(payload.get("consultation_id")) is int:
        payload = {**payload, "consultation_id": in_progress.id}
    _h, sock = chat(in_progress.user)
    assert _refused(sock.emit("join", payload, namespace="/chat", callback=True)) == "invalid"


@pytest.mark.parametrize("up_to_id", [None, -1, "5", 2**31])
def test_a_bad_read_position_is_invalid_and_reaches_nobody(
    chat, in_progress, legal_advisor, up_to_id
):
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        sock.emit("join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
    ack = owner.emit(
        "read",
        {"consultation_id": in_progress.id, "up_to_id": up_to_id},
        namespace="/chat",
        callback=True,
    )
    assert _refused(ack) == "invalid"
    assert _events(advisor, "read") == []


def test_a_closed_consulta_refuses_send(chat, in_progress, legal_advisor):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    lifecycle.close(in_progress.id, in_progress.user, rating=5, now=NOW)
    _h, owner = chat(in_progress.user)
    ack = send_message(owner, in_progress.id, "¿Sigue?", "late")
    assert _refused(ack) == "closed"


def test_logout_disconnects_the_users_sockets_at_once(chat, in_progress):
    http, owner = chat(in_progress.user)
    assert owner.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )["ok"]
    http.post("/salir", data={"csrf_token": http.csrf})
    assert not owner.is_connected("/chat")  # so no later broadcast reaches it


def test_a_disabled_account_is_disconnected_and_receives_nothing(
    chat, in_progress, legal_advisor, admin_user
):
    _h, advisor = chat(legal_advisor)
    assert advisor.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )["ok"]
    accounts.set_active(legal_advisor.id, False, actor=admin_user)
    assert not advisor.is_connected("/chat")


def test_a_stale_session_gets_unauthenticated_at_its_next_event(chat, in_progress):
    """Another server process cannot disconnect this socket: the per-event check still
    refuses it (the loader sees the bumped session version)."""
    http, owner = chat(in_progress.user)
    assert owner.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )["ok"]
    user = in_progress.user  # bump the version without this process's signal
    user.session_version += 1
    db.session.commit()
    ack = send_message(owner, in_progress.id, "¿Sigo aquí?", "stale")
    assert _refused(ack) == "unauthenticated"


def test_socket_sends_are_rate_limited(limited_chat):
    app, http, c = limited_chat("2 per 10 seconds")
    sock = socketio.test_client(
        app, namespace="/chat", flask_test_client=http, auth={"csrf_token": http.csrf}
    )
    acks = [send_message(sock, c.id, f"m{i}", f"rl-{i}") for i in range(3)]
    assert [a["ok"] for a in acks] == [True, True, False]
    assert acks[2]["error"] == "rate_limited"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.consultation_id == c.id)
        )
        == 2
    )
    sock.disconnect(namespace="/chat")


def test_a_send_takes_the_write_lock_only_to_store_the_message(
    chat, in_progress, legal_advisor, transactions
):
    """A socket event reads (the session user, the consulta, the payload) without SQLite's
    write lock and holds it for the message's own transaction, broadcast excluded."""
    _h1, owner = chat(in_progress.user)
    _h2, advisor = chat(legal_advisor)
    for sock in (owner, advisor):
        sock.emit("join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True)
    consultation_id = in_progress.id
    db.session.commit()
    transactions.clear()  # from here: the send, then a second join
    ack = send_message(owner, consultation_id, "Sin esperas", "w-1")
    joined = advisor.emit(
        "join", {"consultation_id": consultation_id}, namespace="/chat", callback=True
    )
    seen = list(transactions)
    assert ack["ok"] and [m["body_html"] for m in _events(advisor, "message")] == [
        "<p>Sin esperas</p>"
    ]
    assert joined["messages"][-1]["id"] == ack["message"]["id"]
    kinds = [kind for kind, _ in seen]
    assert kinds.count("BEGIN IMMEDIATE") == 1, kinds  # the join took none
    first_read, (write_kind, write_sql) = seen[0], seen[1]
    assert first_read[0] == "BEGIN" and any("FROM USER" in s for s in first_read[1])
    assert write_kind == "BEGIN IMMEDIATE"
    assert any(s.startswith("INSERT INTO MESSAGE") for s in write_sql)
    assert not any("FROM USER" in s for s in write_sql), write_sql


def test_events_run_on_the_servers_pool_and_other_tasks_on_threads_of_their_own():
    """Under gunicorn each event goes to a fixed pool of threads (no thread per event); the
    message queue's listener and other background tasks still get their own thread."""
    import threading

    from sv_platform.extensions import _socket_events_in_pool

    class Server:
        def _handle_event_internal(self, *args):
            return threading.current_thread().name, args

        def start_background_task(self, target, *args):
            thread = threading.Thread(target=target, args=args)
            thread.start()
            return thread

    server = Server()
    _socket_events_in_pool(server, 2)
    futures = [server.start_background_task(server._handle_event_internal, n) for n in range(5)]
    results = [f.result(timeout=5) for f in futures]
    assert [args for _name, args in results] == [(n,) for n in range(5)]
    assert {name for name, _args in results} <= {"sv-socket-event_0", "sv-socket-event_1"}
    other = server.start_background_task(lambda: None)
    assert isinstance(other, threading.Thread)
    other.join(5)


def test_socket_events_take_one_thread_on_sqlite_and_four_on_a_database_server(make_app):
    from sv_platform import extensions

    app = make_app()
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    assert extensions.socketio.server.sv_event_threads == (1 if sqlite else 4)
    make_app(CHAT_EVENT_SLOTS=3)  # SV_CHAT_EVENT_SLOTS
    assert extensions.socketio.server.sv_event_threads == 3


def test_the_apps_socket_server_hands_its_events_to_the_pool(app):
    """The pool recognises python-socketio's own event task by name: if an upgrade renames
    it or stops handing events to start_background_task, this fails instead of the server
    quietly going back to a thread per event."""
    import inspect

    import socketio as python_socketio

    source = inspect.getsource(python_socketio.Server._handle_event)
    assert "self.start_background_task(self._handle_event_internal" in source
    wrapped = socketio.server.start_background_task
    assert "_socket_events_in_pool" in wrapped.__qualname__


def test_a_message_stored_while_the_socket_joins_reaches_it(
    chat, in_progress, legal_advisor, while_joining
):
    """The race: the advisor's message commits on another connection after the join began
    reading (SQLite's snapshot) and before the socket is in the room, so its broadcast
    misses the socket. The join reads the history once in the room, so the ack has it."""
    _h, owner = chat(in_progress.user)
    consultation_id, advisor_id = in_progress.id, legal_advisor.id  # plain ids cross threads
    db.session.commit()
    errors = while_joining(
        lambda: chat_service.post_message(
            consultation_id, db.session.get(User, advisor_id), "¿Sigues ahí?", "race-1"
        )
    )
    owner.get_received("/chat")
    ack = owner.emit("join", {"consultation_id": consultation_id}, namespace="/chat", callback=True)
    assert not errors and ack["ok"]
    assert not _events(owner, "message")  # the broadcast did not reach this socket
    assert [m["client_msg_id"] for m in ack["messages"]][-1] == "race-1"


def test_a_refused_join_never_enters_the_room(chat, in_progress, make_user):
    _h, outsider = chat(make_user())
    ack = outsider.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )
    assert _refused(ack) == "forbidden"
    _h2, owner = chat(in_progress.user)
    sent = send_message(owner, in_progress.id, "Hola", "own-1")
    assert sent["ok"]
    assert not _events(outsider, "message")


def test_a_join_refused_once_in_the_room_leaves_it(chat, in_progress, legal_advisor, monkeypatch):
    """Access lost while the socket enters the room (the history's fresh read refuses): the
    ack says so and the socket is out of the room again, so later messages never reach it."""
    _h, outsider = chat(in_progress.user)

    def refused(*_args, **_kwargs):
        raise NotAllowed("No tienes acceso a esta consulta.")

    monkeypatch.setattr(chat_service, "messages_after", refused)
    ack = outsider.emit(
        "join", {"consultation_id": in_progress.id}, namespace="/chat", callback=True
    )
    monkeypatch.undo()
    assert _refused(ack) == "forbidden"
    _h2, advisor = chat(legal_advisor)
    sent = send_message(advisor, in_progress.id, "Hola", "late-1")
    assert sent["ok"]
    assert not _events(outsider, "message")
