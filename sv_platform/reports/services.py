"""Program indicators: pure functions over the database, each stating its definition.

Reports read the other domains' tables (enrolments, consultas, people) and never write
them. Every indicator takes `Filters` (year t, service, región, sexo); the docstring's
first paragraph is the definition shown on the dashboard beside the figure.
"""

import statistics
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

import holidays
from flask import current_app
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    extract,
    func,
    insert,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from sv_platform.accounts import territory
from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES, Company, User
from sv_platform.advisory.models import AREAS, STATUSES, Consultation
from sv_platform.core.timeutil import CHILE, as_utc, chile_day_start
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow, Offering
from sv_platform.extensions import db
from sv_platform.reports.models import (
    SERVICES,
    AnnualSurveyAnswer,
    ChannelBaseline,
    ExitSurvey,
)

SEAT_STATUSES = ("active", "graduated")
AGE_BANDS = ("15–24", "25–34", "35–44", "45–54", "55–64", "65 y más", "Sin dato")
SMALL_CELL = 5
PLANNED_MONTHS_TO_EGRESO = 10


@dataclass(frozen=True)
class Filters:
    """Year t (Chilean calendar year) and optional service, región and sexo."""

    year: int
    service: str | None = None  # course | legal | sustainability
    region: str | None = None  # CUT code 01–16
    sex: str | None = None

    def as_dict(self) -> dict:
        return {
            "año": self.year,
            "servicio": self.service,
            "region": self.region,
            "sexo": self.sex,
        }


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[1 January 00:00, next 1 January 00:00) in Chile's time zone, as UTC."""
    return chile_day_start(date(year, 1, 1)), chile_day_start(date(year + 1, 1, 1))


def publish(n: int | None):
    """Small-cell suppression for anything meant for publication: 1–4 → "<5" (0 and 5 or
    more are shown as they are: a zero identifies nobody)."""
    if n is None:
        return ""
    return "<5" if 0 < n < SMALL_CELL else n


def rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


# --- building blocks --------------------------------------------------------------------


def _offering_services() -> dict[int, str]:
    """offering id → course | legal | sustainability."""
    rows = db.session.execute(select(Offering.id, Offering.kind, Offering.reference))
    return {oid: ("course" if kind == "course" else ref) for oid, kind, ref in rows}


def _service_column(services: dict[int, str]):
    return case(services, value=Enrollment.offering_id, else_="course") if services else None


def _in_year(year: int):
    """An enrolment counts in year t when it holds a seat (active or graduated) and its
    period — from its creation to its egreso, or until today while active — overlaps t.
    (One condition; `seat_enrolments` runs the same rule as two index-friendly halves.)"""
    start, end = year_bounds(year)
    return or_(
        and_(Enrollment.status == "active", Enrollment.created_at < end),
        and_(
            Enrollment.status == "graduated",
            Enrollment.graduated_at >= start,
            Enrollment.created_at < end,
        ),
    )


def _person_conditions(f: Filters) -> list:
    conditions = []
    if f.region:
        conditions.append(User.region_code == f.region)
    if f.sex:
        conditions.append(User.sex == f.sex)
    return conditions


def _service_condition(f: Filters, services: dict[int, str]):
    if not f.service:
        return None
    ids = [oid for oid, svc in services.items() if svc == f.service]
    return Enrollment.offering_id.in_(ids or [-1])


def seat_enrolments(f: Filters, *, services=None, with_id: bool = False):
    """Subquery (user_id, offering_id[, id]) of the seat enrolments of year t with the
    filters applied (definition in `_in_year`). Written as its two disjoint halves —
    still active, graduated in or after t — so each one runs on its covering index."""
    start, end = year_bounds(f.year)
    services = services if services is not None else _offering_services()
    columns = [Enrollment.user_id, Enrollment.offering_id]
    if with_id:
        columns.append(Enrollment.id)
    halves = [
        (Enrollment.status == "active", Enrollment.created_at < end),
        (
            Enrollment.status == "graduated",
            Enrollment.graduated_at >= start,
            Enrollment.created_at < end,
        ),
    ]
    service = _service_condition(f, services)
    parts = []
    for conditions in halves:
        part = _with_person(select(*columns), f, Enrollment.user_id).where(*conditions)
        parts.append(part if service is None else part.where(service))
    return union_all(*parts).subquery("seats")


def _with_person(query, f: Filters, column):
    """Join the person behind `column` only when a región or sexo filter needs it."""
    if f.region or f.sex:
        query = query.join(User, User.id == column).where(*_person_conditions(f))
    return query


# The beneficiaries of the year, built once per figure set in a temporary table (one pass
# over the enrolments in the database; every breakdown is then a small GROUP BY).
_TEMPORARY = MetaData()
PEOPLE = Table(
    "report_people",
    _TEMPORARY,
    Column("user_id", Integer, primary_key=True),
    Column("region", String(2)),
    Column("comuna", String(5)),
    Column("sex", String(20)),
    Column("birth_year", Integer),
    Column("education", String(20)),
    Column("company_rut", String(12)),
    Column("baseline", Boolean),  # first answer to the channel question: sells online?
    prefixes=["TEMPORARY"],
)


@contextmanager
def people(f: Filters):
    """The temporary table of every beneficiary of year t once, with what the program
    characterizes them by and their registration baseline. Dropped on exit."""
    connection = db.session.connection()
    PEOPLE.drop(connection, checkfirst=True)
    PEOPLE.create(connection)
    seats = seat_enrolments(f)
    seat_users = select(seats.c.user_id).distinct().subquery()
    earlier = aliased(ChannelBaseline)
    first_answer = (
        select(func.min(earlier.id))
        .where(earlier.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    source = (
        select(
            User.id,
            User.region_code,
            User.comuna_code,
            User.sex,
            cast(extract("year", User.birth_date), Integer),
            User.education_level,
            Company.rut,
            ChannelBaseline.sells_digital,
        )
        .join(seat_users, seat_users.c.user_id == User.id)
        .outerjoin(Company, Company.user_id == User.id)
        .outerjoin(ChannelBaseline, ChannelBaseline.id == first_answer)
    )
    connection.execute(insert(PEOPLE).from_select([c.name for c in PEOPLE.c], source))
    try:
        yield PEOPLE
    finally:
        PEOPLE.drop(connection)


def _grouped(column) -> Counter:
    return Counter(dict(db.session.execute(select(column, func.count()).group_by(column)).all()))


def beneficiary_ids(f: Filters) -> list[int]:
    """Ids of the beneficiaries of year t (who the annual survey invites)."""
    seats = seat_enrolments(f)
    return sorted(db.session.scalars(select(seats.c.user_id).distinct()).all())


def age_band(birth_year: int | None, year: int) -> str:
    """Age reached in year t (t − birth year), in the program's bands."""
    if birth_year is None:
        return "Sin dato"
    age = year - birth_year
    for limit, label in ((25, "15–24"), (35, "25–34"), (45, "35–44"), (55, "45–54")):
        if age < limit:
            return label
    return "55–64" if age < 65 else "65 y más"


def _ordered(counter: Counter, keys) -> list[tuple[str, int]]:
    return [(key, counter.get(key, 0)) for key in keys]


# --- indicators -------------------------------------------------------------------------


@dataclass
class Beneficiaries:
    persons: int
    companies: int
    by_service: list[tuple[str, int]]
    by_region: list[tuple[str, int]]
    by_comuna: list[tuple[str, int]]
    by_sex: list[tuple[str, int]]
    by_age: list[tuple[str, int]]
    by_education: list[tuple[str, int]]


def _service_usage(f: Filters) -> dict[str, tuple[int, int]]:
    """service → (seat enrolments, distinct persons) in year t."""
    services = _offering_services()
    if not services:
        return {}
    seats = seat_enrolments(f, services=services)
    column = case(services, value=seats.c.offering_id, else_="course")
    query = select(
        column.label("service"), func.count(), func.count(func.distinct(seats.c.user_id))
    ).group_by(column)
    return {svc: (n, persons) for svc, n, persons in db.session.execute(query)}


def beneficiaries(f: Filters, usage: dict | None = None, table=None) -> Beneficiaries:
    """Beneficiarios del año t: personas distintas (y empresas distintas, por RUT de
    empresa cuando se informó) con al menos una inscripción vigente o egresada en el año t
    en cualquiera de los tres servicios. Una inscripción cuenta en t si su período —desde
    que se creó hasta su egreso, o hasta hoy si sigue vigente— toca el año t. Las
    inscripciones canceladas y las listas de espera no cuentan. Por servicio, una persona
    cuenta una vez en cada servicio que usó (la suma puede superar el total)."""
    if table is None:
        with people(f) as built:
            return beneficiaries(f, usage, built)
    usage = _service_usage(f) if usage is None else usage
    by_service = Counter({svc: persons for svc, (_n, persons) in usage.items()})
    persons, companies = db.session.execute(
        select(func.count(), func.count(func.distinct(table.c.company_rut)))
    ).one()
    ages = Counter()
    for birth_year, n in _grouped(table.c.birth_year).items():
        ages[age_band(birth_year, f.year)] += n
    comunas = _grouped(table.c.comuna)
    comunas.pop(None, None)
    return Beneficiaries(
        persons=persons,
        companies=companies,
        by_service=_ordered(by_service, SERVICES),
        by_region=_ordered(_grouped(table.c.region), territory.region_names()),
        by_comuna=sorted(comunas.items(), key=lambda kv: (-kv[1], kv[0])),
        by_sex=_ordered(_grouped(table.c.sex), SEXES),
        by_age=_ordered(ages, AGE_BANDS),
        by_education=_ordered(_grouped(table.c.education), EDUCATION_LEVELS),
    )


@dataclass
class ServiceCounts:
    total: int
    by_service: list[tuple[str, int]]
    persons: int = 0


def services_delivered(f: Filters, usage: dict | None = None) -> ServiceCounts:
    """Servicios entregados en el año t: inscripciones vigentes o egresadas cuyo período
    toca el año t, contadas una por una (una persona que usó dos veces la asesoría legal y
    una vez la de sustentabilidad cuenta 3)."""
    usage = _service_usage(f) if usage is None else usage
    counts = Counter({svc: n for svc, (n, _persons) in usage.items()})
    return ServiceCounts(sum(counts.values()), _ordered(counts, SERVICES))


def egresos(f: Filters) -> ServiceCounts:
    """Egresos del año t por tipo: curso completado al 100 % (evaluación aprobada),
    asesoría legal recibida y asesoría en sustentabilidad recibida (consulta resuelta),
    con fecha de egreso en el año t. Una persona puede egresar varias veces de las
    asesorías; `persons` cuenta personas distintas."""
    start, end = year_bounds(f.year)
    services = _offering_services()
    column = _service_column(services)
    if column is None:
        return ServiceCounts(0, _ordered(Counter(), SERVICES))
    conditions = [
        Enrollment.status == "graduated",
        Enrollment.graduated_at >= start,
        Enrollment.graduated_at < end,
    ]
    service = _service_condition(f, services)
    if service is not None:
        conditions.append(service)
    grouped = _with_person(select(column, func.count()), f, Enrollment.user_id)
    counts = Counter(dict(db.session.execute(grouped.where(*conditions).group_by(column)).all()))
    people = select(func.count(func.distinct(Enrollment.user_id))).select_from(Enrollment)
    persons = db.session.scalar(_with_person(people, f, Enrollment.user_id).where(*conditions))
    return ServiceCounts(sum(counts.values()), _ordered(counts, SERVICES), persons or 0)


@dataclass
class WindowUse:
    name: str
    service: str
    region: str | None
    capacity: int
    used: int
    waitlisted: int

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.used, 0)

    @property
    def use_rate(self) -> float | None:
        return rate(self.used, self.capacity)


def cupos(f: Filters) -> list[WindowUse]:
    """Cupos usados versus capacidad por ventana: las ventanas abiertas en algún momento
    del año t, con su capacidad, los cupos ocupados hoy (inscripciones vigentes o
    egresadas) y las personas en lista de espera hoy. Con región: las ventanas de esa
    región y las nacionales."""
    start, end = year_bounds(f.year)
    services = _offering_services()
    query = select(EnrollmentWindow).where(
        EnrollmentWindow.opens_at < end, EnrollmentWindow.closes_at > start
    )
    if f.service:
        ids = [oid for oid, svc in services.items() if svc == f.service]
        query = query.where(EnrollmentWindow.offering_id.in_(ids or [-1]))
    if f.region:
        query = query.where(
            or_(EnrollmentWindow.region_code.is_(None), EnrollmentWindow.region_code == f.region)
        )
    windows = list(db.session.scalars(query.order_by(EnrollmentWindow.opens_at)))
    waiting = dict(
        db.session.execute(
            select(Enrollment.window_id, func.count())
            .where(
                Enrollment.window_id.in_([w.id for w in windows] or [-1]),
                Enrollment.status == "waitlisted",
            )
            .group_by(Enrollment.window_id)
        ).all()
    )
    return [
        WindowUse(
            w.name,
            services.get(w.offering_id, "course"),
            w.region_code,
            w.capacity,
            w.used,
            waiting.get(w.id, 0),
        )
        for w in windows
    ]


@dataclass
class Waitlist:
    now: int
    by_month: list[tuple[int, int, int]]  # (month, entered, promoted)


def _month_of(column, year: int):
    """The Chilean month (1–12) of a timestamp inside year t, computed in SQL."""
    bounds = [chile_day_start(date(year, m, 1)) for m in range(2, 13)]
    return case(*[(column < bound, m) for m, bound in enumerate(bounds, 1)], else_=12)


def waitlist(f: Filters) -> Waitlist:
    """Lista de espera: personas esperando un cupo hoy, y por mes del año t las entradas a
    la lista (inscripciones creadas ese mes que siguen esperando o ya fueron promovidas) y
    las promociones (cupo liberado y asignado ese mes)."""
    start, end = year_bounds(f.year)
    services = _offering_services()
    extra = []
    service = _service_condition(f, services)
    if service is not None:
        extra.append(service)

    def grouped(column, *conditions) -> Counter:
        month = _month_of(column, f.year)
        query = _with_person(select(month, func.count()), f, Enrollment.user_id)
        return Counter(
            dict(db.session.execute(query.where(*conditions, *extra).group_by(month)).all())
        )

    in_year = (Enrollment.created_at >= start, Enrollment.created_at < end)
    entered = grouped(Enrollment.created_at, Enrollment.status == "waitlisted", *in_year)
    entered += grouped(Enrollment.created_at, Enrollment.promoted_at >= start, *in_year)
    promoted = grouped(
        Enrollment.promoted_at, Enrollment.promoted_at >= start, Enrollment.promoted_at < end
    )
    now_query = _with_person(
        select(func.count()).select_from(Enrollment), f, Enrollment.user_id
    ).where(Enrollment.status == "waitlisted", *extra)
    now = db.session.scalar(now_query) or 0
    return Waitlist(now, [(m, entered[m], promoted[m]) for m in range(1, 13)])


# Business days: the calendar of the service levels (Monday–Friday, Chilean holidays off).
_EPOCH_YEAR = 2000


@lru_cache(maxsize=128)
def _year_prefix(year: int) -> tuple[int, ...]:
    """prefix[i] = business days among the year's first i days."""
    off = holidays.country_holidays("CL", years=year)
    prefix, day, count = [0], date(year, 1, 1), 0
    while day.year == year:
        if day.weekday() < 5 and day not in off:
            count += 1
        prefix.append(count)
        day = date.fromordinal(day.toordinal() + 1)
    return tuple(prefix)


@lru_cache(maxsize=128)
def _before_year(year: int) -> int:
    if year <= _EPOCH_YEAR:
        return 0
    return _before_year(year - 1) + _year_prefix(year - 1)[-1]


def _business_ordinal(day: date) -> int:
    return _before_year(day.year) + _year_prefix(day.year)[day.timetuple().tm_yday]


def business_days(start: datetime, end: datetime) -> int:
    """Business days in (start day, end day], both days taken in Chile."""
    a = as_utc(start).astimezone(CHILE).date()
    b = as_utc(end).astimezone(CHILE).date()
    return _business_ordinal(b) - _business_ordinal(a)


@dataclass
class Consultations:
    total: int
    by_status: dict[str, dict[str, int]]  # status → area → n
    median_first_response: float | None
    median_resolution: float | None
    first_response_on_time: tuple[int, int]  # (on time, with a first response)
    resolution_on_time: tuple[int, int]  # (on time, resolved)

    @property
    def first_response_sla(self) -> float | None:
        return rate(*self.first_response_on_time)

    @property
    def resolution_sla(self) -> float | None:
        return rate(*self.resolution_on_time)


def consultations(f: Filters) -> Consultations:
    """Consultas creadas en el año t por estado y área; mediana de días hábiles (lunes a
    viernes sin feriados de Chile) desde que se abrió hasta la primera respuesta y hasta la
    resolución; cumplimiento del nivel de servicio: respuestas (resoluciones) hechas a más
    tardar en su plazo, sobre las consultas que ya tienen respuesta (resolución)."""
    start, end = year_bounds(f.year)
    by_status = {status: {area: 0 for area in AREAS} for status in STATUSES}
    if f.service == "course":
        return Consultations(0, by_status, None, None, (0, 0), (0, 0))
    query = (
        select(
            Consultation.area,
            Consultation.status,
            Consultation.opened_at,
            Consultation.first_response_at,
            Consultation.first_response_due_at,
            Consultation.resolved_at,
            Consultation.resolution_due_at,
        )
        .join(User, User.id == Consultation.user_id)
        .where(
            Consultation.created_at >= start,
            Consultation.created_at < end,
            *_person_conditions(f),
        )
    )
    if f.service:
        query = query.where(Consultation.area == f.service)
    first, resolution, total = [], [], 0
    first_ok = first_n = resolved_ok = resolved_n = 0
    for area, status, opened, answered, answer_due, resolved, resolve_due in db.session.execute(
        query
    ):
        total += 1
        cell = by_status.setdefault(status, {a: 0 for a in AREAS})
        cell[area] = cell.get(area, 0) + 1
        if opened and answered:
            first.append(business_days(opened, answered))
            first_n += 1
            first_ok += answer_due is None or as_utc(answered) <= as_utc(answer_due)
        if opened and resolved:
            resolution.append(business_days(opened, resolved))
            resolved_n += 1
            resolved_ok += resolve_due is None or as_utc(resolved) <= as_utc(resolve_due)
    return Consultations(
        total,
        by_status,
        statistics.median(first) if first else None,
        statistics.median(resolution) if resolution else None,
        (first_ok, first_n),
        (resolved_ok, resolved_n),
    )


def _days_between(start, end):
    """Days (with decimals) from `start` to `end`, in SQL."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return extract("epoch", end - start) / 86400


@dataclass
class Completion:
    started: int
    graduated: int
    median_days: float | None
    egresos: int

    @property
    def rate(self) -> float | None:
        return rate(self.graduated, self.started)

    @property
    def median_months(self) -> float | None:
        return None if self.median_days is None else self.median_days / 30.44


def course_completion(f: Filters) -> Completion:
    """Tasa de egreso de cursos: de las inscripciones a cursos creadas en el año t que
    obtuvieron cupo (vigentes o egresadas), la proporción que ya egresó (100 % del curso y
    evaluación aprobada). Tiempo a egreso: mediana de días entre la inscripción y el
    egreso de los cursos egresados en el año t (el programa planifica 10 meses)."""
    start, end = year_bounds(f.year)
    services = _offering_services()
    ids = [oid for oid, svc in services.items() if svc == "course"]
    if f.service and f.service != "course" or not ids:
        return Completion(0, 0, None, 0)
    course_ids = Enrollment.offering_id.in_(ids)
    started = _with_person(select(Enrollment.status, func.count()), f, Enrollment.user_id)
    counts = dict(
        db.session.execute(
            started.where(
                course_ids,
                Enrollment.status.in_(SEAT_STATUSES),
                Enrollment.created_at >= start,
                Enrollment.created_at < end,
            ).group_by(Enrollment.status)
        ).all()
    )
    days = _with_person(
        select(_days_between(Enrollment.created_at, Enrollment.graduated_at)),
        f,
        Enrollment.user_id,
    )
    durations = [
        float(d)
        for d in db.session.scalars(
            days.where(
                course_ids,
                Enrollment.status == "graduated",
                Enrollment.graduated_at >= start,
                Enrollment.graduated_at < end,
            )
        )
    ]
    return Completion(
        sum(counts.values()),
        counts.get("graduated", 0),
        statistics.median(durations) if durations else None,
        len(durations),
    )


@dataclass
class Satisfaction:
    answers: int
    mean: float | None
    distribution: list[tuple[int, int]]
    by_service: list[tuple[str, int, float | None]]

    @property
    def top_share(self) -> float | None:
        """Share of grades 6 and 7."""
        top = sum(n for grade, n in self.distribution if grade >= 6)
        return rate(top, self.answers)


def satisfaction(f: Filters) -> Satisfaction:
    """Satisfacción: nota de 1 a 7 (escala de notas chilena) de las encuestas de egreso de
    los egresos del año t; promedio, distribución y porcentaje de notas 6 y 7."""
    query = (
        _with_person(
            select(ExitSurvey.service, ExitSurvey.satisfaction, func.count()),
            f,
            ExitSurvey.user_id,
        )
        .where(ExitSurvey.year == f.year)
        .group_by(ExitSurvey.service, ExitSurvey.satisfaction)
    )
    if f.service:
        query = query.where(ExitSurvey.service == f.service)
    grades, per_service = Counter(), defaultdict(Counter)
    for service, grade, n in db.session.execute(query):
        grades[grade] += n
        per_service[service][grade] += n

    def mean(counter: Counter) -> float | None:
        n = sum(counter.values())
        return sum(g * c for g, c in counter.items()) / n if n else None

    return Satisfaction(
        sum(grades.values()),
        mean(grades),
        [(g, grades.get(g, 0)) for g in range(1, 8)],
        [(s, sum(per_service[s].values()), mean(per_service[s])) for s in SERVICES],
    )


@dataclass
class Coverage:
    beneficiaries: int
    target_population: int
    potential_population: int
    planned: int

    @property
    def target_rate(self) -> float | None:
        return rate(self.beneficiaries, self.target_population)

    @property
    def potential_rate(self) -> float | None:
        return rate(self.beneficiaries, self.potential_population)

    @property
    def planned_rate(self) -> float | None:
        return rate(self.beneficiaries, self.planned)


def coverage(f: Filters, persons: int | None = None) -> Coverage:
    """Cobertura: beneficiarios del año t sobre la población objetivo (302.888 empresas) y
    sobre la población potencial (677.207 empresas), y producción frente a lo planificado
    (27.867 beneficiarios al año); las tres cifras son configurables."""
    if persons is None:
        with people(f) as table:
            persons = db.session.scalar(select(func.count()).select_from(table))
    config = current_app.config
    return Coverage(
        persons,
        int(config["REPORT_TARGET_POPULATION"]),
        int(config["REPORT_POTENTIAL_POPULATION"]),
        int(config["REPORT_PLANNED_BENEFICIARIES"]),
    )


@dataclass
class PurposeCell:
    label: str
    beneficiaries: int = 0
    respondents: int = 0
    numerator: int = 0
    sold_3_months: int = 0
    baseline_answers: int = 0
    baseline_digital: int = 0

    def add(self, beneficiaries, respondents, numerator, sold, baseline_answers, baseline):
        self.beneficiaries += beneficiaries
        self.respondents += respondents
        self.numerator += numerator
        self.sold_3_months += sold
        self.baseline_answers += baseline_answers
        self.baseline_digital += baseline

    @property
    def official_rate(self) -> float | None:
        return rate(self.numerator, self.beneficiaries)

    @property
    def respondent_rate(self) -> float | None:
        return rate(self.numerator, self.respondents)

    @property
    def response_rate(self) -> float | None:
        return rate(self.respondents, self.beneficiaries)

    @property
    def baseline_rate(self) -> float | None:
        return rate(self.baseline_digital, self.baseline_answers)


@dataclass
class Purpose:
    total: PurposeCell
    by_region: list[PurposeCell] = field(default_factory=list)
    by_sex: list[PurposeCell] = field(default_factory=list)
    target: float = 0.70


def purpose_indicator(f: Filters, table=None) -> Purpose:
    """Indicador de propósito: porcentaje de Mipes beneficiarias que acceden a canales
    digitales o virtuales de comercialización en el año t. Numerador: beneficiarios del año
    t cuya respuesta más reciente del año t (encuesta de egreso de un egreso de t o
    Encuesta anual t) marca al menos un canal digital para vender. Denominador: todos los
    beneficiarios del año t. La tasa oficial es numerador / denominador; también se
    muestran la tasa entre quienes respondieron, la tasa de respuesta y la línea base (la
    respuesta del registro: proporción que ya vendía por un canal digital, entre quienes
    la respondieron)."""
    if table is None:
        with people(f) as built:
            return purpose_indicator(f, built)
    answers = union_all(
        select(
            ExitSurvey.user_id.label("user_id"),
            ExitSurvey.answered_at.label("answered_at"),
            ExitSurvey.sells_digital.label("digital"),
            ExitSurvey.sold_last_3_months.label("sold"),
        ).where(ExitSurvey.year == f.year),
        select(
            AnnualSurveyAnswer.user_id,
            AnnualSurveyAnswer.answered_at,
            AnnualSurveyAnswer.sells_digital,
            AnnualSurveyAnswer.sold_last_3_months,
        ).where(AnnualSurveyAnswer.year == f.year),
    ).subquery()
    ranked = select(
        answers.c.user_id,
        answers.c.digital,
        answers.c.sold,
        func.row_number()
        .over(partition_by=answers.c.user_id, order_by=answers.c.answered_at.desc())
        .label("rank"),
    ).subquery()
    latest = select(ranked.c.user_id, ranked.c.digital, ranked.c.sold).where(ranked.c.rank == 1)
    latest = latest.subquery()

    def ones(condition):
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            table.c.region,
            table.c.sex,
            func.count(),
            func.count(latest.c.user_id),
            ones(latest.c.digital),
            ones(latest.c.sold),
            func.count(table.c.baseline),
            ones(table.c.baseline),
        )
        .outerjoin(latest, latest.c.user_id == table.c.user_id)
        .group_by(table.c.region, table.c.sex)
    )
    total = PurposeCell("Total")
    by_region = {code: PurposeCell(name) for code, name in territory.region_names().items()}
    by_sex = {code: PurposeCell(name) for code, name in SEXES.items()}
    for region, sex, *counts in db.session.execute(query):
        for cell in (total, by_region.get(region), by_sex.get(sex)):
            if cell is not None:
                cell.add(*(int(n or 0) for n in counts))
    return Purpose(total, list(by_region.values()), list(by_sex.values()))


# --- the dashboard ----------------------------------------------------------------------


@dataclass
class Dashboard:
    filters: Filters
    beneficiaries: Beneficiaries
    services: ServiceCounts
    egresos: ServiceCounts
    cupos: list[WindowUse]
    waitlist: Waitlist
    consultations: Consultations
    completion: Completion
    satisfaction: Satisfaction
    coverage: Coverage
    purpose: Purpose

    @property
    def definitions(self) -> dict[str, str]:
        return DEFINITIONS


def dashboard(f: Filters) -> Dashboard:
    """Every indicator for the filters (what /admin/reportes and the CLI show)."""
    usage = _service_usage(f)
    with people(f) as table:
        counted = beneficiaries(f, usage, table)
        purpose = purpose_indicator(f, table)
    return Dashboard(
        filters=f,
        beneficiaries=counted,
        services=services_delivered(f, usage),
        egresos=egresos(f),
        cupos=cupos(f),
        waitlist=waitlist(f),
        consultations=consultations(f),
        completion=course_completion(f),
        satisfaction=satisfaction(f),
        coverage=coverage(f, counted.persons),
        purpose=purpose,
    )


def _definition(fn) -> str:
    """The first paragraph of an indicator's docstring, on one line."""
    return " ".join((fn.__doc__ or "").split("\n\n")[0].split())


DEFINITIONS = {
    name: _definition(fn)
    for name, fn in {
        "beneficiaries": beneficiaries,
        "services": services_delivered,
        "egresos": egresos,
        "cupos": cupos,
        "waitlist": waitlist,
        "consultations": consultations,
        "completion": course_completion,
        "satisfaction": satisfaction,
        "coverage": coverage,
        "purpose": purpose_indicator,
    }.items()
}


def available_years(*, now: datetime | None = None) -> list[int]:
    """Years with enrolments, newest first (the current year always included)."""
    from sv_platform.core.timeutil import utcnow

    current = as_utc(now or utcnow()).astimezone(CHILE).year
    first = db.session.scalar(select(func.min(Enrollment.created_at)))
    start = as_utc(first).astimezone(CHILE).year if first else current
    return list(range(current, min(start, current) - 1, -1))
