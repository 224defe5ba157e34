"""Program results: exit and annual surveys, the registration baseline, indicators,
the admin dashboard and its exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__)

from sv_platform.reports import models, views  # noqa: E402,F401


def connect_signals() -> None:
    """Receivers of other domains' signals (they run inside the sender's transaction)."""
    from sv_platform.accounts import signals as account_signals
    from sv_platform.enrollment import signals as enrollment_signals
    from sv_platform.reports import summary, surveys

    enrollment_signals.enrollment_graduated.connect(surveys.on_enrollment_graduated)
    enrollment_signals.enrollment_created.connect(summary.on_enrollment_created)
    for signal in (
        enrollment_signals.enrollment_promoted,
        enrollment_signals.enrollment_cancelled,
        enrollment_signals.enrollment_graduated,
    ):
        signal.connect(summary.on_enrollment_changed)
    account_signals.user_anonymized.connect(summary.on_user_anonymized)
    account_signals.data_exported.connect(surveys.on_data_exported)
    account_signals.user_anonymized.connect(surveys.on_user_anonymized)
