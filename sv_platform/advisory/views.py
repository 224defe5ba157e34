"""advisory views."""

from sv_platform.advisory import bp  # noqa: F401
