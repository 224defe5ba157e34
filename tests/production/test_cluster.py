"""Two server processes, one PostgreSQL, one Redis: chat rooms, logouts, cupos and rate
limits hold across processes."""

import logging
import threading
from datetime import date

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tests.production.conftest import login, send, stored_messages

log = logging.getLogger(__name__)
pytestmark = pytest.mark.xdist_group("production")  # one worker, one pair of servers


def test_chat_crosses_processes_without_loss_or_duplicates(cluster, consulta, chat_clients):
    consultation_id, owner_email, advisor_email = consulta
    owner = chat_clients(cluster.a.url, owner_email)
    advisor = chat_clients(cluster.b.url, advisor_email)
    log.warning("transports: owner %s, advisor %s", owner.transport, advisor.transport)
    assert (owner.transport, advisor.transport) == ("websocket", "websocket")
    assert owner.call("join", {"consultation_id": consultation_id})["ok"]
    assert advisor.call("join", {"consultation_id": consultation_id})["ok"]

    sent_by_owner, sent_by_advisor = [], []
    for i in range(5):
        sent_by_advisor.append(send(advisor, consultation_id, f"Respuesta {i}", f"asesor-{i}"))
        sent_by_owner.append(send(owner, consultation_id, f"Pregunta {i}", f"dueno-{i}"))
    assert owner.wait_for(lambda got: len(got) >= 5)
    assert advisor.wait_for(lambda got: len(got) >= 5)
    assert [m["id"] for m in owner.received] == [m["id"] for m in sent_by_advisor]
    assert [m["id"] for m in advisor.received] == [m["id"] for m in sent_by_owner]

    # The advisor drops; the owner goes on writing; the advisor comes back on the *other*
    # process and catches up from the last message it saw, then retries its last send.
    last_seen = max(m["id"] for m in advisor.received + sent_by_advisor)
    advisor.close()
    missed = [
        send(owner, consultation_id, f"Mientras no estabas {i}", f"ausente-{i}") for i in (1, 2)
    ]
    again = chat_clients(cluster.a.url, advisor_email)
    assert again.transport == "websocket"
    caught_up = again.call("join", {"consultation_id": consultation_id, "after_id": last_seen})
    assert [m["id"] for m in caught_up["messages"]] == [m["id"] for m in missed]
    retried = send(again, consultation_id, "Respuesta 4", "asesor-4")
    assert retried["id"] == sent_by_advisor[-1]["id"]  # the stored one, not a new message
    fresh = send(again, consultation_id, "De vuelta", "asesor-5")
    assert owner.wait_for(lambda got: got and got[-1]["id"] == fresh["id"])

    stored = stored_messages(cluster, consultation_id)
    ids = [message_id for message_id, _ in stored]
    assert len(ids) == len(set(ids)) == 5 + 5 + 2 + 1
    seen_by_owner = {m["id"] for m in sent_by_owner + missed + owner.received}
    assert seen_by_owner == set(ids)
    assert len(owner.received) == len({m["id"] for m in owner.received})  # no duplicates


def test_logout_on_one_process_drops_the_socket_on_the_other(cluster, consulta):
    from tests.production.conftest import ChatClient

    consultation_id, owner_email, _advisor = consulta
    session, csrf = login(cluster.a.url, owner_email)
    on_b = ChatClient(cluster.b.url, session, csrf)  # same session cookie, other process
    try:
        assert on_b.call("join", {"consultation_id": consultation_id})["ok"]
        assert on_b.connected
        response = session.post(
            f"{cluster.a.url}/salir", data={"csrf_token": csrf}, allow_redirects=False
        )
        assert response.status_code == 302
        assert on_b.disconnected.wait(10), "the socket on process B stayed connected"
    finally:
        on_b.close()


def test_enrolment_race_split_across_processes_gives_exactly_the_cupos(cluster):
    from sv_platform.enrollment import services as enrollment
    from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
    from sv_platform.extensions import db

    cupos, people = 8, 30
    window_id = cluster.run(
        lambda: (
            enrollment.create_window(
                offering_slug="asesoria-sustentabilidad",
                capacity=cupos,
                opens_on=date(2020, 1, 1),
                closes_on=date(2035, 12, 31),
            ).id
        )
    )
    servers = [cluster.a.url, cluster.b.url]
    sessions = []
    for i in range(people):
        _user_id, email = cluster.make_user()
        base = servers[i % 2]
        session, _csrf = login(base, email)
        token = csrf_from(session.get(f"{base}/mis-inscripciones", timeout=30).text)
        sessions.append((base, session, token))
    # The first people logged in seconds ago; their kept-alive connections may be past the
    # server's keepalive and closed just as the burst reuses them (a browser retries such a
    # request on a new connection; requests does not). Everyone enrols on a new connection.
    for _base, session, _token in sessions:
        session.close()
    barrier = threading.Barrier(people)
    statuses = []

    def enrol(base, session, token):
        barrier.wait()
        response = session.post(
            f"{base}/inscripciones/asesoria-sustentabilidad",
            data={"csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=enrol, args=s) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [302] * people

    def counts():
        rows = db.session.execute(
            select(Enrollment.status, func.count())
            .where(Enrollment.window_id == window_id)
            .group_by(Enrollment.status)
        ).all()
        return dict(rows), db.session.get(EnrollmentWindow, window_id).used

    by_status, used = cluster.run(counts)
    assert by_status == {"active": cupos, "waitlisted": people - cupos}
    assert used == cupos


def failed_login(base, email):
    session = requests.Session()
    token = csrf_from(session.get(f"{base}/ingresar", timeout=30).text)
    return session.post(
        f"{base}/ingresar",
        data={"identifier": email, "password": "no-es-la-clave", "csrf_token": token},
        allow_redirects=False,
        timeout=30,
    )


def test_a_rate_limit_hit_on_one_process_counts_on_the_other(cluster):
    """SV_LOGIN_LIMIT_PER_ACCOUNT is 3 failures here: three on A lock the account on B."""
    _id, locked = cluster.make_user()
    _id, other = cluster.make_user()
    for _ in range(3):
        assert failed_login(cluster.a.url, locked).status_code == 401  # wrong password
    refused = failed_login(cluster.b.url, locked)
    assert refused.status_code == 429
    assert "Demasiados intentos" in refused.text
    login(cluster.b.url, other)  # another account on B is not affected


def test_pages_keep_working_when_redis_is_unreachable(cluster, tmp_path):
    """A server whose message queue and limit storage point nowhere still serves pages,
    logs people in and answers the health check."""
    from tests.production.conftest import Server

    env = {
        **cluster.env,
        "SV_SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:1/0",
        "SV_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
    }
    server = Server("sin-redis", env, tmp_path)
    try:
        server.wait_ready()
        assert requests.get(f"{server.url}/", timeout=30).status_code == 200
        _id, email = cluster.make_user()
        session, _csrf = login(server.url, email)
        assert session.get(f"{server.url}/perfil", timeout=30).status_code == 200
    finally:
        server.stop()
