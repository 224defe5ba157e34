"""HTTP requests take turns inside a process: GET/HEAD a few at a time, the others (POST…)
one at a time, views marked own_pace (password hashes) one per core; the rest wait their
turn."""

import threading

import pytest
from flask import request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sv_platform import extensions
from sv_platform.core.security import public


def _app(make_app, **slots):
    """An app with a view that holds its turn until released (GET and POST)."""
    app = make_app(**slots)
    entered, release = threading.Event(), threading.Event()

    @public
    def hold():
        entered.set()
        release.wait(10)
        return "listo"

    @public
    def echo():
        return str(len(request.get_data()))

    app.add_url_rule("/prueba-espera", "hold", hold, methods=["GET", "POST"])
    app.add_url_rule("/prueba-cuerpo", "echo", echo, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    return app, entered, release


def _in_thread(app, method, path, results):
    def run():
        results.append(app.test_client().open(path, method=method).status_code)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _holding(app, entered, method):
    held = []
    holder = _in_thread(app, method, "/prueba-espera", held)
    assert entered.wait(5)
    return holder, held


def _must_wait(app, method, path):
    """Start `method path` while the turn it needs is held: it must still be waiting."""
    results = []
    waiting = _in_thread(app, method, path, results)
    waiting.join(0.5)
    assert waiting.is_alive() and results == []  # its turn has not come
    return waiting, results


def test_a_write_waits_for_the_write_before_it(make_app):
    app, entered, release = _app(make_app, WRITE_REQUEST_SLOTS=1)
    holder, held = _holding(app, entered, "POST")
    waiting, second = _must_wait(app, "POST", "/prueba-cuerpo")
    reading = []
    _in_thread(app, "GET", "/healthz", reading).join(5)
    assert reading == [200]  # a read does not wait for the writers
    release.set()
    holder.join(5)
    waiting.join(5)
    assert held == [200] and second == [200]


def test_reads_take_their_own_turns(make_app):
    app, entered, release = _app(make_app, REQUEST_SLOTS=1)
    holder, held = _holding(app, entered, "GET")
    waiting, second = _must_wait(app, "GET", "/healthz")
    release.set()
    holder.join(5)
    waiting.join(5)
    assert held == [200] and second == [200]


@pytest.mark.parametrize(
    ("writes", "wait_s", "path", "status"),
    [
        (1, None, "/ingresar", 401),  # login hashes a password: no write turn (here: refused)
        (1, 0.2, "/prueba-cuerpo", 200),  # waited longer than the bound: goes ahead
        (0, None, "/prueba-cuerpo", 200),  # no bound at all
    ],
    ids=["login-own-pace", "waited-too-long", "switched-off"],
)
def test_a_write_that_answers_while_another_holds_the_turn(
    make_app, monkeypatch, caplog, writes, wait_s, path, status
):
    if wait_s is not None:
        monkeypatch.setattr(extensions, "_SLOT_WAIT_S", wait_s)
    app, entered, release = _app(make_app, WRITE_REQUEST_SLOTS=writes)
    holder, held = _holding(app, entered, "POST")
    try:
        answered = []
        _in_thread(app, "POST", path, answered).join(5)
        assert answered == [status]  # answered while the turn was still taken
    finally:
        release.set()
        holder.join(5)
    assert held == [200]
    gave_up = [r for r in caplog.records if "for its turn; going ahead" in r.getMessage()]
    assert len(gave_up) == (1 if wait_s is not None else 0)  # the operator hears of a wait


def test_password_hashes_take_turns_of_their_own(make_app):
    """Views that hash a password (login…) take one of HASH_REQUEST_SLOTS, one per core:
    a login waits for the hash before it, while other writes go on."""
    app, entered, release = _app(make_app, WRITE_REQUEST_SLOTS=1, HASH_REQUEST_SLOTS=1)
    app.add_url_rule(
        "/prueba-clave",
        "hashing",
        extensions.own_pace(app.view_functions["hold"]),
        methods=["POST"],
    )
    held = []
    holder = _in_thread(app, "POST", "/prueba-clave", held)
    assert entered.wait(5)
    try:
        waiting, login = _must_wait(app, "POST", "/ingresar")
        written = []
        _in_thread(app, "POST", "/prueba-cuerpo", written).join(5)
        assert written == [200]  # the writers' turn is not the hashes'
    finally:
        release.set()
        holder.join(5)
    waiting.join(5)
    assert held == [200] and login == [401]  # its turn came (an empty form: refused)


def test_the_turn_is_given_back_when_the_view_fails(make_app):
    app, _entered, _release = _app(make_app, WRITE_REQUEST_SLOTS=1)

    @public
    def broken():
        raise RuntimeError("falla de prueba")

    app.add_url_rule("/prueba-falla", "broken", broken, methods=["POST"])
    client = app.test_client()
    for _ in range(3):  # a turn kept by the failure would make the next one wait
        assert client.post("/prueba-falla").status_code == 500
    assert client.post("/prueba-cuerpo", data=b"abc").get_data(as_text=True) == "3"


class _RecordingBody:
    """A request body that notes how much of it was read."""

    def __init__(self, data: bytes):
        self.data, self.read_bytes = data, 0

    def read(self, size=-1):
        size = len(self.data) - self.read_bytes if size is None or size < 0 else size
        chunk = self.data[self.read_bytes : self.read_bytes + size]
        self.read_bytes += len(chunk)
        return chunk


def test_a_waiting_write_has_its_body_read_before_its_turn(make_app):
    """A phone still sending its upload holds no turn: the body is read while it waits,
    and the view gets all of it."""
    app, entered, release = _app(make_app, WRITE_REQUEST_SLOTS=1)
    data = b"x" * 300_000
    body = _RecordingBody(data)
    environ = EnvironBuilder(
        path="/prueba-cuerpo", method="POST", data=data, content_type="application/octet-stream"
    ).get_environ()
    environ["wsgi.input"] = body
    holder, _held = _holding(app, entered, "POST")
    results = []
    poster = threading.Thread(target=lambda: results.append(run_wsgi_app(app, environ)))
    poster.start()
    try:
        poster.join(0.5)
        assert poster.is_alive()  # waiting for its turn…
        assert body.read_bytes == len(data)  # …with its body already read
    finally:
        release.set()
        holder.join(5)
        poster.join(5)
    app_iter, status, _headers = results[0]
    assert status.startswith("200") and b"".join(app_iter) == str(len(data)).encode()
