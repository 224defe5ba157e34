"""Email: the outbox, its sender, account tokens (recovery, confirmation) and notices."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from sv_platform.notifications import models, receivers, views  # noqa: E402,F401
