"""Mail fixtures: a real SMTP server on loopback (aiosmtpd), an app that sends to it, and
helpers that read what arrived."""

import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from flask import request_started

from sv_platform.extensions import db
from tests.advisory.conftest import (  # noqa: F401 - fixtures shared with the advisory tests
    NOW,
    chat,
    legal_advisor,
    login,
    make_consultation,
    windows,
)
from tests.conftest import _fresh_login_cache


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the test SMTP server received; `reply` makes it answer DATA with an error."""

    def __init__(self):
        self.messages = []
        self.reply: str | None = None
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.reply:
            return self.reply
        with self.lock:
            self.messages.append(
                message_from_bytes(envelope.original_content, policy=default_policy)
            )
        return "250 OK"

    def ids(self) -> list[int]:
        return [int(m["X-SV-Outbox-Id"]) for m in self.messages]

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that can be stopped and started again (SMTP down)."""

    def __init__(self):
        self.port = free_port()
        self.inbox = Inbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(smtp_server, tmp_path) -> dict:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp_server.port,
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": 5,
        "MAIL_DIR": str(tmp_path / "mail"),
        "BASE_URL": "https://sv.example.cl",
    }


@pytest.fixture
def app(make_app, mail_settings):
    """The app of every mail test: it delivers to the test SMTP server."""
    app = make_app(**mail_settings)
    with app.app_context():
        request_started.connect(_fresh_login_cache, app)
        yield app
        request_started.disconnect(_fresh_login_cache, app)


@pytest.fixture
def inbox(smtp_server) -> Inbox:
    return smtp_server.inbox


@pytest.fixture
def person(make_user):
    """make a confirmed entrepreneur (or any role) who can receive notifications."""
    from sv_platform.core.timeutil import utcnow

    def factory(role="entrepreneur", **fields):
        fields.setdefault("email_confirmed_at", utcnow())
        return make_user(role, **fields)

    return factory


def deliver(now=None) -> int:
    """Run the sender once over everything due (what the job does)."""
    from sv_platform.notifications import sender

    sent = sender.deliver_due(now)
    db.session.commit()
    return sent


def link_in(message, prefix: str) -> str:
    """The first link in a mail's plain text that starts with `prefix`."""
    text = message.get_body(("plain",)).get_content()
    for word in text.split():
        if word.startswith(prefix):
            return word
    raise AssertionError(f"no link {prefix} in {text}")
