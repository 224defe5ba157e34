"""Settings read from SV_* environment variables."""

import os
import secrets
from pathlib import Path


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "si", "sí", "on"}


class Config:
    """Development defaults; everything can be overridden from the environment."""

    ENV_NAME = os.environ.get("SV_ENV", "development")
    SECRET_KEY = os.environ.get("SV_SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("SV_DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SOCKETIO_MESSAGE_QUEUE = os.environ.get("SV_SOCKETIO_MESSAGE_QUEUE") or None
    UPLOAD_DIR = os.environ.get("SV_UPLOAD_DIR")
    MAX_UPLOAD_MB = int(os.environ.get("SV_MAX_UPLOAD_MB", "5"))
    RATELIMIT_STORAGE_URI = os.environ.get("SV_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
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
    HSTS = False
    TESTING = False


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
    else:
        # A database server may drop idle connections: ping before reuse (a file cannot).
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = str(instance / "uploads")
    if not app.config.get("CONTENT_DIR"):
        app.config["CONTENT_DIR"] = str(Path(app.root_path).parent)
    app.config["MAX_CONTENT_LENGTH"] = (int(app.config["MAX_UPLOAD_MB"]) * 3 + 2) * 1024 * 1024
    if not app.config.get("SECRET_KEY"):
        if env == "production":
            raise RuntimeError("SV_SECRET_KEY es obligatoria cuando SV_ENV=production.")
        app.config["SECRET_KEY"] = _instance_secret(instance)


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
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("Las cookies de sesión no están marcadas Secure.")
    return problems
