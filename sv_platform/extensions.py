"""Every Flask extension, created unbound and bound in create_app()."""

import contextvars
import logging
import os
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from flask import abort
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached

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
compress = Compress()


# SQLite: a transaction that reads and later writes fails at once ("database is locked")
# when another writer committed in between. So transactions take the write lock at BEGIN
# (BEGIN IMMEDIATE, waiting up to busy_timeout) everywhere except in GET/HEAD requests,
# which only read (a GET that must write uses write_transaction()). SQLite has one write
# lock, so a write request holds it only for its writing part: the session user is loaded
# in a read transaction that ends before the view runs, and whatever the request reads
# after its first commit (the page or redirect that follows) reads without the lock.
_IMMEDIATE = contextvars.ContextVar("sv_sqlite_immediate", default=True)
_WRITE_REQUEST = contextvars.ContextVar("sv_write_request", default=False)


_BUSY_TIMEOUT_S = 30
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(database: str) -> "threading.Lock | None":
    """One lock per database file in this process (none for an in-memory database)."""
    if not database:
        return None
    key = os.path.realpath(database)
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(key, threading.Lock())


class _SQLiteConnection(sqlite3.Connection):
    """SQLite with its write lock taken in turn by this process's threads.

    A writer that finds SQLite's lock taken sleeps in SQLite's busy handler (1, 2, 5 … up
    to 100 ms a try) and misses the moment it is free, so with many threads writing the
    lock sat idle most of the time and a chat message waited seconds. Here BEGIN IMMEDIATE
    first waits for a process-wide lock that the commit or rollback releases, so the next
    writer starts the moment the previous one ends. SQLite's own lock still guards the
    file (other processes, and a writer whose wait here ran out proceeds to SQLite's)."""

    sv_writer_lock: "threading.Lock | None" = None
    sv_holds_writer_lock = False

    def begin_immediate(self) -> None:
        lock = self.sv_writer_lock
        if lock is not None and not self.sv_holds_writer_lock:
            self.sv_holds_writer_lock = lock.acquire(timeout=_BUSY_TIMEOUT_S)
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release_writer_lock()
            raise

    def _release_writer_lock(self) -> None:
        if self.sv_holds_writer_lock:
            self.sv_holds_writer_lock = False
            self.sv_writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release_writer_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_writer_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release_writer_lock()


@event.listens_for(Engine, "do_connect")
def _sqlite_connection_class(dialect, _record, cargs, cparams):
    """SQLite connections of the class above (unless the caller chose one)."""
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        cparams.setdefault("factory", _SQLiteConnection)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: WAL for concurrent readers, enforced foreign keys, wait on locks.

    The driver's own transaction handling is switched off so that `_sqlite_begin` decides
    how each transaction starts (the pysqlite recipe in SQLAlchemy's documentation).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        if isinstance(dbapi_connection, _SQLiteConnection):
            database = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
            dbapi_connection.sv_writer_lock = _writer_lock(database)


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = _IMMEDIATE.get()
        conn.info["sv_immediate"] = immediate
        # Straight to the driver: every request begins one, and SQLAlchemy's statement
        # machinery (events, result set up) costs more than the BEGIN itself.
        driver = conn.connection.driver_connection
        if not immediate:
            driver.execute("BEGIN")
        elif isinstance(driver, _SQLiteConnection):
            driver.begin_immediate()
        else:
            driver.execute("BEGIN IMMEDIATE")


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds: for a caller that knows the loaded
    objects are still what the database has (it just wrote them, or wrote nothing)."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def add_as_loaded(instance):
    """Put an object whose row the caller has just written or read with Core into the
    session as if the ORM had loaded it (no history, nothing to flush); returns it."""
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def held_in_session(model, primary_key):
    """The object of `model` with this primary key that the session already holds, if any."""
    mapper = sa_inspect(model)
    return db.session.identity_map.get(mapper.identity_key_from_primary_key([primary_key]))


def add_row_as_loaded(model, keys, row):
    """A new object of `model` from a row read with Core whose values are the attributes
    `keys`, in the session as the ORM's loader would put it (values straight into the
    instance's dict: no attribute events, no history). For a row the session does not hold
    yet (held_in_session)."""
    instance = sa_inspect(model).class_manager.new_instance()
    instance.__dict__.update(zip(keys, row, strict=True))
    return add_as_loaded(instance)


@contextmanager
def write_transaction(*, keep_loaded: bool = False):
    """Run a read-modify-write as one transaction that cannot lose a race.

    On SQLite the transaction must hold the write lock from its first read (BEGIN
    IMMEDIATE, waiting up to busy_timeout instead of failing when another writer got there
    first): a deferred read transaction in progress is committed and a new one begins.
    That commit expires what the session loaded, so it is read again under the lock;
    `keep_loaded=True` keeps it, as on PostgreSQL, where nothing is committed here, for a
    caller that re-reads under the lock exactly the rows its write depends on (the chat's
    message: the consulta through lock_consultation()).
    On PostgreSQL row locks and conditional updates do that work. The caller commits.
    """
    session = db.session()
    if session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "sqlite" and not connection.info.get("sv_immediate"):
            # a read-only transaction cannot be upgraded safely
            if keep_loaded:
                commit_keeping_loaded()
            else:
                session.commit()
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


def read_anew(*, keep) -> None:
    """End the read transaction so that the next read sees everything committed until now
    (SQLite keeps one snapshot per transaction), and expire what the session loaded except
    `keep` (the session user), which stays as it is. Nothing may have been written."""
    session = db.session()
    if session.in_transaction():
        commit_keeping_loaded()  # nothing was written: this only ends the read
    for loaded in list(session.identity_map.values()):
        if loaded is not keep:
            session.expire(loaded)


def reads_without_lock(view):
    """Mark a POST view whose every write runs inside write_transaction(): on SQLite its
    reads (the session user, the rules it checks) then take no write lock at all, and the
    lock is held only for the short write transaction. Without the mark a POST's first
    transaction takes the lock at BEGIN, so code that reads and then writes cannot fail."""
    view.sv_reads_without_lock = True
    return view


@contextmanager
def socket_event_transactions():
    """A Socket.IO event outside any HTTP request: like a view marked reads_without_lock,
    its reads (the session user, the consulta, the payload it sends back) take no write
    lock, and every write runs inside write_transaction(), which takes it only for the
    write. Without this each event would begin BEGIN IMMEDIATE and hold SQLite's single
    write lock from its first read until the event ended, broadcast included."""
    immediate, write = _IMMEDIATE.set(False), _WRITE_REQUEST.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(immediate)
        _WRITE_REQUEST.reset(write)


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _view_marked(mark: str) -> bool:
    """Whether the view this request matched carries `mark` (set by a decorator above)."""
    from flask import current_app, request

    return getattr(current_app.view_functions.get(request.endpoint or ""), mark, False)


def _choose_transaction_mode():
    from flask import request
    from flask_login import current_user

    if request.method in _READ_METHODS:
        _IMMEDIATE.set(False)
        return
    _IMMEDIATE.set(False)
    current_user._get_current_object()  # the session user, read without the write lock
    if _view_marked("sv_reads_without_lock"):
        _WRITE_REQUEST.set(True)  # reads stay deferred; write_transaction() takes the lock
        return
    session = db.session()
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        commit_keeping_loaded()  # end the read, keep the loaded user
    _IMMEDIATE.set(True)
    _WRITE_REQUEST.set(True)


@event.listens_for(Session, "after_commit")
def _read_after_the_write(_session):
    """In a write request, reads after a commit need no write lock (write_transaction()
    still takes it for a later read-modify-write)."""
    if _WRITE_REQUEST.get():
        _IMMEDIATE.set(False)


def _reset_transaction_mode(_exc=None):
    _IMMEDIATE.set(True)
    _WRITE_REQUEST.set(False)


def _view_without_limits() -> bool:
    """Skip Flask-Limiter's per-request bookkeeping on views that carry no limit (there are
    no default limits): only the decorated views pay for it."""
    from flask import current_app, request
    from flask_limiter.util import get_qualified_name

    view = current_app.view_functions.get(request.endpoint or "")
    return view is None or get_qualified_name(view) not in limiter._marked_for_limiting


def _check_limits_only_where_declared(app) -> None:
    """Flask-Limiter's before-request hook resolves limits for every request before its
    request filter says there are none; call it only for views that declare a limit."""
    hooks = app.before_request_funcs.setdefault(None, [])
    original = next(
        (f for f in hooks if getattr(f, "__func__", None) is Limiter._check_request_limit), None
    )
    if original is None:
        return

    def check_declared_limits():
        if not _view_without_limits():
            original()

    hooks[hooks.index(original)] = check_declared_limits
    # Its after-request hook (deductions and rate-limit headers of the limits just checked)
    # has nothing to do either on those views.
    after = app.after_request_funcs.setdefault(None, [])
    inject = next((f for f in after if getattr(f, "args", None) == (limiter,)), None)
    if inject is not None:

        def headers_of_declared_limits(response):
            return response if _view_without_limits() else inject(response)

        after[after.index(inject)] = headers_of_declared_limits


# Socket connects a process runs at once (events.py), and the threads that run its socket
# events on a database server (`chat_event_threads`).
CHAT_EVENT_SLOTS = int(os.environ.get("SV_CHAT_EVENT_SLOTS") or 4)


def chat_event_threads(app) -> int:
    """The threads that run socket events: SV_CHAT_EVENT_SLOTS when set; else one on
    SQLite, which takes one writer at a time anyway (the interpreter lock and the write lock
    change hands least: a burst of chat messages went 18 % faster than on four threads,
    bench/README.md), and four on a database server, whose round trips they overlap."""
    configured = int(app.config.get("CHAT_EVENT_SLOTS") or 0)
    if configured > 0:
        return configured
    return 1 if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else CHAT_EVENT_SLOTS


_SLOT_WAIT_S = 10
_BODY_IN_MEMORY = 1024 * 1024
_HELD_SLOT = "sv.request_slot"


def own_pace(view):
    """Mark a write view whose work is mostly outside the interpreter (password hashing:
    argon2 runs without holding it): it takes a turn among the password hashes below, not
    the writers' turn, so logins run side by side on every core instead of one by one, and
    no more of them than there are cores: a burst of logins, each hash keeping a core busy,
    would otherwise leave the other requests' Python a sliver of the CPU."""
    view.sv_own_pace = True
    return view


class _RequestSlots:
    """At most `reads` GET/HEAD requests, `writes` other requests and `hashes` requests to
    views marked `own_pace` inside the app at once; the others wait their turn.

    gunicorn's threads are sized for the chat's sockets (hundreds), and every request runs
    on one of them: a burst of hundreds of POSTs ran all at once under one interpreter
    lock, each statement's return waiting behind the others' Python, while SQLite's write
    lock stayed with a thread waiting to run. SQLite takes one writer at a time anyway, and
    one process runs one thread's Python at a time: writes taken one by one (the default)
    cost the least CPU each and end a burst soonest (bench/README.md). A request waiting
    here holds no interpreter time. The turn is taken once the URL is matched (a view
    marked `own_pace` takes a password hash's turn instead) and given back when the view
    has answered, before the response goes out (a streamed export included); what is slow
    for the client's sake stays outside it: the body is read in full before the wait (a
    phone still uploading a file holds no turn; nginx buffers bodies too). A wait longer
    than _SLOT_WAIT_S goes ahead without a turn rather than fail."""

    def __init__(self, app, *, reads: int, writes: int, hashes: int):
        self.wsgi_app = app.wsgi_app
        self.max_body = app.config.get("MAX_CONTENT_LENGTH")
        self._reads = threading.BoundedSemaphore(reads) if reads else None
        self._writes = threading.BoundedSemaphore(writes) if writes else None
        self._hashes = threading.BoundedSemaphore(hashes) if hashes else None
        app.wsgi_app = self
        app.before_request_funcs.setdefault(None, []).insert(0, self._take)
        app.after_request_funcs.setdefault(None, []).insert(0, self._give_back_after)
        app.teardown_request_funcs.setdefault(None, []).insert(0, self._give_back)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD", "GET") in _READ_METHODS or not (
            self._writes or self._hashes
        ):
            return self.wsgi_app(environ, start_response)
        body = self._read_body(environ)
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            if body is not None:
                body.close()

    def _take(self) -> None:
        from flask import request

        if request.method in _READ_METHODS:
            slots = self._reads
        else:
            slots = self._hashes if _view_marked("sv_own_pace") else self._writes
        if slots is None:
            return
        if slots.acquire(timeout=_SLOT_WAIT_S):
            request.environ[_HELD_SLOT] = slots
        else:  # every turn held that long: something is slow; answer rather than queue on
            logging.getLogger(__name__).warning(
                "%s %s waited %s s for its turn; going ahead",
                request.method,
                request.path,
                _SLOT_WAIT_S,
            )

    def _give_back_after(self, response):
        self._give_back()
        return response

    @staticmethod
    def _give_back(_exc=None) -> None:
        from flask import request

        slots = request.environ.pop(_HELD_SLOT, None)
        if slots is not None:
            slots.release()

    def _read_body(self, environ):
        """The declared body, read now into memory (on disk past 1 MB); a body over the
        app's limit is left for Flask to refuse (413) without reading it."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length <= 0 or (self.max_body is not None and length > self.max_body):
            return None
        body = tempfile.SpooledTemporaryFile(max_size=_BODY_IN_MEMORY)
        source, left = environ["wsgi.input"], length
        while left > 0:
            chunk = source.read(min(left, 64 * 1024))
            if not chunk:
                break  # the client went away: the app sees a short body, as it would
            body.write(chunk)
            left -= len(chunk)
        body.seek(0)
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(length - left)
        return body


def _socket_events_in_pool(server, workers: int) -> None:
    """Socket.IO events run on `workers` long-lived threads, in the order they arrived.

    In threading mode python-socketio starts a new thread for every event (so that the
    socket's own thread goes on reading: the client's answers to pings, its next events);
    starting it, and hundreds of them running at once under one interpreter lock, cost more
    than the thread's work. Here the socket's thread hands the event to a queue served by
    a fixed pool. Everything else the server starts in the background (the message queue's
    listener) still gets a thread of its own; the test client runs events inline."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sv-socket-event")
    server.sv_event_threads = workers
    handle_event = type(server)._handle_event_internal
    start = server.start_background_task

    def start_background_task(target, *args, **kwargs):
        if getattr(target, "__func__", None) is handle_event:
            future = pool.submit(target, *args, **kwargs)
            future.add_done_callback(_log_event_failure)
            return future
        return start(target, *args, **kwargs)

    server.start_background_task = start_background_task


def _socket_path_rule(app, path: str) -> None:
    """A URL rule for the Socket.IO path, so that an event's request context matches.

    Flask-SocketIO runs every event in a request context built from the socket's handshake
    environ. With no rule for that path, Flask's URL matching raises NotFound and keeps it,
    traceback included, on the request: exception → traceback → frames → the context, a
    reference cycle per event that only the cyclic garbage collector frees (about 70
    objects a message, and the collector's full passes stop the whole process). The
    Socket.IO middleware answers this path before Flask sees it; if a request ever got
    through, the rule's view answers 404 as before."""

    def socket_path():
        abort(404)

    socket_path.sv_public = True  # as `core.security.public`: sockets authenticate at connect

    # the middleware's path ("/socket.io/"); Flask-SocketIO's test client omits the slash
    options = {"view_func": socket_path, "strict_slashes": False}
    app.add_url_rule(path, "socket_path", methods=["GET", "POST"], **options)
    # the handshake of a WebSocket asks for the upgrade: Werkzeug matches it to its own rule
    app.add_url_rule(path, "socket_path_ws", websocket=True, **options)


class _UncompressedWebSockets:
    """Decline the WebSocket compression browsers offer (permessage-deflate).

    simple-websocket accepts the extension whenever the client offers it, and every browser
    does. Each socket then keeps a zlib compressor and decompressor for its whole life,
    about 130 KB (500 chat sockets: some 65 MB of the server's memory), and every frame is
    deflated going out and inflated coming in. A chat frame is a few hundred bytes, one TCP
    segment either way, so compressing it saves a phone no time; and a compression context
    shared by a consulta's messages and what another person typed is what length-based
    attacks on TLS feed on. The handshake is rebuilt from the request's headers, so without
    the offer the socket is plain (bench/README.md)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


def _log_event_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logging.getLogger(__name__).error("socket event failed", exc_info=future.exception())


def _ping_idle_connections(engine, idle_s: float) -> None:
    """Pessimistic disconnect handling for a database server, only where it can matter: a
    connection idle for more than `idle_s` (the server or something between may have
    closed it since) is pinged at checkout, and a dead one is replaced by a new connection
    before the request uses it (SQLAlchemy's checkout recipe: DisconnectionError makes the
    pool retry). pool_pre_ping would ping at every checkout: a round trip in front of
    every request and socket event, one in nine of a chat send's."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info["sv_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("sv_idle_since", None)
        if since is None or time.monotonic() - since <= idle_s:
            return  # a new connection (its record's info starts empty), or one just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure: this connection is gone
            raise DisconnectionError("idle connection closed by the server") from exc


def init_app(app) -> None:
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            _ping_idle_connections(db.engine, float(app.config["DB_PING_AFTER_IDLE_S"]))
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
    limiter.request_filter(_view_without_limits)
    _check_limits_only_where_declared(app)
    babel.init_app(app)
    compress.init_app(app)
    from sv_platform.core.sockets import session_dropping_manager

    _RequestSlots(  # inside Socket.IO's middleware: HTTP requests only
        app,
        reads=app.config.get("REQUEST_SLOTS", 0),
        writes=app.config.get("WRITE_REQUEST_SLOTS", 0),
        hashes=app.config.get("HASH_REQUEST_SLOTS", 0),
    )

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
    _socket_events_in_pool(socketio.server, chat_event_threads(app))
    _socket_path_rule(app, socketio.sockio_mw.engineio_path)
    app.wsgi_app = _UncompressedWebSockets(app.wsgi_app)  # outside Socket.IO's middleware
    from sv_platform.config import trust_proxies

    trust_proxies(app)  # last: it must wrap the Socket.IO middleware as well
