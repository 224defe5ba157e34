"""Settings read from SV_* environment variables."""

import os
import secrets
from pathlib import Path


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "si", "sí", "on"}


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class Config:
    """Development defaults; everything can be overridden from the environment."""

    ENV_NAME = os.environ.get("SV_ENV", "development")
    SECRET_KEY = os.environ.get("SV_SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("SV_DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SOCKETIO_MESSAGE_QUEUE = os.environ.get("SV_SOCKETIO_MESSAGE_QUEUE") or None
    # Two deployments sharing one Redis keep apart with their own channel and key prefix.
    SOCKETIO_CHANNEL = os.environ.get("SV_SOCKETIO_CHANNEL", "flask-socketio")
    RATELIMIT_KEY_PREFIX = os.environ.get("SV_RATELIMIT_KEY_PREFIX", "")
    UPLOAD_DIR = os.environ.get("SV_UPLOAD_DIR")
    MAX_UPLOAD_MB = int(os.environ.get("SV_MAX_UPLOAD_MB", "5"))
    RATELIMIT_STORAGE_URI = os.environ.get("SV_RATELIMIT_STORAGE_URI", "memory://")
    # Proxy hops (nginx = 1) whose X-Forwarded-For/-Proto/-Host/-Port are believed: limits
    # then key on the real client and absolute URLs use the public scheme and host.
    TRUSTED_PROXIES = int(os.environ.get("SV_TRUSTED_PROXIES", "0"))
    RATELIMIT_HEADERS_ENABLED = True
    # Redis gone: pages keep working (limits fall back to this process's memory).
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    LOGIN_LIMIT_PER_IP = os.environ.get("SV_LOGIN_LIMIT_PER_IP", "20 per 15 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("SV_LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
    # New anonymous "¿Te sirvió?" votes per FAQ entry and address (logged-in people: one each).
    FAQ_ANONYMOUS_VOTE_LIMIT = os.environ.get("SV_FAQ_ANONYMOUS_VOTE_LIMIT", "5 per day")
    REGISTRATION_LIMIT_PER_IP = os.environ.get("SV_REGISTRATION_LIMIT_PER_IP", "10 per hour")
    # argon2id cost: OWASP's minimum profile (19 MiB, 2 passes); tests lower it.
    ARGON2_TIME_COST = int(os.environ.get("SV_ARGON2_TIME_COST", "2"))
    ARGON2_MEMORY_COST = int(os.environ.get("SV_ARGON2_MEMORY_COST", "19456"))
    ARGON2_PARALLELISM = 1
    BABEL_DEFAULT_LOCALE = "es_CL"
    BABEL_DEFAULT_TIMEZONE = "America/Santiago"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = (MAX_UPLOAD_MB * 3 + 2) * 1024 * 1024
    SEND_FILE_MAX_AGE_DEFAULT = 60 * 60 * 24
    PREFERRED_URL_SCHEME = "http"
    CONTENT_DIR = os.environ.get("SV_CONTENT_DIR")
    # Seconds between runs of the periodic jobs inside the server process (0: never; then
    # `flask sv jobs run` runs from cron or a systemd timer). `make run` sets 60.
    JOBS_INTERVAL = float(os.environ.get("SV_JOBS_INTERVAL", "0"))
    # HTTP requests a process runs at once, GET/HEAD and the others (POST…) apart; the
    # others wait their turn (0: no bound).
    REQUEST_SLOTS = int(os.environ.get("SV_REQUEST_SLOTS", "4"))
    WRITE_REQUEST_SLOTS = int(os.environ.get("SV_WRITE_REQUEST_SLOTS", "1"))
    # Password hashes (logins, registrations…) a process runs at once: one per core it may
    # use, each argon2 hash keeping one core busy.
    HASH_REQUEST_SLOTS = int(os.environ.get("SV_HASH_REQUEST_SLOTS", str(_usable_cores())))
    # A database server's pooled connection idle for longer than this many seconds is
    # pinged before it is reused (extensions.py); one used more recently is not.
    DB_PING_AFTER_IDLE_S = float(os.environ.get("SV_DB_PING_AFTER_IDLE_S") or 2)
    # Threads that run socket events (0: one on SQLite, four on a database server).
    CHAT_EVENT_SLOTS = int(os.environ.get("SV_CHAT_EVENT_SLOTS") or 0)
    # Mail: without SMTP_HOST mails are written as .eml files in MAIL_DIR (instance/mail).
    SMTP_HOST = os.environ.get("SV_SMTP_HOST") or None
    SMTP_PORT = int(os.environ.get("SV_SMTP_PORT", "0") or 0)  # 0: 25, 587 or 465 by security
    SMTP_USER = os.environ.get("SV_SMTP_USER") or None
    SMTP_PASSWORD = os.environ.get("SV_SMTP_PASSWORD") or None
    SMTP_SECURITY = os.environ.get("SV_SMTP_SECURITY", "starttls")  # none | starttls | ssl
    SMTP_TIMEOUT = float(os.environ.get("SV_SMTP_TIMEOUT", "20"))
    MAIL_FROM = os.environ.get(
        "SV_MAIL_FROM", "Servicios Virtuales <no-responder@serviciosvirtuales.cl>"
    )
    MAIL_DIR = os.environ.get("SV_MAIL_DIR")
    BASE_URL = os.environ.get("SV_BASE_URL", "http://127.0.0.1:5000")
    MAIL_BATCH = int(os.environ.get("SV_MAIL_BATCH", "100"))
    PASSWORD_RESET_LIMIT_PER_IP = os.environ.get(
        "SV_PASSWORD_RESET_LIMIT_PER_IP", "10 per 15 minutes"
    )
    PASSWORD_RESET_LIMIT_PER_ACCOUNT = os.environ.get(
        "SV_PASSWORD_RESET_LIMIT_PER_ACCOUNT", "3 per hour"
    )
    HSTS = False
    TESTING = False
    # Report denominators: the program's target and potential populations (firms) and
    # the beneficiaries it plans a year.
    REPORT_TARGET_POPULATION = int(os.environ.get("SV_TARGET_POPULATION", "302888"))
    REPORT_POTENTIAL_POPULATION = int(os.environ.get("SV_POTENTIAL_POPULATION", "677207"))
    REPORT_PLANNED_BENEFICIARIES = int(os.environ.get("SV_PLANNED_BENEFICIARIES", "27867"))


class ProductionConfig(Config):
    """Production: secrets are mandatory, cookies are Secure, HSTS on."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    HSTS = True


class TestConfig(Config):
    """Fast hashing, CSRF off by default (tests that check CSRF turn it on)."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
    WTF_CSRF_ENABLED = False
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 256
    RATELIMIT_STORAGE_URI = "memory://"


def load(app, config=None) -> None:
    """Fill app.config from the class for SV_ENV, then from `config` (class or dict)."""
    env = os.environ.get("SV_ENV", "development")
    base = ProductionConfig if env == "production" else Config
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'sv.sqlite3'}"
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Keep a connection per server thread: a new one costs its PRAGMAs every time.
        if options.get("poolclass") is None:
            options.setdefault("pool_size", 20)
            options.setdefault("max_overflow", 100)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = str(instance / "uploads")
    if not app.config.get("MAIL_DIR"):
        app.config["MAIL_DIR"] = str(instance / "mail")
    if app.config.get("SMTP_SECURITY") not in ("none", "starttls", "ssl"):
        raise RuntimeError("SV_SMTP_SECURITY debe ser none, starttls o ssl.")
    if not app.config.get("CONTENT_DIR"):
        app.config["CONTENT_DIR"] = str(Path(app.root_path).parent)
    app.config["MAX_CONTENT_LENGTH"] = (int(app.config["MAX_UPLOAD_MB"]) * 3 + 2) * 1024 * 1024
    if not app.config.get("SECRET_KEY"):
        if env == "production":
            raise RuntimeError("SV_SECRET_KEY es obligatoria cuando SV_ENV=production.")
        app.config["SECRET_KEY"] = _instance_secret(instance)


def trust_proxies(app) -> None:
    """Believe TRUSTED_PROXIES hops of X-Forwarded-* headers (Werkzeug's ProxyFix). Wraps
    the outermost WSGI layer, so Socket.IO requests see the client's address too."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def _instance_secret(instance: Path) -> str:
    """A random development key, created once and kept in the instance folder."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def production_problems(config) -> list[str]:
    """What `flask sv check` reports as wrong for a production deployment."""
    problems = []
    if os.environ.get("SV_ENV") != "production":
        problems.append("SV_ENV no es 'production'.")
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32 or key == TestConfig.SECRET_KEY:
        problems.append("SV_SECRET_KEY falta o es demasiado corta (mínimo 32 caracteres).")
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        problems.append("SV_DATABASE_URL apunta a SQLite; en producción use PostgreSQL.")
    if config.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory"):
        problems.append("SV_RATELIMIT_STORAGE_URI usa memoria; en producción use Redis.")
    if not config.get("SMTP_HOST"):
        problems.append("SV_SMTP_HOST falta: los correos se escribirían como archivos .eml.")
    if not os.environ.get("SV_BASE_URL") or not str(config.get("BASE_URL", "")).startswith(
        "https://"
    ):
        problems.append("SV_BASE_URL falta o no es https://: los enlaces de los correos fallarían.")
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("Las cookies de sesión no están marcadas Secure.")
    return problems
