"""Consultas, their lifecycle, the real-time chat, attachments and ratings."""

from flask import Blueprint

bp = Blueprint("advisory", __name__)

from sv_platform.advisory import availability, events, models, views  # noqa: E402,F401
