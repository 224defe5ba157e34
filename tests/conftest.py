"""Fixtures: a fresh app on its own database per test, clients, auth and factories.

Each test gets its own copy of a database built by the real migrations: a SQLite file by
default, or, when SV_TEST_DATABASE_URL names a PostgreSQL server, a database created from a
migrated template (`CREATE DATABASE … TEMPLATE`) and dropped after the test. Names carry
the process id, so two runs (or pytest-xdist workers) never share one.
"""

import itertools
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from flask import g, request_started
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from stdnum.cl import rut as stdnum_rut

from sv_platform import create_app
from sv_platform.config import TestConfig
from sv_platform.extensions import db

PASSWORD = "clave-de-prueba-segura"
_counter = itertools.count(20_000_000)


def test_rut(number: int | None = None) -> str:
    """A valid RUT (`12345678-5` form) for tests."""
    body = str(number or next(_counter))
    return f"{body}-{stdnum_rut.calc_check_digit(body)}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """One database built by the real migrations, copied for every test (fast and real)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app({**_test_settings(), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _test_settings() -> dict:
    return {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}


def postgres_test_url() -> str | None:
    """The PostgreSQL server the suite runs against (SV_TEST_DATABASE_URL), if any."""
    url = os.environ.get("SV_TEST_DATABASE_URL") or ""
    return url if url.startswith("postgresql") else None


class PostgresDatabases:
    """Databases on the SV_TEST_DATABASE_URL server: one migrated template per process,
    copies of it made and dropped on demand (connected through the URL's own database)."""

    def __init__(self, url: str):
        self.url = make_url(url)
        self.prefix = f"{self.url.database}_{os.getpid()}"[:40]
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.counter = itertools.count(1)
        self.template = None
        self.created: set[str] = set()

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def build_template(self) -> str:
        name = f"{self.prefix}_tpl"
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._execute(f'CREATE DATABASE "{name}"')
        app = create_app({**_test_settings(), "SQLALCHEMY_DATABASE_URI": self.url_of(name)})
        with app.app_context():
            upgrade()
            db.session.remove()
            db.engine.dispose()
        self.template = name
        return self.url_of(name)

    def create(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.add(name)
        return self.url_of(name)

    def create_empty(self) -> str:
        name = f"{self.prefix}_{next(self.counter)}"
        self._execute(f'CREATE DATABASE "{name}"')
        self.created.add(name)
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.discard(name)

    def close(self) -> None:
        for name in sorted(self.created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.template:
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        self.admin.dispose()

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(sql))


@pytest.fixture(scope="session")
def postgres_databases():
    """The per-process PostgreSQL template and its copies; None on SQLite."""
    url = postgres_test_url()
    if url is None:
        yield None
        return
    databases = PostgresDatabases(url)
    databases.build_template()
    yield databases
    databases.close()


@pytest.fixture
def db_path(tmp_path, template_db) -> Path:
    path = tmp_path / "sv.sqlite3"
    shutil.copyfile(template_db, path)
    return path


@pytest.fixture
def database_url(request, postgres_databases, tmp_path):
    """This test's own migrated database: a PostgreSQL copy of the template, dropped after
    the test, or a copy of the SQLite template file."""
    if postgres_databases is None:
        return f"sqlite:///{request.getfixturevalue('db_path')}"
    url = postgres_databases.create()
    request.addfinalizer(lambda: postgres_databases.drop(url))
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on this test's database with extra settings (e.g. CSRF on)."""
    apps = []

    def factory(**overrides):
        settings = {
            **_test_settings(),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            **overrides,
        }
        app = create_app(settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _fresh_login_cache(sender, **extra):
    """Requests reuse the test's pushed app context (and its `g`); in production every
    request has its own. Drop the cached user and CSRF token so each request loads its own."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        request_started.connect(_fresh_login_cache, app)
        yield app
        request_started.disconnect(_fresh_login_cache, app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """make_user(role="advisor", specialty="legal", **fields) → a committed User."""
    from sv_platform.accounts.models import User
    from sv_platform.accounts.passwords import hash_password
    from sv_platform.core.timeutil import utcnow

    def factory(role="entrepreneur", *, specialty=None, password=PASSWORD, **fields):
        n = next(_counter)
        if role == "advisor" and specialty is None:
            specialty = "legal"
        values = dict(
            rut=test_rut(n),
            email=f"persona{n}@ejemplo.cl",
            name=f"Persona Prueba {n}",
            role=role,
            specialty=specialty,
            password_hash=hash_password(password),
        )
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
        user = User(**values)
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def make_window(app):
    """make_window(capacity, slug=…, area=…) → an enrolment window, open from 2020 to 2035
    unless dates are given. `area` ("legal", "sustainability") picks that advisory offering;
    otherwise `slug` names the offering (default: asesoria-legal)."""
    from sv_platform.enrollment import services as enrollment

    def factory(
        capacity=10,
        *,
        slug=None,
        area=None,
        region_code=None,
        opens_on=date(2020, 1, 1),
        closes_on=date(2035, 12, 31),
        admin=None,
        now=None,
    ):
        if area is not None:
            slug = {"legal": "asesoria-legal", "sustainability": "asesoria-sustentabilidad"}[area]
        return enrollment.create_window(
            offering_slug=slug or "asesoria-legal",
            capacity=capacity,
            region_code=region_code,
            opens_on=opens_on,
            closes_on=closes_on,
            actor=admin,
            now=now,
        )

    return factory


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def advisor_user(make_user):
    return make_user("advisor", specialty="legal")


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, user_or_identifier, password=PASSWORD, **extra):
        identifier = getattr(user_or_identifier, "email", user_or_identifier)
        return self.client.post(
            "/ingresar", data={"identifier": identifier, "password": password, **extra}
        )

    def logout(self):
        return self.client.post("/salir")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def csrf_from(html: str) -> str:
    """The CSRF token a page exposes in <meta name="csrf-token">."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def login_with_csrf(client, email: str, password: str = PASSWORD):
    """Log in through the real form on an app with CSRF checks on (its token first)."""
    page = client.get("/ingresar").get_data(as_text=True)
    response = client.post(
        "/ingresar",
        data={"identifier": email, "password": password, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 302, "login refused"
    return response


@pytest.fixture
def transactions(app):
    """The statements of each transaction the requests run, as [(BEGIN kind, [sql…])]."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's")
    seen = []

    def begin(conn):  # runs after the app's own listener, which sends BEGIN to the driver
        seen.append(("BEGIN IMMEDIATE" if conn.info.get("sv_immediate") else "BEGIN", []))

    def record(_conn, _cursor, statement, *_args):
        if seen:
            seen[-1][1].append(" ".join(statement.split()).upper())

    event.listen(db.engine, "begin", begin)
    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)
    event.remove(db.engine, "begin", begin)
