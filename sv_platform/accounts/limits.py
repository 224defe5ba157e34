"""Limits on logins and registrations, counted before any password is checked or hashed."""

from flask import current_app

from sv_platform.accounts.services import find_by_identifier, normalize_email
from sv_platform.core import throttle
from sv_platform.core.domain import InvalidInput
from sv_platform.core.rut import normalize_rut


def login_account_key(identifier: str | None) -> str:
    """One key per account whatever the spelling: the account's id when the RUT or email
    belongs to one (its RUT and its email share the key), else the normalized identifier
    (so an unknown account is limited exactly like a real one and the answers match)."""
    identifier = (identifier or "").strip()[:254]
    user = find_by_identifier(identifier)
    if user is not None:
        return f"user:{user.id}"
    if "@" in identifier:
        return f"email:{normalize_email(identifier)}"
    try:
        return f"rut:{normalize_rut(identifier)}"
    except InvalidInput:
        return f"other:{identifier.lower()}"


def begin_login(identifier: str | None, ip: str | None) -> str | None:
    """Rule: at most LOGIN_LIMIT_PER_IP failed logins per address and LOGIN_LIMIT_PER_ACCOUNT
    per account. The attempt is counted (one atomic hit on each limit) before the password
    is checked, so a burst of parallel guesses gets no more evaluations than the limit.
    Returns the account key to pass to `login_succeeded`, or None when a limit is spent
    (the view answers 429 and checks nothing)."""
    config = current_app.config
    account = login_account_key(identifier)
    if not throttle.hit(config["LOGIN_LIMIT_PER_IP"], "login-ip", ip or "-"):
        return None
    if not throttle.hit(config["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", account):
        throttle.refund(config["LOGIN_LIMIT_PER_IP"], "login-ip", ip or "-")
        return None
    return account


def login_succeeded(account_key: str, ip: str | None) -> None:
    """Only failures count: a correct password gives back its hit on the address and
    clears the account's count (whoever knows the password owns the account)."""
    config = current_app.config
    throttle.refund(config["LOGIN_LIMIT_PER_IP"], "login-ip", ip or "-")
    throttle.clear(config["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", account_key)


def clear_account_lock(user_id: int) -> None:
    """A locked account's owner proved who they are another way (a password reset): let
    them log in at once instead of waiting for the window to pass."""
    throttle.clear(
        current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], "login-account", f"user:{user_id}"
    )


def registration_allowed(ip: str | None) -> bool:
    """Rule: at most REGISTRATION_LIMIT_PER_IP registration attempts per address (each one
    costs an argon2 hash). Counted before the form is checked."""
    return throttle.hit(current_app.config["REGISTRATION_LIMIT_PER_IP"], "register-ip", ip or "-")
