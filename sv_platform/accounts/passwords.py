"""Password rules and argon2id hashing."""

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON = Path(__file__).parent / "data" / "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(
        time_cost=cfg["ARGON2_TIME_COST"],
        memory_cost=cfg["ARGON2_MEMORY_COST"],
        parallelism=cfg["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


def password_problem(
    password: str, *, rut: str | None = None, email: str | None = None
) -> str | None:
    """The Spanish reason a password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"La contraseña debe tener al menos {MIN_LENGTH} caracteres."
    if len(password) > MAX_LENGTH:
        return f"La contraseña puede tener como máximo {MAX_LENGTH} caracteres."
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return "Esa contraseña es muy común y fácil de adivinar. Elige otra."
    if rut:
        plain = rut.replace("-", "").lower()
        if lowered.replace(".", "").replace("-", "") in {plain, plain[:-1]}:
            return "La contraseña no puede ser tu RUT."
    if email and lowered == email.strip().lower():
        return "La contraseña no puede ser tu correo electrónico."
    return None
