"""Access guards (deny by default), role checks and security headers."""

import logging
from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from sv_platform.core import conditional
from sv_platform.core.domain import MAX_ID

log = logging.getLogger("sv_platform.security")

ROLES = ("entrepreneur", "advisor", "admin")


def public(view):
    """Mark a view as reachable without logging in (everything else needs a session)."""
    view.sv_public = True
    return view


def role_required(*roles: str):
    """Allow only users whose role is in `roles`; others get the Spanish 403 page."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.sv_roles = frozenset(roles)
        return wrapped

    return decorator


def _require_login():
    """Deny by default: a view not marked @public needs a logged-in user."""
    if request.endpoint is None or request.endpoint == "static":
        return None
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "sv_public", False):
        return None
    if not current_user.is_authenticated:
        if request.path.startswith("/api/"):
            abort(401)
        return current_app.login_manager.unauthorized()
    return None


_FORM_TYPES = frozenset(("application/x-www-form-urlencoded", "multipart/form-data"))


def _refuse_nul_bytes():
    """A NUL byte is never text a person typed (PostgreSQL cannot even store it): such a
    request is refused with the Spanish 400 page before any work is done."""
    values = list(request.args.values())
    if request.mimetype in _FORM_TYPES:  # Werkzeug parses a body of no other type as a form
        values += request.form.values()
    if any("\x00" in value for value in values):
        abort(400)
    return None


_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(response):
    headers = response.headers
    # Each header unless the view set its own (one pass over the response's headers).
    present = {name.lower() for name, _value in headers.items()}
    extra = [pair for pair in _HEADERS if pair[0].lower() not in present]
    if current_app.config.get("HSTS") and "strict-transport-security" not in present:
        extra.append(_HSTS)
    headers.extend(extra)
    if request.endpoint == "static":
        return response
    if conditional.applies(response):
        return conditional.make_conditional(response)
    if current_user.is_authenticated:
        headers["Cache-Control"] = "no-store"
        headers.setdefault("Pragma", "no-cache")
    return response


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` never matches a number larger than any row id (no 500 on overflow)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def init_app(app) -> None:
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_refuse_nul_bytes)
    app.before_request(_require_login)
    app.after_request(_security_headers)
