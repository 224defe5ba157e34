"""Admin dashboards, indicators and exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from sv_platform.reports import views  # noqa: E402,F401
