"""Figures read straight from the source tables, the same for both computations: cupos per
window, the waitlist, consultas and their service levels in business days, the course
completion times, satisfaction and coverage."""

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import holidays
from flask import current_app
from sqlalchemy import Date, DateTime, String, cast, func, or_, select, type_coerce
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from sv_platform.advisory.models import AREAS, STATUSES, Consultation
from sv_platform.core.timeutil import CHILE, as_utc
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
from sv_platform.extensions import db
from sv_platform.reports.indicators import (
    Consultations,
    Coverage,
    Filters,
    Satisfaction,
    Waitlist,
    WindowUse,
    month_of,
    offering_services,
    person_filter,
    service_condition,
    with_person,
    year_bounds,
)
from sv_platform.reports.models import SERVICES, ExitSurvey


def cupos(f: Filters) -> list[WindowUse]:
    """Cupos usados versus capacidad por ventana: las ventanas abiertas en algún momento
    del año t, con su capacidad, los cupos ocupados hoy (inscripciones vigentes o
    egresadas) y las personas en lista de espera hoy. Con región: las ventanas de esa
    región y las nacionales."""
    start, end = year_bounds(f.year)
    services = offering_services()
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


def _unindexed(column):
    """`column` in a form no SQLite index matches (unary plus, a no-op on any value), so
    the planner takes another index; the column itself elsewhere."""
    if db.session.get_bind().dialect.name == "sqlite":
        return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)
    return column


def waitlist(f: Filters) -> Waitlist:
    """The waitlist now and per month of year t (definition in `services.waitlist`)."""
    start, end = year_bounds(f.year)
    extra = []
    service = service_condition(f, offering_services())
    if service is not None:
        extra.append(service)
    person = person_filter(f, Enrollment.user_id)
    if person is not None:
        extra.append(person)

    def grouped(column, *conditions) -> Counter:
        month = month_of(column, f.year)
        query = select(month, func.count()).where(*conditions, *extra).group_by(month)
        return Counter(dict(db.session.execute(query).all()))

    in_year = (Enrollment.created_at >= start, Enrollment.created_at < end)
    entered = grouped(Enrollment.created_at, Enrollment.status == "waitlisted", *in_year)
    # The year's promoted enrolments from the promotions' covering index (few), not from
    # every enrolment created in the year.
    created = _unindexed(Enrollment.created_at)
    entered += grouped(
        Enrollment.created_at, Enrollment.promoted_at >= start, created >= start, created < end
    )
    promoted = grouped(
        Enrollment.promoted_at, Enrollment.promoted_at >= start, Enrollment.promoted_at < end
    )
    now_query = select(func.count()).where(Enrollment.status == "waitlisted", *extra)
    now = db.session.scalar(now_query.select_from(Enrollment)) or 0
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


def _raw(column):
    """A timestamp column read without its type's processing: SQLite hands back its stored
    text, PostgreSQL a naive UTC datetime (both much faster than aware datetimes)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String)
    return type_coerce(column, DateTime())


def _moment(value) -> datetime | None:
    """Naive UTC datetime from what `_raw` returned."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@lru_cache(maxsize=65_536)
def _ordinal_at_hour(hour_key) -> int:
    # Chile's offset is whole hours and changes on whole UTC hours: the Chilean day of a
    # moment is that of its UTC hour. `hour_key`: "YYYY-MM-DD HH" text or (y, m, d, h).
    if isinstance(hour_key, str):
        moment = datetime.fromisoformat(hour_key + ":00").replace(tzinfo=UTC)
    else:
        moment = datetime(*hour_key, tzinfo=UTC)
    return _business_ordinal(moment.astimezone(CHILE).date())


def _hour(value):
    if isinstance(value, str):
        return value[:13]
    return (value.year, value.month, value.day, value.hour)


def _business_days_raw(start, end) -> int:
    """`business_days` for what `_raw` returned, cached by UTC hour."""
    return _ordinal_at_hour(_hour(end)) - _ordinal_at_hour(_hour(start))


def _not_after(value, due) -> bool:
    """value <= due for what `_raw` returned (equal-length ISO texts compare as text)."""
    if isinstance(value, str) and len(value) != len(due):
        return _moment(value) <= _moment(due)
    return value <= due


def consultations(f: Filters) -> Consultations:
    """Consultas of year t with their service levels (definition in
    `services.consultations`)."""
    start, end = year_bounds(f.year)
    by_status = {status: {area: 0 for area in AREAS} for status in STATUSES}
    if f.service == "course":
        return Consultations(0, by_status, None, None, (0, 0), (0, 0))
    conditions = [Consultation.created_at >= start, Consultation.created_at < end]
    person = person_filter(f, Consultation.user_id)
    if person is not None:
        conditions.append(person)
    if f.service:
        conditions.append(Consultation.area == f.service)
    if db.session.get_bind().dialect.name == "postgresql":
        return _consultations_grouped(conditions, by_status)
    query = select(
        Consultation.area,
        Consultation.status,
        _raw(Consultation.opened_at),
        _raw(Consultation.first_response_at),
        _raw(Consultation.first_response_due_at),
        _raw(Consultation.resolved_at),
        _raw(Consultation.resolution_due_at),
    ).where(*conditions)
    first, resolution, total = [], [], 0
    first_ok = resolved_ok = 0
    for area, status, opened, answered, answer_due, resolved, resolve_due in db.session.execute(
        query
    ):
        total += 1
        cell = by_status.setdefault(status, {a: 0 for a in AREAS})
        cell[area] = cell.get(area, 0) + 1
        if opened and answered:
            first.append(_business_days_raw(opened, answered))
            first_ok += answer_due is None or _not_after(answered, answer_due)
        if opened and resolved:
            resolution.append(_business_days_raw(opened, resolved))
            resolved_ok += resolve_due is None or _not_after(resolved, resolve_due)
    return service_levels(total, by_status, first, first_ok, resolution, resolved_ok)


def service_levels(total, by_status, first, first_ok, resolution, resolved_ok) -> Consultations:
    """Consultations from the counts and the business days of every first response and
    every resolution (with how many of each were on time)."""
    return Consultations(
        total,
        by_status,
        statistics.median(first) if first else None,
        statistics.median(resolution) if resolution else None,
        (first_ok, len(first)),
        (resolved_ok, len(resolution)),
    )


def _chile_day(column):
    """The Chilean calendar day of a stored (naive UTC) moment, in PostgreSQL."""
    return cast(func.timezone(CHILE.key, func.timezone("UTC", column)), Date)


def _service_level(conditions, done, due) -> tuple[list[int], int]:
    """(business days of each one done, how many on time), from one GROUP BY (day opened,
    day done, on time) in the database: a few thousand cells for a year."""
    opened_day, done_day = _chile_day(Consultation.opened_at), _chile_day(done)
    on_time = or_(due.is_(None), done <= due)
    query = (
        select(opened_day, done_day, on_time, func.count())
        .where(*conditions, Consultation.opened_at.is_not(None), done.is_not(None))
        .group_by(opened_day, done_day, on_time)
    )
    days, ok = [], 0
    for opened, finished, in_time, count in db.session.execute(query):
        days.extend([_business_ordinal(finished) - _business_ordinal(opened)] * count)
        ok += count if in_time else 0
    return days, ok


def _consultations_grouped(conditions, by_status) -> Consultations:
    """`consultations` on PostgreSQL: the counts and service levels grouped in the
    database (Chile's day of each moment taken there), the same figures as row by row."""
    total = 0
    counts = select(Consultation.status, Consultation.area, func.count()).where(*conditions)
    for status, area, count in db.session.execute(
        counts.group_by(Consultation.status, Consultation.area)
    ):
        total += count
        cell = by_status.setdefault(status, {a: 0 for a in AREAS})
        cell[area] = cell.get(area, 0) + count
    first, first_ok = _service_level(
        conditions, Consultation.first_response_at, Consultation.first_response_due_at
    )
    resolution, resolved_ok = _service_level(
        conditions, Consultation.resolved_at, Consultation.resolution_due_at
    )
    return service_levels(total, by_status, first, first_ok, resolution, resolved_ok)


def _days_between(start, end):
    """From `start` to `end`, in SQL: days with decimals on SQLite; on PostgreSQL the
    interval itself (sorting intervals is several times faster than sorting the numeric
    epoch), turned into days by `_as_days`."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return end - start


_MICROSECONDS_A_DAY = Decimal(86_400_000_000)


def _as_days(value) -> float:
    """Days with decimals from what `_days_between` returned (an interval is converted
    exactly, with one final rounding to a float)."""
    if isinstance(value, timedelta):
        return float(Decimal(value // timedelta(microseconds=1)) / _MICROSECONDS_A_DAY)
    return float(value)


def course_duration_median(f: Filters) -> tuple[int, float | None]:
    """(course egresos of year t, median days from enrolment to egreso), the median taken
    in the database (the middle one or two values of the sorted durations)."""
    start, end = year_bounds(f.year)
    ids = [oid for oid, svc in offering_services().items() if svc == "course"]
    if f.service and f.service != "course" or not ids:
        return 0, None
    conditions = [
        Enrollment.offering_id.in_(ids),
        Enrollment.status == "graduated",
        Enrollment.graduated_at >= start,
        Enrollment.graduated_at < end,
    ]
    person = person_filter(f, Enrollment.user_id)
    if person is not None:
        conditions.append(person)
    n = db.session.scalar(select(func.count()).select_from(Enrollment).where(*conditions))
    if not n:
        return 0, None
    days = _days_between(Enrollment.created_at, Enrollment.graduated_at)
    middle = db.session.scalars(
        select(days).where(*conditions).order_by(days).limit(2 - n % 2).offset((n - 1) // 2)
    ).all()
    values = [_as_days(d) for d in middle]
    return n, values[0] if n % 2 else (values[0] + values[1]) / 2


def course_durations(f: Filters) -> list[float]:
    """Days from enrolment to egreso of every course egreso of year t (filters applied)."""
    start, end = year_bounds(f.year)
    ids = [oid for oid, svc in offering_services().items() if svc == "course"]
    if f.service and f.service != "course" or not ids:
        return []
    days = with_person(
        select(_days_between(Enrollment.created_at, Enrollment.graduated_at)),
        f,
        Enrollment.user_id,
    )
    return [
        _as_days(d)
        for d in db.session.scalars(
            days.where(
                Enrollment.offering_id.in_(ids),
                Enrollment.status == "graduated",
                Enrollment.graduated_at >= start,
                Enrollment.graduated_at < end,
            )
        )
    ]


def satisfaction(f: Filters) -> Satisfaction:
    """Satisfacción: nota de 1 a 7 (escala de notas chilena) de las encuestas de egreso de
    los egresos del año t; promedio, distribución y porcentaje de notas 6 y 7."""
    query = (
        with_person(
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


def coverage(persons: int) -> Coverage:
    """The year's beneficiaries against the configured populations and plan."""
    config = current_app.config
    return Coverage(
        persons,
        int(config["REPORT_TARGET_POPULATION"]),
        int(config["REPORT_POTENTIAL_POPULATION"]),
        int(config["REPORT_PLANNED_BENEFICIARIES"]),
    )
