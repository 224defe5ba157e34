"""Operations: `flask sv check` names what is wrong, `flask sv backup` copies a database that
restores, `/healthz` answers 503 without a database."""

import os
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from sv_platform.accounts.models import User
from sv_platform.extensions import db
from tests.conftest import postgres_test_url

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
GOOD_KEY = "k" * 48


def production_app(make_app, monkeypatch, **overrides):
    """An app as production configures it (Redis settings only where a test gives them:
    the redis package is an extra that `make test` does not install)."""
    monkeypatch.setenv("SV_ENV", "production")
    settings = {"SECRET_KEY": GOOD_KEY, "SESSION_COOKIE_SECURE": True}
    return make_app(**{**settings, **overrides})


def run_check(app):
    with app.app_context():
        return app.test_cli_runner().invoke(args=["sv", "check"])


def test_check_refuses_development_settings(runner):
    result = runner.invoke(args=["sv", "check"])
    assert result.exit_code == 1
    assert "SV_ENV no es 'production'" in result.output
    assert "SV_SOCKETIO_MESSAGE_QUEUE no está definida" in result.output
    assert "SV_RATELIMIT_STORAGE_URI usa memoria" in result.output
    assert "✓" not in result.output


def test_check_names_each_unreachable_service(make_app, monkeypatch):
    pytest.importorskip("redis")
    app = production_app(
        make_app,
        monkeypatch,
        SOCKETIO_MESSAGE_QUEUE=UNREACHABLE_REDIS,
        RATELIMIT_STORAGE_URI=UNREACHABLE_REDIS,
    )
    result = run_check(app)
    assert result.exit_code == 1
    assert f"La cola de mensajes SV_SOCKETIO_MESSAGE_QUEUE ({UNREACHABLE_REDIS}) no responde" in (
        result.output
    )
    assert "El almacenamiento de límites SV_RATELIMIT_STORAGE_URI" in result.output
    assert "La base de datos" not in result.output  # this test's database is migrated


def test_check_reports_a_database_behind_the_migrations(make_app, monkeypatch, tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = run_check(production_app(make_app, monkeypatch, SQLALCHEMY_DATABASE_URI=empty))
    assert "no está al día con las migraciones (está en ninguna" in result.output
    assert "flask db upgrade" in result.output


def test_check_reports_an_unreachable_database(make_app, monkeypatch):
    pytest.importorskip("psycopg")
    nowhere = "postgresql+psycopg://postgres@127.0.0.1:1/nada"
    result = run_check(production_app(make_app, monkeypatch, SQLALCHEMY_DATABASE_URI=nowhere))
    assert "La base de datos no responde" in result.output


def test_check_reports_an_upload_folder_it_cannot_write(make_app, monkeypatch, tmp_path):
    blocker = tmp_path / "archivo"
    blocker.write_text("no es carpeta")
    app = production_app(make_app, monkeypatch, UPLOAD_DIR=str(blocker / "adjuntos"))
    result = run_check(app)
    assert "SV_UPLOAD_DIR" in result.output and "no se puede escribir" in result.output


def test_check_passes_on_a_complete_production_setup(make_app, monkeypatch):
    pytest.importorskip("redis")
    redis_url = os.environ.get("SV_TEST_REDIS_URL")
    if not (redis_url and postgres_test_url()):
        pytest.skip("needs SV_TEST_DATABASE_URL (PostgreSQL) and SV_TEST_REDIS_URL")
    import socket

    smtp = socket.socket()  # something listening where the SMTP server is configured
    smtp.bind(("127.0.0.1", 0))
    smtp.listen()
    monkeypatch.setenv("SV_BASE_URL", "https://sv.example.cl")
    monkeypatch.setenv("SV_SMTP_HOST", "127.0.0.1")
    app = production_app(
        make_app,
        monkeypatch,
        SOCKETIO_MESSAGE_QUEUE=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.getsockname()[1],
        BASE_URL="https://sv.example.cl",
    )
    try:
        result = run_check(app)
    finally:
        smtp.close()
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "✓ Configuración de producción correcta."


def test_healthz_answers_503_when_the_database_server_is_unreachable(make_app):
    pytest.importorskip("psycopg")
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nada")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "db": "error"}


def emails():
    return set(db.session.scalars(select(User.email)))


def test_backup_restores_what_was_there(
    runner, make_user, database_url, postgres_databases, tmp_path
):
    """Back up, change the data, restore the backup: the data is as it was at the backup."""
    kept = make_user(email="antes@ejemplo.cl")
    backup = tmp_path / "respaldo.bin"
    result = runner.invoke(args=["sv", "backup", str(backup)])
    assert result.exit_code == 0, result.output
    assert f"Respaldo escrito en {backup}" in result.output
    make_user(email="despues@ejemplo.cl")
    db.session.get(User, kept.id).email = "cambiado@ejemplo.cl"
    db.session.commit()
    assert emails() == {"cambiado@ejemplo.cl", "despues@ejemplo.cl"}
    db.session.remove()
    db.engine.dispose()

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(backup, url.database)  # servers stopped: the copy is the database
        restored = database_url
    else:
        restored = _pg_restore(postgres_databases, backup)
    engine = create_engine(restored)
    with engine.connect() as connection:
        restored_emails = set(connection.execute(text('SELECT email FROM "user"')).scalars())
    engine.dispose()
    assert restored_emails == {"antes@ejemplo.cl"}


def _pg_restore(databases, backup) -> str:
    """pg_restore into an empty database, as the README documents (dropped with the test's
    other databases at the end of the run)."""
    target = databases.create_empty()
    libpq = make_url(target).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={libpq}", str(backup)],
        check=True,
        capture_output=True,
    )
    return target


def failed_login(client, email, forwarded_for):
    return client.post(
        "/ingresar",
        data={"identifier": email, "password": "no-es-la-clave"},
        headers={"X-Forwarded-For": forwarded_for},
    )


@pytest.mark.parametrize(("hops", "second_client_status"), [(1, 401), (0, 429)])
def test_login_limits_key_on_the_client_behind_a_trusted_proxy(
    make_app, make_user, hops, second_client_status
):
    """Behind nginx (SV_TRUSTED_PROXIES=1) one person's failures lock only their address;
    without trusting the proxy every client shares the proxy's address."""
    app = make_app(TRUSTED_PROXIES=hops, LOGIN_LIMIT_PER_IP="2 per 15 minutes")
    with app.app_context():
        people = [make_user().email for _ in range(4)]
        client = app.test_client()
        assert failed_login(client, people[0], "203.0.113.7").status_code == 401
        assert failed_login(client, people[1], "203.0.113.7").status_code == 401
        assert failed_login(client, people[2], "203.0.113.7").status_code == 429
        assert failed_login(client, people[3], "198.51.100.9").status_code == second_client_status


def test_a_trusted_proxy_gives_absolute_urls_the_public_scheme_and_host(make_app):
    from flask import url_for

    from sv_platform.core.security import public

    app = make_app(TRUSTED_PROXIES=1)
    seen = {}

    @app.get("/_prueba-url")
    @public
    def probe():
        seen["url"] = url_for("core.home", _external=True)
        return "ok"

    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sv.example.cl"}
    assert app.test_client().get("/_prueba-url", headers=headers).status_code == 200
    assert seen["url"] == "https://sv.example.cl/"
