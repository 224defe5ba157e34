"""Every Flask extension, created unbound and bound in create_app()."""

import contextvars
from contextlib import contextmanager
from pathlib import Path

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
socketio = SocketIO()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
babel = Babel()


# SQLite: a transaction that reads and later writes fails at once ("database is locked")
# when another writer committed in between. So transactions take the write lock at BEGIN
# (BEGIN IMMEDIATE, waiting up to busy_timeout) everywhere except in GET/HEAD requests,
# which only read (a GET that must write uses write_transaction()).
_IMMEDIATE = contextvars.ContextVar("sv_sqlite_immediate", default=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: WAL for concurrent readers, enforced foreign keys, wait on locks.

    The driver's own transaction handling is switched off so that `_sqlite_begin` decides
    how each transaction starts (the pysqlite recipe in SQLAlchemy's documentation).
    """
    if dbapi_connection.__class__.__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = _IMMEDIATE.get()
        conn.info["sv_immediate"] = immediate
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction():
    """Run a read-modify-write as one transaction that cannot lose a race.

    On SQLite the transaction must hold the write lock from its first read (BEGIN
    IMMEDIATE, waiting up to busy_timeout instead of failing when another writer got there
    first): a deferred read transaction in progress is committed and a new one begins.
    On PostgreSQL row locks and conditional updates do that work. The caller commits.
    """
    if db.session().in_transaction():
        connection = db.session.connection()
        if connection.dialect.name == "sqlite" and not connection.info.get("sv_immediate"):
            db.session.commit()  # a read-only transaction cannot be upgraded safely
    token = _IMMEDIATE.set(True)
    try:
        db.session.connection()
    finally:
        _IMMEDIATE.reset(token)
    try:
        yield db.session
    except BaseException:
        db.session.rollback()
        raise


def _choose_transaction_mode():
    from flask import request

    _IMMEDIATE.set(request.method not in ("GET", "HEAD", "OPTIONS"))


def _reset_transaction_mode(_exc=None):
    _IMMEDIATE.set(True)


def init_app(app) -> None:
    db.init_app(app)
    app.before_request(_choose_transaction_mode)
    app.teardown_request(_reset_transaction_mode)
    migrations = Path(app.root_path).parent / "migrations"
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", migrations)))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Ingresa para ver esta página."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app)
    from sv_platform.core.sockets import session_dropping_manager

    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
        manage_session=False,
        cors_allowed_origins=app.config.get("SOCKETIO_ALLOWED_ORIGINS"),
        client_manager=session_dropping_manager(
            app.config.get("SOCKETIO_MESSAGE_QUEUE"), app.config.get("SOCKETIO_CHANNEL")
        ),
    )
    from sv_platform.config import trust_proxies

    trust_proxies(app)  # last: it must wrap the Socket.IO middleware as well
