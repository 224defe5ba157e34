"""The reference computation: every beneficiary figure straight from the source tables
(enrolments, people, companies, channel answers, survey answers), with no summary.

It defines what the summary table (`summary.py`) must reproduce exactly: the dashboard
uses it for years the summary does not hold, the tests compare the two, and the benchmark
times it as the baseline.
"""

import statistics
from collections import Counter
from contextlib import contextmanager

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
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from sv_platform.accounts import territory
from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES, Company, User
from sv_platform.advisory.models import AREAS, STATUSES, Consultation
from sv_platform.core.timeutil import as_utc
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db
from sv_platform.reports import activity
from sv_platform.reports.indicators import (
    AGE_BANDS,
    SEAT_STATUSES,
    Beneficiaries,
    Completion,
    Consultations,
    Dashboard,
    Filters,
    Purpose,
    PurposeCell,
    ServiceCounts,
    Waitlist,
    age_band,
    grouped,
    month_of,
    offering_services,
    ordered,
    person_conditions,
    service_column,
    service_condition,
    with_person,
    year_bounds,
)
from sv_platform.reports.models import (
    SERVICES,
    AnnualSurveyAnswer,
    ChannelBaseline,
    ExitSurvey,
)


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


def seat_enrolments(f: Filters, *, services=None, with_id: bool = False):
    """Subquery (user_id, offering_id[, id]) of the seat enrolments of year t with the
    filters applied (definition in `_in_year`). Written as its two disjoint halves —
    still active, graduated in or after t — so each one runs on its covering index."""
    start, end = year_bounds(f.year)
    services = services if services is not None else offering_services()
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
    service = service_condition(f, services)
    parts = []
    for conditions in halves:
        part = with_person(select(*columns), f, Enrollment.user_id).where(*conditions)
        parts.append(part if service is None else part.where(service))
    return union_all(*parts).subquery("seats")


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


def beneficiary_ids(f: Filters) -> list[int]:
    """Ids of the beneficiaries of year t (who the annual survey invites)."""
    seats = seat_enrolments(f)
    return sorted(db.session.scalars(select(seats.c.user_id).distinct()).all())


def _service_usage(f: Filters) -> dict[str, tuple[int, int]]:
    """service → (seat enrolments, distinct persons) in year t."""
    services = offering_services()
    if not services:
        return {}
    seats = seat_enrolments(f, services=services)
    column = case(services, value=seats.c.offering_id, else_="course")
    query = select(
        column.label("service"), func.count(), func.count(func.distinct(seats.c.user_id))
    ).group_by(column)
    return {svc: (n, persons) for svc, n, persons in db.session.execute(query)}


def beneficiaries(f: Filters, usage: dict | None = None, table=None) -> Beneficiaries:
    """`services.beneficiaries` from the source tables (the definition is there)."""
    if table is None:
        with people(f) as built:
            return beneficiaries(f, usage, built)
    usage = _service_usage(f) if usage is None else usage
    by_service = Counter({svc: persons for svc, (_n, persons) in usage.items()})
    persons, companies = db.session.execute(
        select(func.count(), func.count(func.distinct(table.c.company_rut)))
    ).one()
    ages = Counter()
    for birth_year, n in grouped(table.c.birth_year).items():
        ages[age_band(birth_year, f.year)] += n
    comunas = grouped(table.c.comuna)
    comunas.pop(None, None)
    return Beneficiaries(
        persons=persons,
        companies=companies,
        by_service=ordered(by_service, SERVICES),
        by_region=ordered(grouped(table.c.region), territory.region_names()),
        by_comuna=sorted(comunas.items(), key=lambda kv: (-kv[1], kv[0])),
        by_sex=ordered(grouped(table.c.sex), SEXES),
        by_age=ordered(ages, AGE_BANDS),
        by_education=ordered(grouped(table.c.education), EDUCATION_LEVELS),
    )


def services_delivered(f: Filters, usage: dict | None = None) -> ServiceCounts:
    """`services.services_delivered` from the source tables (the definition is there)."""
    usage = _service_usage(f) if usage is None else usage
    counts = Counter({svc: n for svc, (n, _persons) in usage.items()})
    return ServiceCounts(sum(counts.values()), ordered(counts, SERVICES))


def egresos(f: Filters) -> ServiceCounts:
    """`services.egresos` from the source tables (the definition is there)."""
    start, end = year_bounds(f.year)
    services = offering_services()
    column = service_column(services)
    if column is None:
        return ServiceCounts(0, ordered(Counter(), SERVICES))
    conditions = [
        Enrollment.status == "graduated",
        Enrollment.graduated_at >= start,
        Enrollment.graduated_at < end,
    ]
    service = service_condition(f, services)
    if service is not None:
        conditions.append(service)
    grouped = with_person(select(column, func.count()), f, Enrollment.user_id)
    counts = Counter(dict(db.session.execute(grouped.where(*conditions).group_by(column)).all()))
    people = select(func.count(func.distinct(Enrollment.user_id))).select_from(Enrollment)
    persons = db.session.scalar(with_person(people, f, Enrollment.user_id).where(*conditions))
    return ServiceCounts(sum(counts.values()), ordered(counts, SERVICES), persons or 0)


def course_completion(f: Filters) -> Completion:
    """`services.course_completion` from the source tables (the definition is there)."""
    start, end = year_bounds(f.year)
    services = offering_services()
    ids = [oid for oid, svc in services.items() if svc == "course"]
    if f.service and f.service != "course" or not ids:
        return Completion(0, 0, None, 0)
    course_ids = Enrollment.offering_id.in_(ids)
    started = with_person(select(Enrollment.status, func.count()), f, Enrollment.user_id)
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
    durations = activity.course_durations(f)
    return Completion(
        sum(counts.values()),
        counts.get("graduated", 0),
        statistics.median(durations) if durations else None,
        len(durations),
    )


def purpose_indicator(f: Filters, table=None) -> Purpose:
    """`services.purpose_indicator` from the source tables (the definition is there)."""
    if table is None:
        with people(f) as built:
            return purpose_indicator(f, built)
    answers = union_all(
        select(
            ExitSurvey.user_id.label("user_id"),
            ExitSurvey.answered_at.label("answered_at"),
            ExitSurvey.sells_digital.label("digital"),
            ExitSurvey.sold_last_3_months.label("sold"),
            literal(0, Integer).label("kind"),
            ExitSurvey.id.label("id"),
        ).where(ExitSurvey.year == f.year),
        select(
            AnnualSurveyAnswer.user_id,
            AnnualSurveyAnswer.answered_at,
            AnnualSurveyAnswer.sells_digital,
            AnnualSurveyAnswer.sold_last_3_months,
            literal(1, Integer),
            AnnualSurveyAnswer.id,
        ).where(AnnualSurveyAnswer.year == f.year),
    ).subquery()
    ranked = select(
        answers.c.user_id,
        answers.c.digital,
        answers.c.sold,
        func.row_number()
        .over(
            partition_by=answers.c.user_id,
            # latest first; the same moment twice: the annual answer, then the newest row
            order_by=(answers.c.answered_at.desc(), answers.c.kind.desc(), answers.c.id.desc()),
        )
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


def waitlist(f: Filters) -> Waitlist:
    """`services.waitlist` from the source tables (the definition is there)."""
    start, end = year_bounds(f.year)
    services = offering_services()
    extra = []
    service = service_condition(f, services)
    if service is not None:
        extra.append(service)

    def grouped(column, *conditions) -> Counter:
        month = month_of(column, f.year)
        query = with_person(select(month, func.count()), f, Enrollment.user_id)
        return Counter(
            dict(db.session.execute(query.where(*conditions, *extra).group_by(month)).all())
        )

    in_year = (Enrollment.created_at >= start, Enrollment.created_at < end)
    entered = grouped(Enrollment.created_at, Enrollment.status == "waitlisted", *in_year)
    entered += grouped(Enrollment.created_at, Enrollment.promoted_at >= start, *in_year)
    promoted = grouped(
        Enrollment.promoted_at, Enrollment.promoted_at >= start, Enrollment.promoted_at < end
    )
    now_query = with_person(
        select(func.count()).select_from(Enrollment), f, Enrollment.user_id
    ).where(Enrollment.status == "waitlisted", *extra)
    now = db.session.scalar(now_query) or 0
    return Waitlist(now, [(m, entered[m], promoted[m]) for m in range(1, 13)])


def consultations(f: Filters) -> Consultations:
    """`services.consultations` from the source tables (the definition is there)."""
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
            *person_conditions(f),
        )
    )
    if f.service:
        query = query.where(Consultation.area == f.service)
    first, resolution, total = [], [], 0
    first_ok = resolved_ok = 0
    for area, status, opened, answered, answer_due, resolved, resolve_due in db.session.execute(
        query
    ):
        total += 1
        cell = by_status.setdefault(status, {a: 0 for a in AREAS})
        cell[area] = cell.get(area, 0) + 1
        if opened and answered:
            first.append(activity.business_days(opened, answered))
            first_ok += answer_due is None or as_utc(answered) <= as_utc(answer_due)
        if opened and resolved:
            resolution.append(activity.business_days(opened, resolved))
            resolved_ok += resolve_due is None or as_utc(resolved) <= as_utc(resolve_due)
    return activity.service_levels(total, by_status, first, first_ok, resolution, resolved_ok)


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
        cupos=activity.cupos(f),
        waitlist=waitlist(f),
        consultations=consultations(f),
        completion=course_completion(f),
        satisfaction=activity.satisfaction(f),
        coverage=activity.coverage(counted.persons),
        purpose=purpose,
    )
