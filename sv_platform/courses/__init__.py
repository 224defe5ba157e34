"""Course content import, catalog, lessons, progress, quiz and certificates."""

from flask import Blueprint

bp = Blueprint("courses", __name__)

from sv_platform.courses import models, views  # noqa: E402,F401
