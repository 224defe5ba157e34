"""Enrolment rules: the only code that changes seats."""
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow, Offering  # noqa: F401
