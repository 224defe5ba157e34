"""reports views."""

from sv_platform.reports import bp  # noqa: F401
