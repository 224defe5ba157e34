"""faq views."""

from sv_platform.faq import bp  # noqa: F401
