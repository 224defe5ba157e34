"""Advisory fixtures: open windows, consultas opened through the real services, and
logged-in HTTP + Socket.IO clients."""

import threading
from datetime import UTC, date, datetime

import pytest
from flask import g

from sv_platform.advisory import chat as chat_service
from sv_platform.advisory import lifecycle
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db, socketio
from tests.conftest import PASSWORD, csrf_from

# Wednesday 17 September 2025, 10:00 in Chile (13:00 UTC): the next two days are holidays.
NOW = datetime(2025, 9, 17, 13, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def windows(make_window):
    return make_window(area="legal"), make_window(area="sustainability")


@pytest.fixture
def make_consultation(windows, make_user):
    def factory(
        user=None,
        *,
        area="legal",
        subject="¿Cómo registro mi marca?",
        description="Tengo una pyme de alimentos y quiero proteger el nombre.",
        files=(),
        now=NOW,
    ):
        user = user or make_user()
        return lifecycle.open_consultation(
            user, area=area, subject=subject, description=description, files=files, now=now
        )

    return factory


@pytest.fixture
def legal_advisor(make_user):
    return make_user("advisor", specialty="legal")


@pytest.fixture
def green_advisor(make_user):
    return make_user("advisor", specialty="sustainability")


@pytest.fixture
def in_progress(make_consultation, legal_advisor):
    """A consulta taken by the legal advisor and answered once (en_curso)."""
    consultation = make_consultation()
    lifecycle.take(consultation.id, legal_advisor, now=NOW)
    chat_service.post_message(consultation.id, legal_advisor, "Hola, te ayudo.", "a-1", now=NOW)
    return consultation


@pytest.fixture
def login(app):
    """login(user) → a Flask test client with that user's session and its CSRF token."""

    def factory(user, password=PASSWORD):
        # Requests share the test's app context: drop Flask-WTF's per-request token cache
        # so this client's session gets its own CSRF token.
        g.pop("csrf_token", None)
        client = app.test_client()
        response = client.post("/ingresar", data={"identifier": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.csrf = csrf_from(client.get("/perfil").get_data(as_text=True))
        return client

    return factory


@pytest.fixture
def chat(app, login):
    """chat(user) → (http client, Socket.IO test client on /chat) for a logged-in user."""
    clients = []

    def factory(user, *, http=None, token=None, headers=None):
        http = http or login(user)
        sock = socketio.test_client(
            app,
            namespace="/chat",
            flask_test_client=http,
            auth={"csrf_token": http.csrf if token is None else token},
            headers=headers,
        )
        clients.append(sock)
        return http, sock

    yield factory
    for sock in clients:
        if sock.is_connected("/chat"):
            sock.disconnect(namespace="/chat")


def send_message(sock, consultation_id, body, client_msg_id):
    """A chat `send` from a Socket.IO test client; returns its ack."""
    return sock.emit(
        "send",
        {"consultation_id": consultation_id, "body": body, "client_msg_id": client_msg_id},
        namespace="/chat",
        callback=True,
    )


@pytest.fixture
def while_joining(app, monkeypatch):
    """while_joining(action) → errors: the next `join` runs `action()` on another thread
    (its own app context and connection) after the join began reading and before its
    socket enters the room — the moment whose broadcast the socket misses. `action` gets
    plain ids, not objects of the test's session; what it raises is in `errors`."""
    from sv_platform.advisory import events

    errors = []

    def install(action):
        join_room = events.join_room

        def elsewhere():
            with app.app_context():
                try:
                    action()
                except Exception as error:  # noqa: BLE001 - the test asserts on errors
                    errors.append(error)
                finally:
                    db.session.remove()

        def act_then_join(name):
            db.session.connection()  # the join's read transaction is open
            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
            join_room(name)

        monkeypatch.setattr(events, "join_room", act_then_join)
        return errors

    return install


@pytest.fixture
def limited_chat(make_app, make_user):
    """limited_chat(rate) → (app, logged-in owner client with `.csrf`, consulta) in an app
    whose chat allows `rate` messages; its app context stays pushed until the test ends."""
    contexts = []

    def factory(rate):
        app = make_app(CHAT_RATE_LIMIT=rate)
        context = app.app_context()
        context.push()
        contexts.append(context)
        enrollment.create_window(
            offering_slug="asesoria-legal",
            capacity=5,
            opens_on=date(2020, 1, 1),
            closes_on=date(2035, 12, 31),
        )
        owner = make_user()
        consultation = lifecycle.open_consultation(
            owner,
            area="legal",
            subject="Consulta de prueba",
            description="Una descripción suficientemente larga.",
        )
        http = app.test_client()
        http.post("/ingresar", data={"identifier": owner.email, "password": PASSWORD})
        http.csrf = csrf_from(http.get("/perfil").get_data(as_text=True))
        return app, http, consultation

    yield factory
    for context in reversed(contexts):
        db.session.remove()
        context.pop()
