"""What every domain's views share: the acting user, refusals, errors on forms, redirects."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import flash
from flask_login import current_user

from sv_platform.core.domain import DomainError

# Refusals of access answered with the shared error page (its status and Spanish message)
# instead of a message on the page the person was using.
PAGE_STATUSES = (403, 404)


def acting_user():
    """The logged-in user as a model object (not Flask-Login's proxy), or None."""
    if not current_user.is_authenticated:
        return None
    return current_user._get_current_object()


def attach_error(form, error: DomainError, field_map: dict | None = None) -> None:
    """Show a service error next to its field (and as a flash message)."""
    name = (field_map or {}).get(error.field, error.field)
    if form is not None and name and name in form:
        form[name].errors = list(form[name].errors) + [error.message]
    flash(error.message, "danger")


@dataclass(frozen=True)
class Outcome:
    """What `attempt()` returns: the service's result, or the rule that said no."""

    value: Any = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(service, *args, form=None, field_map: dict | None = None, **kwargs) -> Outcome:
    """The one way a view calls a service that may refuse.

    A refusal the person can act on is shown on the page (next to its field when `form` is
    given, and as a flash message) and returned in the Outcome; a refusal of access (403,
    404) propagates to the shared Spanish error page (core.errors)."""
    try:
        return Outcome(value=service(*args, **kwargs))
    except DomainError as error:
        if error.status in PAGE_STATUSES:
            raise
        attach_error(form, error, field_map)
        return Outcome(error=error)


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after an action, or None: never another host, never a
    scheme, never control characters or backslashes (they would split headers or be read
    as `//host` by browsers)."""
    if not target or len(target) > 2000:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
