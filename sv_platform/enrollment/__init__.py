"""Offerings, enrolment windows, quotas (cupos), seats and waitlist."""

from flask import Blueprint

bp = Blueprint("enrollment", __name__)

from sv_platform.enrollment import models, views  # noqa: E402,F401
