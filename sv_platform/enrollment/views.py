"""enrollment views."""

from sv_platform.enrollment import bp  # noqa: F401
