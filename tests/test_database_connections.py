"""Connections to a database server that it dropped while they sat in the pool."""

import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sv_platform.extensions import db


def _drop_every_other_connection(app) -> int:
    """What a database restart or an idle timeout does to the pooled connections: the
    server ends them (all of this database's but the one asking). Returns how many."""
    import psycopg

    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        return admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def _pooled(make_app, idle_s: float):
    """An app pinging connections idle for more than `idle_s`, three of them back in its
    pool."""
    app = make_app(DB_PING_AFTER_IDLE_S=idle_s)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a database server's connections (SQLite opens a file)")
    with app.app_context():
        held = [db.engine.connect() for _ in range(3)]
        for connection in held:
            connection.execute(text("SELECT 1"))
        for connection in held:
            connection.close()
    return app


def test_pages_work_after_the_server_dropped_idle_connections(make_app):
    app = _pooled(make_app, 0.05)
    assert _drop_every_other_connection(app) >= 3
    time.sleep(0.1)  # idle longer than the ping threshold
    client = app.test_client()
    for _ in range(4):  # every pooled connection is checked out at least once
        response = client.get("/cursos")
        assert response.status_code == 200
    with app.app_context():
        assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_only_a_connection_idle_past_the_threshold_is_pinged(make_app, monkeypatch):
    app = _pooled(make_app, 0.5)
    pings = []
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
        for _ in range(5):  # back to back: no round trip in front of each
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        assert pings == []
        time.sleep(0.6)
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert len(pings) == 1
