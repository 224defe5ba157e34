"""courses views."""

from sv_platform.courses import bp  # noqa: F401
