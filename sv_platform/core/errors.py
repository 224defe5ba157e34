"""Spanish error pages (never a traceback) and JSON errors under /api/."""

import logging

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from sv_platform.core.domain import DomainError

log = logging.getLogger("sv_platform.security")

MESSAGES = {
    400: (
        "Solicitud no válida",
        "No pudimos procesar lo que enviaste. Revisa los datos e inténtalo de nuevo.",
    ),
    401: ("Debes ingresar", "Ingresa con tu cuenta para continuar."),
    403: ("Acceso no permitido", "Tu cuenta no tiene permiso para ver esta página."),
    404: ("Página no encontrada", "La página que buscas no existe o fue movida."),
    405: ("Acción no permitida", "Esta página no acepta esa acción."),
    413: ("Archivo demasiado grande", "Lo que enviaste supera el tamaño permitido."),
    429: (
        "Demasiados intentos",
        "Hiciste demasiados intentos seguidos. Espera unos minutos e inténtalo de nuevo.",
    ),
    500: (
        "Algo salió mal",
        "Tuvimos un problema de nuestro lado. Lo que escribiste no se "
        "envió; vuelve atrás e inténtalo otra vez en unos minutos.",
    ),
}
CSRF_MESSAGE = (
    "Tu formulario expiró o no trae su código de seguridad. Vuelve atrás, "
    "recarga la página e inténtalo de nuevo."
)


def _render(code: int, message: str | None = None):
    title, default = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    text = message or default
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return jsonify({"ok": False, "error": title, "message": text}), code
    return render_template("errors/error.html", code=code, title=title, message=text), code


def handle_http(error: HTTPException):
    code = error.code or 500
    if code == 403:
        log.warning(
            "access refused path=%s user=%s ip=%s",
            request.path,
            getattr(current_user, "id", None),
            request.remote_addr,
        )
    if code == 429:
        log.warning("rate limited path=%s ip=%s", request.path, request.remote_addr)
    return _render(code)


def handle_domain(error: DomainError):
    """A rule said no and the view did not handle it: its status and its Spanish message.
    One that needs a login (401) sends a page visitor to log in and back here."""
    if error.status == 401 and not request.path.startswith("/api/"):
        flash(error.message, "info")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if error.status == 403:
        log.warning(
            "access refused path=%s user=%s ip=%s",
            request.path,
            getattr(current_user, "id", None),
            request.remote_addr,
        )
    return _render(error.status, error.message)


def handle_csrf(error: CSRFError):
    log.warning("csrf refused path=%s ip=%s", request.path, request.remote_addr)
    return _render(400, CSRF_MESSAGE)


def handle_unexpected(error: Exception):
    log.exception("unhandled error on %s", request.path)
    return _render(500)


def _configure_logging(app) -> None:
    """Security and domain events go to stderr (gunicorn collects it) at INFO."""
    logger = logging.getLogger("sv_platform")
    logger.setLevel(logging.INFO)
    if not app.testing and not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)


def init_app(app) -> None:
    _configure_logging(app)
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(DomainError, handle_domain)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
