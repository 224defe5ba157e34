"""Users, roles, RUT registration, profile, company, consent and personal data."""

from flask import Blueprint

bp = Blueprint("accounts", __name__)

from sv_platform.accounts import admin_views, models, people, views  # noqa: E402,F401
