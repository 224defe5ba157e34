"""The session cookie, the CSRF token and page compression done with kept serializers and
compressors: the same bytes as Flask's, Flask-WTF's and Flask-Compress's own."""

import re
import time

import pytest
from backports import zstd
from flask import g, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf as flask_wtf_generate_csrf
from flask_wtf.csrf import validate_csrf
from itsdangerous import BadSignature

from sv_platform.core import signing
from tests.conftest import PASSWORD, csrf_from

SESSION = {"_user_id": "7:2", "_fresh": True, "csrf_token": "a" * 40, "_flashes": [("info", "ñ")]}


@pytest.fixture
def frozen_clock(monkeypatch):
    """Signatures carry a timestamp in seconds: one second for both sides of a comparison."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)


def test_session_cookie_is_flasks_own(app, frozen_clock):
    ours = signing.SessionInterface().get_signing_serializer(app)
    flasks = SecureCookieSessionInterface().get_signing_serializer(app)
    assert ours is signing.SessionInterface().get_signing_serializer(app)  # built once
    cookie = flasks.dumps(SESSION)
    assert ours.dumps(SESSION) == cookie
    assert ours.loads(cookie) == SESSION
    assert flasks.loads(ours.dumps(SESSION)) == SESSION
    with pytest.raises(BadSignature):
        ours.loads(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1])


def test_session_cookie_signed_with_a_fallback_key_still_opens(app):
    old = SecureCookieSessionInterface().get_signing_serializer(app).dumps(SESSION)
    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]
    app.secret_key = "a-new-secret-key-for-the-rotation-test"
    ours = signing.SessionInterface().get_signing_serializer(app)
    assert ours.loads(old) == SESSION
    assert SecureCookieSessionInterface().get_signing_serializer(app).loads(ours.dumps(SESSION))


def test_csrf_token_is_flask_wtfs_own_and_validates(app, frozen_clock):
    with app.test_request_context("/"):
        ours = signing.generate_csrf()
        assert signing.generate_csrf() is ours  # one per request, kept in g
        validate_csrf(ours)  # raises if Flask-WTF does not accept it
        g.pop("csrf_token")
        assert flask_wtf_generate_csrf() == ours  # same secret, salt, key and timestamp
        assert len(session["csrf_token"]) == 40


def test_a_token_from_another_session_is_refused_and_the_own_accepted(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        email = make_user().email
    client, other = app.test_client(), app.test_client()
    own = csrf_from(client.get("/ingresar").get_data(as_text=True))
    foreign = csrf_from(other.get("/ingresar").get_data(as_text=True))
    data = {"identifier": email, "password": PASSWORD}
    assert client.post("/ingresar", data={**data, "csrf_token": foreign}).status_code == 400
    assert client.post("/ingresar", data={**data, "csrf_token": own}).status_code == 302


BROWSER = "gzip, deflate, br, zstd"


def _without_tokens(html: bytes) -> bytes:
    return re.sub(rb'(name="csrf[_-]token" (?:content|value)=")[^"]+', rb"\1", html)


def test_pages_for_a_browser_that_takes_zstd_are_zstandard_frames(client):
    plain = client.get("/cursos")
    packed = client.get("/cursos", headers={"Accept-Encoding": BROWSER})
    assert packed.headers["Content-Encoding"] == "zstd"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["ETag"] == plain.headers["ETag"]  # over the page, not its encoding
    page = zstd.decompress(packed.data)
    # The same page but for the CSRF token, signed with the time (in seconds) of each request.
    assert _without_tokens(page) == _without_tokens(plain.data)
    assert packed.data == zstd.compress(page, level=3)  # Flask-Compress's frame
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    repeat = client.get(
        "/cursos", headers={"Accept-Encoding": BROWSER, "If-None-Match": plain.headers["ETag"]}
    )
    assert repeat.status_code == 304 and repeat.data == b""


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("zstd;q=0, br", "br"), ("", None)],
)
def test_other_encodings_are_left_to_flask_compress(client, accept, encoding):
    response = client.get("/cursos", headers={"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == encoding


def test_small_and_non_page_responses_are_not_compressed(client):
    response = client.get("/healthz", headers={"Accept-Encoding": BROWSER})
    assert "Content-Encoding" not in response.headers


def test_prepared_reads_are_sqlalchemys_rows_and_seen_by_cursor_listeners(app, make_user):
    from sqlalchemy import event

    from sv_platform.accounts import services as accounts
    from sv_platform.courses import services as courses
    from sv_platform.extensions import db

    user_id = make_user().id
    prepared, _keys = accounts._session_user_query()
    seen = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with app.test_request_context("/"):
            row = prepared.first({"user_id": user_id})
            expected = db.session.connection().execute(prepared.statement, {"user_id": user_id})
            assert row == tuple(expected.first())  # dates as datetimes, flags as bools
            assert prepared.first({"user_id": user_id + 1000}) is None
            params = {"slug": "no-existe", "user_id": user_id}
            assert courses._VERSION_PROGRESS_AND_SEAT.rows(params) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 4


def test_a_prepared_read_that_fails_raises_the_drivers_error_as_sqlalchemy_does(app):
    """The error itself, not a second failure: on PostgreSQL running the statement again
    would only meet the aborted transaction. The session then rolls back and goes on."""
    from sqlalchemy import column, exc, select, table

    from sv_platform.core.prepared import Prepared
    from sv_platform.extensions import db

    missing = Prepared(select(column("x")).select_from(table("no_such_table")))
    with app.app_context():
        with pytest.raises(exc.DBAPIError) as raised:
            missing.first({})
        assert "no_such_table" in str(raised.value.orig)
        db.session.rollback()
        assert db.session.execute(select(1)).scalar() == 1
