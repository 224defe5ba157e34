"""FAQ entries, Spanish-aware full-text search and suggestions."""

from flask import Blueprint

bp = Blueprint("faq", __name__)

from sv_platform.faq import models, views  # noqa: E402,F401
