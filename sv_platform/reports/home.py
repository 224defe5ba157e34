"""The logged-in entrepreneur's home: what to do next, read from every domain at once."""

from dataclasses import dataclass

from sqlalchemy import select

from sv_platform.accounts import services as accounts
from sv_platform.advisory import services as advisory
from sv_platform.advisory.models import OPEN_STATUSES as OPEN_CONSULTA_STATUSES
from sv_platform.courses import overview
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from sv_platform.reports import surveys
from sv_platform.reports.models import ExitSurvey

NOTICES_SHOWN = 3


@dataclass(frozen=True)
class WaitlistPlace:
    title: str
    position: int
    is_course: bool
    reference: str  # the course slug, or the advisory area


@dataclass(frozen=True)
class PendingSurvey:
    title: str
    url: str


@dataclass(frozen=True)
class HomePage:
    """Each list holds what the person can act on now; all empty means a first visit."""

    courses: list
    consultations: list
    waitlist: list[WaitlistPlace]
    surveys: list[PendingSurvey]
    notices: list
    unread: int

    @property
    def has_tasks(self) -> bool:
        return bool(self.courses or self.consultations or self.waitlist or self.surveys)


def home_page(user) -> HomePage:
    """What to do next: continue each active course (next lesson, progress), the open or
    waiting consultas and their state, the waitlist places, the exit surveys of egresos
    still unanswered (the rule of `surveys.pending_exit_survey`: a graduated enrolment of
    hers without an answer) and the unread notices. A fixed number of queries (about ten),
    however many enrolments the person has."""
    seats = enrollment.enrollments_for(user.id)
    active_courses = [
        e.offering_id for e in seats if e.status == "active" and e.offering.kind == "course"
    ]
    positions = enrollment.waitlist_positions(user.id)
    waitlist = [
        WaitlistPlace(
            e.offering.title, positions[e.id], e.offering.kind == "course", e.offering.reference
        )
        for e in reversed(seats)  # oldest first: the longest wait
        if e.status == "waitlisted" and e.id in positions
    ]
    graduated = {e.id: e for e in seats if e.status == "graduated"}
    answered = set()
    if graduated:
        answered = set(
            db.session.scalars(
                select(ExitSurvey.enrollment_id).where(ExitSurvey.enrollment_id.in_(graduated))
            )
        )
    pending = [
        PendingSurvey(e.offering.title, surveys.exit_url(e.id))
        for e in graduated.values()
        if e.id not in answered
    ]
    consultations = [
        c
        for c in advisory.consultations_of(user)
        if c.status in (*OPEN_CONSULTA_STATUSES, "en_espera", "resuelta")
    ]
    unread = getattr(user, "unread_count", None)  # counted when the session user loaded
    if unread is None:
        unread = accounts.unread_notifications(user.id)
    notices = (
        [n for n in accounts.notifications_for(user.id, limit=NOTICES_SHOWN) if n.read_at is None]
        if unread
        else []
    )
    return HomePage(
        courses=overview.courses_to_continue(user.id, active_courses),
        consultations=consultations,
        waitlist=waitlist,
        surveys=pending,
        notices=notices,
        unread=unread,
    )
