"""Core pages (home, privacy, health), errors, security headers and shared helpers."""

from flask import Blueprint

bp = Blueprint("core", __name__)

from sv_platform.core import views  # noqa: E402,F401
