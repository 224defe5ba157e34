"""Survey answers (registration baseline, exit survey, annual survey) and report indexes."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sv_platform.advisory.models import Consultation
from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db

# "¿Qué canales digitales usa hoy tu negocio para vender?" (several may be chosen).
CHANNELS = {
    "web": "Página web propia",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "tiktok": "TikTok",
    "marketplace_nacional": "Marketplace nacional",
    "marketplace_internacional": "Marketplace internacional",
    "ninguno": "Ninguno",
}
SALES_RANGES = {
    "hasta_500k": "Hasta $500.000",
    "500k_2m": "Más de $500.000 y hasta $2.000.000",
    "2m_8m": "Más de $2.000.000 y hasta $8.000.000",
    "mas_8m": "Más de $8.000.000",
    "no_responde": "Prefiero no responder",
}
HELPED_WITH = {
    "vender_en_linea": "Empezar o mejorar mis ventas en línea",
    "clientes": "Llegar a más clientes",
    "formalizar": "Formalizar o regularizar mi negocio",
    "tema_legal": "Resolver un tema legal",
    "sustentabilidad": "Hacer mi negocio más sustentable",
    "gestion": "Gestionar mejor mi negocio",
    "nada": "No me ayudó",
}
# Egreso / service types, as the program reports them.
SERVICES = {
    "course": "Cursos (Portal de Capacitación)",
    "legal": "Asesoría Legal Virtual",
    "sustainability": "Asesoría Virtual en Sustentabilidad",
}


def join_codes(codes) -> str:
    """Several choices stored in one column as `a,b,c` (codes never hold commas)."""
    return ",".join(codes)


def split_codes(value: str | None) -> list[str]:
    return [code for code in (value or "").split(",") if code]


class ChannelBaseline(db.Model):
    """One answer to the channel question outside the surveys: at registration
    (`source="registro"`, the baseline) and each later edit in the profile (`"perfil"`).
    Rows are never updated: the first one stays the baseline, the last one is current."""

    __tablename__ = "channel_baseline"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    channels: Mapped[str] = mapped_column(String(200))
    sells_digital: Mapped[bool]
    source: Mapped[str] = mapped_column(String(20))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_channel_baseline_user_id", "user_id", "id"),)

    @property
    def channel_codes(self) -> list[str]:
        return split_codes(self.channels)


class _Answers:
    """The questions the exit and the annual survey share."""

    channels: Mapped[str] = mapped_column(String(200))
    # At least one channel other than "ninguno": the purpose indicator's numerator.
    sells_digital: Mapped[bool]
    sold_last_3_months: Mapped[bool]
    sales_range: Mapped[str] = mapped_column(String(20))
    satisfaction: Mapped[int]
    helped_with: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def channel_codes(self) -> list[str]:
        return split_codes(self.channels)

    @property
    def helped_codes(self) -> list[str]:
        return split_codes(self.helped_with)


class ExitSurvey(_Answers, db.Model):
    """The survey at egreso: one per graduated enrolment (course 100 %, consulta
    resolved). `year` is the Chilean year of the egreso it belongs to."""

    __tablename__ = "exit_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    service: Mapped[str] = mapped_column(String(20))
    year: Mapped[int]

    enrollment: Mapped[Enrollment] = relationship()

    __table_args__ = (
        Index("ix_exit_survey_year_user", "year", "user_id"),
        Index("ix_exit_survey_user", "user_id"),  # a person's answers (summary refresh)
    )


class AnnualSurvey(db.Model):
    """ "Encuesta anual AAAA": opened once per year by an admin."""

    __tablename__ = "annual_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    invited: Mapped[int] = mapped_column(default=0)

    @property
    def title(self) -> str:
        return f"Encuesta anual {self.year}"


class AnnualSurveyInvitation(db.Model):
    """One beneficiary of the survey's year, invited (in-app notice; e-mail hooks in)."""

    __tablename__ = "annual_survey_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("annual_survey.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("survey_id", "user_id", name="uq_annual_survey_invitation_pair"),
    )


class AnnualSurveyAnswer(_Answers, db.Model):
    """One answer per person and year."""

    __tablename__ = "annual_survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("annual_survey.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    year: Mapped[int]

    __table_args__ = (
        UniqueConstraint("survey_id", "user_id", name="uq_annual_survey_answer_pair"),
        Index("ix_annual_survey_answer_year_user", "year", "user_id"),
        Index("ix_annual_survey_answer_user", "user_id"),  # a person's answers
    )


# Indexes the yearly reports need on other domains' tables (owned here, where they are used).
# They cover every column the yearly queries read, so those run on the index alone: a
# year's seat enrolments from their creation or egreso date, waitlist promotions from their
# date, a year's consultas from their creation.
Index(
    "ix_enrollment_report_created",
    Enrollment.status,
    Enrollment.created_at,
    Enrollment.graduated_at,
    Enrollment.offering_id,
    Enrollment.user_id,
)
Index(
    "ix_enrollment_report_graduated",
    Enrollment.status,
    Enrollment.graduated_at,
    Enrollment.created_at,
    Enrollment.offering_id,
    Enrollment.user_id,
)
Index(
    "ix_enrollment_report_promoted",
    Enrollment.promoted_at,
    Enrollment.created_at,
    Enrollment.offering_id,
    Enrollment.user_id,
)
Index(
    "ix_consultation_report_created",
    Consultation.created_at,
    Consultation.area,
    Consultation.status,
    Consultation.opened_at,
    Consultation.first_response_at,
    Consultation.first_response_due_at,
    Consultation.resolved_at,
    Consultation.resolution_due_at,
    Consultation.user_id,
)


FILTER_COLUMNS = ("region", "sex", "course_seats", "legal_seats", "sustainability_seats")
CELL_INDEX = (
    "year",
    "region",
    "sex",
    "education",
    "birth_year",
    "answered",
    "sells_digital",
    "sold_last_3_months",
    "baseline",
    "course_seats",
    "legal_seats",
    "sustainability_seats",
    "course_egresos",
    "legal_egresos",
    "sustainability_egresos",
    "courses_started",
    "courses_started_graduated",
)


class BeneficiaryYear(db.Model):
    """The beneficiaries' summary: one row per person and year t in which the person held a
    seat (see `summary.py`), with what the program characterizes them by, the services they
    used and their egresos in t, and their latest survey answer of t. Derived data: kept
    exact in the transaction of every change that affects it and rebuilt from scratch by
    `flask sv report rebuild`."""

    __tablename__ = "report_beneficiary_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    region: Mapped[str | None] = mapped_column(String(2))
    comuna: Mapped[str | None] = mapped_column(String(5))
    sex: Mapped[str | None] = mapped_column(String(20))
    birth_year: Mapped[int | None]
    education: Mapped[str | None] = mapped_column(String(20))
    company_rut: Mapped[str | None] = mapped_column(String(12))
    baseline: Mapped[bool | None]  # first answer to the channel question: sells online?
    course_seats: Mapped[int] = mapped_column(default=0)
    legal_seats: Mapped[int] = mapped_column(default=0)
    sustainability_seats: Mapped[int] = mapped_column(default=0)
    course_egresos: Mapped[int] = mapped_column(default=0)
    legal_egresos: Mapped[int] = mapped_column(default=0)
    sustainability_egresos: Mapped[int] = mapped_column(default=0)
    # Course seats created in t, and those of them already graduated (completion rate).
    courses_started: Mapped[int] = mapped_column(default=0)
    courses_started_graduated: Mapped[int] = mapped_column(default=0)
    # The latest answer of t (exit survey of an egreso of t, or the annual survey t).
    answered: Mapped[bool] = mapped_column(default=False)
    sells_digital: Mapped[bool] = mapped_column(default=False)
    sold_last_3_months: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_report_beneficiary_year_user", "user_id"),
        # Covering indexes of the dashboard's three passes over a year (the breakdowns
        # with their sums, comunas, distinct companies): read in their order, no sorting.
        Index("ix_report_beneficiary_year_cells", *CELL_INDEX),
        Index("ix_report_beneficiary_year_comuna", "year", "comuna", *FILTER_COLUMNS),
        Index("ix_report_beneficiary_year_company", "year", "company_rut", *FILTER_COLUMNS),
        {"sqlite_with_rowid": False},
    )


class SummaryState(db.Model):
    """One row: the summary holds the years up to `horizon` (later years, reached when the
    calendar turns, are computed from the source tables until the summary is extended)."""

    __tablename__ = "report_summary_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    horizon: Mapped[int]
    built_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


Index(
    "ix_exit_survey_report_satisfaction",
    ExitSurvey.year,
    ExitSurvey.service,
    ExitSurvey.satisfaction,
    ExitSurvey.user_id,
)
