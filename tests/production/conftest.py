"""Several real server processes (gunicorn.conf.py, the production command) on their own
ports, sharing one PostgreSQL database and one Redis, as in production.

Needs SV_TEST_DATABASE_URL (PostgreSQL) and SV_TEST_REDIS_URL; skipped otherwise. The
Socket.IO channel and the rate-limit key prefix carry this run's process id, so runs
sharing one Redis never see each other's messages or counters.
"""

import itertools
import os
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from sv_platform import create_app
from sv_platform.extensions import db
from tests.conftest import PASSWORD, _test_settings, csrf_from, test_rut

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("SV_TEST_REDIS_URL")
_people = itertools.count(40_000_000)
_runs = itertools.count(1)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`gunicorn -c gunicorn.conf.py -b 127.0.0.1:PORT wsgi:app` with this cluster's env."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "-b",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        for _ in range(300):
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"server {self.name} did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Cluster:
    """Two servers (`a`, `b`) on one database and one Redis, and an in-process app on the
    same database to arrange data through the real services."""

    def __init__(self, database_url: str, env: dict, servers: list[Server]):
        self.database_url = database_url
        self.env = env
        self.a, self.b = servers
        self.servers = servers
        self.app = create_app({**_test_settings(), "SQLALCHEMY_DATABASE_URI": database_url})

    def make_user(self, role="entrepreneur", **fields):
        """A committed user with a complete profile; returns (id, email)."""
        from sv_platform.accounts.models import User
        from sv_platform.accounts.passwords import hash_password
        from sv_platform.core.timeutil import utcnow

        n = next(_people)
        with self.app.app_context():
            password_hash = hash_password(PASSWORD)
        values = dict(
            rut=test_rut(n),
            email=f"prod{n}@ejemplo.cl",
            name=f"Persona Producción {n}",
            role=role,
            password_hash=password_hash,
        )
        if role == "advisor":
            values["specialty"] = fields.pop("specialty", "legal")
        if role == "entrepreneur":
            values.update(
                phone="+56 9 6123 4567",
                region_code="13",
                comuna_code="13101",
                sex="femenino",
                birth_date=date(1990, 1, 1),
                education_level="media",
                consent_at=utcnow(),
                consent_version="2026-11",
            )
        values.update(fields)
        with self.app.app_context():
            user = User(**values)
            db.session.add(user)
            db.session.commit()
            result = (user.id, user.email)
            db.session.remove()
        return result

    def run(self, func):
        """Call func() inside the in-process app (arranging or reading rows)."""
        with self.app.app_context():
            try:
                return func()
            finally:
                db.session.remove()


def login(base: str, email: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """Log in through the real form; returns the session and its CSRF token."""
    session = requests.Session()
    token = csrf_from(session.get(f"{base}/ingresar", timeout=30).text)
    response = session.post(
        f"{base}/ingresar",
        data={"identifier": email, "password": password, "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, (email, response.status_code)
    return session, csrf_from(session.get(f"{base}/perfil", timeout=30).text)


class ChatClient:
    """A python-socketio client on /chat with the HTTP session's cookie and CSRF token;
    records every `message` event it receives."""

    def __init__(self, base: str, session: requests.Session, csrf: str):
        import socketio

        self.base, self.session, self.csrf = base, session, csrf
        self.received: list[dict] = []
        self.disconnected = threading.Event()
        self.lock = threading.Lock()
        self.sio = socketio.Client(http_session=session, reconnection=False)
        self.sio.on("message", self._on_message, namespace="/chat")
        self.sio.on("disconnect", lambda *_: self.disconnected.set(), namespace="/chat")
        # No custom headers: given an Origin header of its own, the client's WebSocket
        # upgrade is refused and it silently stays on long-polling.
        self.sio.connect(base, namespaces=["/chat"], auth={"csrf_token": csrf}, wait_timeout=15)

    def _on_message(self, payload):
        with self.lock:
            self.received.append(payload)

    @property
    def transport(self) -> str:
        return self.sio.transport()

    @property
    def connected(self) -> bool:
        return self.sio.connected and not self.disconnected.is_set()

    def call(self, event: str, data: dict) -> dict:
        return self.sio.call(event, data, namespace="/chat", timeout=15)

    def wait_for(self, predicate, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.received)):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture(scope="session")
def cluster(postgres_databases, tmp_path_factory):
    if postgres_databases is None or not REDIS_URL:
        pytest.skip("needs SV_TEST_DATABASE_URL (PostgreSQL) and SV_TEST_REDIS_URL")
    pytest.importorskip("redis")
    pytest.importorskip("socketio")
    database_url = postgres_databases.create()
    tmp = tmp_path_factory.mktemp("cluster")
    run_id = f"sv-test-{os.getpid()}-{next(_runs)}"
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "SV_DATABASE_URL": database_url,
        "SV_SECRET_KEY": "cluster-secret-key-for-tests-only-0123456789",
        "SV_UPLOAD_DIR": str(tmp / "uploads"),
        "SV_SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
        "SV_SOCKETIO_CHANNEL": run_id,
        "SV_RATELIMIT_STORAGE_URI": REDIS_URL,
        "SV_RATELIMIT_KEY_PREFIX": run_id,
        "SV_LOGIN_LIMIT_PER_ACCOUNT": "3 per 15 minutes",
        "SV_TRUSTED_PROXIES": "1",
        "SV_ARGON2_TIME_COST": "1",
        "SV_ARGON2_MEMORY_COST": "256",
        "SV_SERVER_THREADS": "100",
        "SV_LOG_LEVEL": "warning",
    }
    servers = [Server(name, env, tmp) for name in ("a", "b")]
    try:
        for server in servers:
            server.wait_ready()
        cluster = Cluster(database_url, env, servers)
        yield cluster
    finally:
        for server in servers:
            server.stop()
        _forget_redis_keys(run_id)
        postgres_databases.drop(database_url)


def _forget_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def chat_clients():
    """chat(base, email) → a logged-in ChatClient; all closed after the test."""
    clients = []

    def factory(base, email):
        session, csrf = login(base, email)
        client = ChatClient(base, session, csrf)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def legal_window(cluster):
    from sv_platform.enrollment import services as enrollment

    return cluster.run(
        lambda: (
            enrollment.create_window(
                offering_slug="asesoria-legal",
                capacity=500,
                opens_on=date(2020, 1, 1),
                closes_on=date(2035, 12, 31),
            ).id
        )
    )


@pytest.fixture
def consulta(cluster, legal_window):
    """A consulta taken by an advisor: (consultation id, owner email, advisor email)."""
    from sv_platform.accounts.models import User
    from sv_platform.advisory import lifecycle
    from sv_platform.extensions import db

    owner_id, owner_email = cluster.make_user()
    advisor_id, advisor_email = cluster.make_user("advisor", specialty="legal")

    def arrange():
        consultation = lifecycle.open_consultation(
            db.session.get(User, owner_id),
            area="legal",
            subject="Registro de marca",
            description="Quiero proteger el nombre de mi emprendimiento.",
        )
        lifecycle.take(consultation.id, db.session.get(User, advisor_id))
        return consultation.id

    return cluster.run(arrange), owner_email, advisor_email


def stored_messages(cluster, consultation_id):
    from sv_platform.advisory.models import Message
    from sv_platform.extensions import db

    return cluster.run(
        lambda: [
            (m.id, m.body)
            for m in db.session.scalars(
                select(Message)
                .where(Message.consultation_id == consultation_id)
                .order_by(Message.id)
            )
        ]
    )


def send(client, consultation_id, body, client_msg_id):
    ack = client.call(
        "send", {"consultation_id": consultation_id, "body": body, "client_msg_id": client_msg_id}
    )
    assert ack["ok"], ack
    return ack["message"]
