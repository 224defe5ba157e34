"""A small fixed data set for the indicators: six people, their enrolments, consultas,
surveys and channel answers, with dates in Chile's time zone."""

from dataclasses import dataclass
from datetime import date, datetime

import pytest

from sv_platform.accounts.models import Company
from sv_platform.advisory.models import Consultation
from sv_platform.core.timeutil import CHILE
from sv_platform.enrollment import services as enrollment
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
from sv_platform.extensions import db
from sv_platform.reports.models import (
    AnnualSurvey,
    AnnualSurveyAnswer,
    ChannelBaseline,
    ExitSurvey,
)

# Course and advisory fixtures reused to reach egreso through the real services.
from tests.advisory.conftest import (  # noqa: F401
    in_progress,
    legal_advisor,
    make_consultation,
    windows,
)
from tests.courses.conftest import content_root, course, enrol, student, window  # noqa: F401


def cl(year, month, day, hour=12, minute=0) -> datetime:
    """A moment in Chile's time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=CHILE)


# The exit and annual survey as a person answers the form (the services' arguments).
SURVEY_FORM = dict(
    channels=["instagram"],
    sold_last_3_months="si",
    sales_range="500k_2m",
    satisfaction="6",
    helped_with=["vender_en_linea"],
    comment="",
)

ANSWER = dict(
    sold_last_3_months=True,
    sales_range="500k_2m",
    helped_with="vender_en_linea",
    comment=None,
)


@dataclass
class DataSet:
    a: object
    b: object
    c: object
    d: object
    e: object
    f: object
    course: object
    legal: object
    sustainability: object


@pytest.fixture
def dataset(app, make_user) -> DataSet:
    course_a = enrollment.ensure_offering("course", "curso-a", "curso-a", "Curso A")
    legal, sustainability = enrollment.ensure_advisory_offerings()
    course_window = EnrollmentWindow(
        offering_id=course_a.id,
        name="Curso A 2026 · Nacional",
        opens_at=cl(2025, 1, 1),
        closes_at=cl(2026, 12, 31, 23),
        capacity=10,
        used=3,
    )
    legal_window = EnrollmentWindow(
        offering_id=legal.id,
        name="Legal 2026 · RM",
        opens_at=cl(2026, 1, 1),
        closes_at=cl(2026, 12, 31, 23),
        capacity=5,
        used=2,
        region_code="13",
    )
    sust_window = EnrollmentWindow(
        offering_id=sustainability.id,
        name="Sustentabilidad 2026 · Nacional",
        opens_at=cl(2026, 1, 1),
        closes_at=cl(2026, 12, 31, 23),
        capacity=5,
        used=1,
    )
    db.session.add_all([course_window, legal_window, sust_window])
    db.session.flush()
    by_offering = {
        course_a.id: course_window,
        legal.id: legal_window,
        sustainability.id: sust_window,
    }

    def seat(user, offering, created, status="active", graduated=None, promoted=None):
        row = Enrollment(
            user_id=user.id,
            window_id=by_offering[offering.id].id,
            offering_id=offering.id,
            status=status,
            created_at=created,
            graduated_at=graduated,
            promoted_at=promoted,
            open_slot=offering.id if status in ("active", "waitlisted") else None,
        )
        db.session.add(row)
        db.session.flush()
        return row

    def person(region, comuna, sex, birth, education="media"):
        return make_user(
            region_code=region,
            comuna_code=comuna,
            sex=sex,
            birth_date=birth,
            education_level=education,
        )

    a = person("13", "13101", "femenino", date(1990, 3, 1), "universitaria")
    b = person("08", "08101", "masculino", date(2000, 7, 1))
    c = person("13", "13101", "masculino", date(1960, 1, 1))
    d = person("05", "05101", "femenino", date(1975, 1, 1))
    e = person("13", "13114", "femenino", date(1999, 5, 5), "tecnica")
    f = person("13", "13101", "femenino", date(1980, 1, 1))
    db.session.add_all(
        [Company(user_id=a.id, rut="76086428-5"), Company(user_id=b.id, rut="76086428-5")]
    )

    # A: a course, and both advisory areas twice.
    a_course = seat(a, course_a, cl(2026, 1, 5), "graduated", cl(2026, 3, 10))
    a_legal1 = seat(a, legal, cl(2026, 2, 1), "graduated", cl(2026, 2, 10))
    a_legal2 = seat(a, legal, cl(2026, 4, 1), "graduated", cl(2026, 4, 20))
    seat(a, sustainability, cl(2026, 5, 1), "graduated", cl(2026, 5, 15))
    a_sust2 = seat(a, sustainability, cl(2026, 6, 1), "active")
    # B: a course started in 2025, still active.
    seat(b, course_a, cl(2025, 11, 1), "active")
    # C: never held a seat in 2026 (cancelled, waitlisted, promoted then cancelled).
    seat(c, course_a, cl(2026, 2, 2), "cancelled")
    seat(c, legal, cl(2026, 7, 10), "waitlisted")
    seat(c, sustainability, cl(2026, 8, 3), "cancelled", promoted=cl(2026, 9, 1))
    # D: graduated in 2025 only.
    d_course = seat(d, course_a, cl(2025, 6, 1), "graduated", cl(2025, 12, 20))
    # E: enrolled on 31 December 2026 at 23:30 Chile time (already 2027 in UTC).
    seat(e, course_a, cl(2026, 12, 31, 23, 30), "active")
    # F: 2027 only.
    seat(f, course_a, cl(2027, 1, 10), "active")

    def consulta(enrolment, area, status, opened, first, resolved, first_due, resolution_due):
        db.session.add(
            Consultation(
                user_id=a.id,
                area=area,
                subject="Consulta",
                description="Texto",
                status=status,
                enrollment_id=enrolment.id,
                created_at=opened,
                opened_at=opened,
                first_response_at=first,
                resolved_at=resolved,
                first_response_due_at=first_due,
                resolution_due_at=resolution_due,
            )
        )

    # Mon 2 Mar → answered Wed 4 Mar (2 business days, on time) → resolved Mon 9 Mar (5, late).
    consulta(
        a_legal1,
        "legal",
        "cerrada",
        cl(2026, 3, 2, 9),
        cl(2026, 3, 4, 10),
        cl(2026, 3, 9, 10),
        cl(2026, 3, 4, 23, 59),
        cl(2026, 3, 6, 23, 59),
    )
    # Mon 6 Apr → answered the same day (0) → resolved Wed 8 Apr (2), both on time.
    consulta(
        a_legal2,
        "legal",
        "resuelta",
        cl(2026, 4, 6, 9),
        cl(2026, 4, 6, 15),
        cl(2026, 4, 8, 10),
        cl(2026, 4, 8, 23, 59),
        cl(2026, 4, 20, 23, 59),
    )
    # Mon 4 May → answered Tue 5 May (1, on time), not resolved yet.
    consulta(
        a_sust2,
        "sustainability",
        "en_curso",
        cl(2026, 5, 4, 9),
        cl(2026, 5, 5, 9),
        None,
        cl(2026, 5, 6, 23, 59),
        cl(2026, 5, 18, 23, 59),
    )

    # Surveys: A answered two exit surveys in 2026 (the latest says she sells online),
    # D one in 2025, E the annual survey 2026 (does not sell online); B answered nothing.
    db.session.add_all(
        [
            ExitSurvey(
                user_id=a.id,
                enrollment_id=a_legal1.id,
                service="legal",
                year=2026,
                channels="ninguno",
                sells_digital=False,
                satisfaction=5,
                answered_at=cl(2026, 2, 11),
                **ANSWER,
            ),
            ExitSurvey(
                user_id=a.id,
                enrollment_id=a_course.id,
                service="course",
                year=2026,
                channels="instagram,whatsapp",
                sells_digital=True,
                satisfaction=7,
                answered_at=cl(2026, 3, 11),
                **ANSWER,
            ),
            ExitSurvey(
                user_id=d.id,
                enrollment_id=d_course.id,
                service="course",
                year=2025,
                channels="web",
                sells_digital=True,
                satisfaction=6,
                answered_at=cl(2025, 12, 21),
                **ANSWER,
            ),
        ]
    )
    annual = AnnualSurvey(year=2026, opened_at=cl(2026, 11, 1), invited=3)
    db.session.add(annual)
    db.session.flush()
    db.session.add(
        AnnualSurveyAnswer(
            survey_id=annual.id,
            user_id=e.id,
            year=2026,
            channels="ninguno",
            sells_digital=False,
            satisfaction=6,
            answered_at=cl(2026, 11, 2),
            **ANSWER,
        )
    )
    # Channel answers: A's baseline is "none" (a later profile edit does not change it).
    db.session.add_all(
        [
            ChannelBaseline(
                user_id=a.id,
                channels="ninguno",
                sells_digital=False,
                source="registro",
                answered_at=cl(2025, 12, 1),
            ),
            ChannelBaseline(
                user_id=a.id,
                channels="web",
                sells_digital=True,
                source="perfil",
                answered_at=cl(2026, 6, 1),
            ),
            ChannelBaseline(
                user_id=b.id,
                channels="whatsapp",
                sells_digital=True,
                source="registro",
                answered_at=cl(2025, 10, 1),
            ),
        ]
    )
    db.session.commit()
    return DataSet(a, b, c, d, e, f, course_a, legal, sustainability)
