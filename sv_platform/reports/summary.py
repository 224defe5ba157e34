"""The beneficiaries' summary (`report_beneficiary_year`): one row per person and year t.

A person has a row for year t when they are a beneficiary of t (an enrolment holding a seat
— active or graduated — whose period overlaps t; see `reference.seat_enrolments`). The row
carries what the program characterizes them by (región, comuna, sexo, birth year,
education, company RUT, registration baseline), their seat enrolments and egresos of t per
service, the course seats they started in t, and their latest survey answer of t. The
dashboard's beneficiary figures are then small GROUP BYs over one year's rows.

Kept exact in the transaction of every change: whatever can change a person's rows marks
the person (the enrolment signals, and every flush that adds or changes an enrolment, a
person, a company, a channel answer or a survey answer); just before that transaction
commits, the marked people's rows are recomputed from the source tables by the same query
that `rebuild()` runs for everyone. Years after `SummaryState.horizon` (the calendar year
when the summary was built or last extended) are not stored: active enrolments count in
every later year, so those years are read from the source tables until `extend()` (a
periodic job) adds them.
"""

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    cast,
    delete,
    event,
    extract,
    false,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from sv_platform.accounts import territory
from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES, Company, User
from sv_platform.core.timeutil import UTCDateTime, utcnow
from sv_platform.enrollment.models import Enrollment, Offering
from sv_platform.extensions import db, write_transaction
from sv_platform.reports.indicators import (
    AGE_BANDS,
    SEAT_STATUSES,
    Beneficiaries,
    Filters,
    Purpose,
    PurposeCell,
    ServiceCounts,
    chile_year,
    ordered,
    year_bounds,
)
from sv_platform.reports.models import (
    SERVICES,
    AnnualSurveyAnswer,
    BeneficiaryYear,
    ChannelBaseline,
    ExitSurvey,
    SummaryState,
)

TABLE = BeneficiaryYear.__table__
_DIRTY = "sv_report_dirty_people"
_BATCH = 500
# The horizon of a summary that was never built (the state row exists, the rows do not).
NOT_BUILT = 0
SERVICE_KEYS = ("course", "legal", "sustainability")


# --- the one query that computes the rows -------------------------------------------------


def _years(first: int, last: int):
    """(year, start_at, end_at) for every year first..last: Chile's calendar years as UTC."""
    rows = []
    for year in range(first, last + 1):
        start, end = year_bounds(year)
        rows.append(
            select(
                literal(year, Integer).label("year"),
                literal(start, UTCDateTime()).label("start_at"),
                literal(end, UTCDateTime()).label("end_at"),
            )
        )
    return (union_all(*rows) if len(rows) > 1 else rows[0]).subquery("years")


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def rows_query(first: int, last: int, user_ids: list[int] | None = None):
    """SELECT of the summary rows for years first..last (of these people, or everyone):
    the same rules as the reference computation, written once for both the incremental
    refresh and the rebuild."""
    years = _years(first, last)
    e = Enrollment
    service = case((Offering.kind == "course", "course"), else_=Offering.reference)
    graduated_in_t = and_(e.status == "graduated", e.graduated_at < years.c.end_at)
    started_in_t = and_(service == "course", e.created_at >= years.c.start_at)
    seats = (
        select(
            e.user_id.label("user_id"),
            years.c.year.label("year"),
            *[_count(service == key).label(f"{key}_seats") for key in SERVICE_KEYS],
            *[
                _count(and_(graduated_in_t, service == key)).label(f"{key}_egresos")
                for key in SERVICE_KEYS
            ],
            _count(started_in_t).label("courses_started"),
            _count(and_(started_in_t, e.status == "graduated")).label("courses_started_graduated"),
        )
        .select_from(e)
        .join(Offering, Offering.id == e.offering_id)
        .join(
            years,
            and_(
                e.created_at < years.c.end_at,
                or_(
                    e.status == "active",
                    and_(e.status == "graduated", e.graduated_at >= years.c.start_at),
                ),
            ),
        )
        .where(e.status.in_(SEAT_STATUSES))
        .group_by(e.user_id, years.c.year)
    )
    exits = select(
        ExitSurvey.user_id.label("user_id"),
        ExitSurvey.year.label("year"),
        ExitSurvey.answered_at.label("answered_at"),
        ExitSurvey.sells_digital.label("digital"),
        ExitSurvey.sold_last_3_months.label("sold"),
        literal(0, Integer).label("kind"),
        ExitSurvey.id.label("id"),
    ).where(ExitSurvey.year.between(first, last))
    annual = select(
        AnnualSurveyAnswer.user_id,
        AnnualSurveyAnswer.year,
        AnnualSurveyAnswer.answered_at,
        AnnualSurveyAnswer.sells_digital,
        AnnualSurveyAnswer.sold_last_3_months,
        literal(1, Integer),
        AnnualSurveyAnswer.id,
    ).where(AnnualSurveyAnswer.year.between(first, last))
    first_answer = select(
        ChannelBaseline.user_id.label("user_id"), func.min(ChannelBaseline.id).label("id")
    ).group_by(ChannelBaseline.user_id)
    if user_ids is not None:
        seats = seats.where(e.user_id.in_(user_ids))
        exits = exits.where(ExitSurvey.user_id.in_(user_ids))
        annual = annual.where(AnnualSurveyAnswer.user_id.in_(user_ids))
        first_answer = first_answer.where(ChannelBaseline.user_id.in_(user_ids))
    seats = seats.subquery("seats")
    answers = union_all(exits, annual).subquery("answers")
    ranked = select(
        answers.c.user_id,
        answers.c.year,
        answers.c.digital,
        answers.c.sold,
        func.row_number()
        .over(
            partition_by=(answers.c.user_id, answers.c.year),
            order_by=(answers.c.answered_at.desc(), answers.c.kind.desc(), answers.c.id.desc()),
        )
        .label("rank"),
    ).subquery("ranked")
    latest = (
        select(ranked.c.user_id, ranked.c.year, ranked.c.digital, ranked.c.sold)
        .where(ranked.c.rank == 1)
        .subquery("latest")
    )
    first_answer = first_answer.subquery("first_answer")
    baseline = aliased(ChannelBaseline)
    return (
        select(
            seats.c.year,
            seats.c.user_id,
            User.region_code,
            User.comuna_code,
            User.sex,
            cast(extract("year", User.birth_date), Integer),
            User.education_level,
            Company.rut,
            baseline.sells_digital,
            *[seats.c[f"{key}_seats"] for key in SERVICE_KEYS],
            *[seats.c[f"{key}_egresos"] for key in SERVICE_KEYS],
            seats.c.courses_started,
            seats.c.courses_started_graduated,
            latest.c.user_id.is_not(None),
            func.coalesce(latest.c.digital, false()),
            func.coalesce(latest.c.sold, false()),
        )
        .select_from(seats)
        .join(User, User.id == seats.c.user_id)
        .outerjoin(Company, Company.user_id == seats.c.user_id)
        .outerjoin(first_answer, first_answer.c.user_id == seats.c.user_id)
        .outerjoin(baseline, baseline.id == first_answer.c.id)
        .outerjoin(latest, and_(latest.c.user_id == seats.c.user_id, latest.c.year == seats.c.year))
    )


COLUMNS = [
    "year",
    "user_id",
    "region",
    "comuna",
    "sex",
    "birth_year",
    "education",
    "company_rut",
    "baseline",
    *[f"{key}_seats" for key in SERVICE_KEYS],
    *[f"{key}_egresos" for key in SERVICE_KEYS],
    "courses_started",
    "courses_started_graduated",
    "answered",
    "sells_digital",
    "sold_last_3_months",
]


def _first_year(session, user_ids: list[int] | None = None) -> int | None:
    """The Chilean year of the earliest seat enrolment (of these people, or of anyone)."""
    query = select(func.min(Enrollment.created_at)).where(Enrollment.status.in_(SEAT_STATUSES))
    if user_ids is not None:
        query = query.where(Enrollment.user_id.in_(user_ids))
    first = session.scalar(query)
    return chile_year(first) if first else None


# --- state ------------------------------------------------------------------------------


def horizon(session=None, *, lock: str | None = None) -> int | None:
    """The last year the summary holds (None or `NOT_BUILT`: not built, every figure comes
    from the source tables). `lock`: "share" while refreshing rows, "update" while
    extending or building."""
    session = session or db.session
    query = select(SummaryState.horizon).where(SummaryState.id == 1)
    if lock:
        query = query.with_for_update(read=lock == "share")
    return session.scalar(query)


def covers(year: int) -> bool:
    """Whether the summary holds year t (else the reference computation answers)."""
    last = horizon()
    return bool(last) and year <= last


def _set_state(session, last: int, now: datetime) -> None:
    state = session.get(SummaryState, 1)
    if state is None:
        session.add(SummaryState(id=1, horizon=last, built_at=now))
    else:
        state.horizon, state.built_at = last, now
    session.flush()


# --- reading: the beneficiary figures of one year -----------------------------------------


@dataclass
class Figures:
    beneficiaries: Beneficiaries
    services: ServiceCounts
    egresos: ServiceCounts
    courses_started: int
    courses_started_graduated: int
    purpose: Purpose


def _selected(f: Filters) -> tuple[str, ...]:
    return (f.service,) if f.service else SERVICE_KEYS


def _rows(f: Filters, *columns):
    """SELECT over year t's rows with the filters (a service filter keeps those who used it)."""
    c = TABLE.c
    query = select(*columns).select_from(TABLE).where(c.year == f.year)
    if f.region:
        query = query.where(c.region == f.region)
    if f.sex:
        query = query.where(c.sex == f.sex)
    if f.service:
        column = c.get(f"{f.service}_seats")
        query = query.where(column > 0 if column is not None else false())
    return query


def _by(f: Filters, column) -> Counter:
    query = _rows(f, column, func.count()).group_by(column)
    return Counter(dict(db.session.execute(query).all()))


def _age_band(birth_year, year: int):
    """`indicators.age_band` in SQL, as the band's position in AGE_BANDS."""

    def number(n: int):  # written into the statement: the planner groups by one expression
        return literal_column(str(int(n)), Integer)

    age = number(year) - birth_year
    limits = [(age < number(limit), number(k)) for k, limit in enumerate((25, 35, 45, 55, 65))]
    return case(
        (birth_year.is_(None), number(len(AGE_BANDS) - 1)),
        *limits,
        else_=number(len(AGE_BANDS) - 2),
    )


def figures(f: Filters) -> Figures:
    """Beneficiaries, services delivered, egresos, course starts and the purpose indicator
    of year t from the summary (the year must be covered: see `covers`)."""
    c = TABLE.c
    keys = _selected(f)
    egresos_of_person = sum((c[f"{k}_egresos"] for k in keys[1:]), c[f"{keys[0]}_egresos"])
    n = len(keys)
    # Distinct companies as a GROUP BY in the company index's order (a count(DISTINCT)
    # with a región filter makes SQLite build a temporary B-tree of the región's rows).
    companies = db.session.scalar(
        select(func.count()).select_from(
            _rows(f, c.company_rut)
            .where(c.company_rut.is_not(None))
            .group_by(c.company_rut)
            .subquery("companies")
        )
    )
    comunas = _by(f, c.comuna)
    comunas.pop(None, None)
    regions, sexes, ages, education = Counter(), Counter(), Counter(), Counter()
    sums = [0] * (3 * n + 3)
    total = PurposeCell("Total")
    by_region = {code: PurposeCell(name) for code, name in territory.region_names().items()}
    by_sex = {code: PurposeCell(name) for code, name in SEXES.items()}
    # One pass over the year's rows in the order of their covering index (nothing sorted),
    # grouped by región, sexo, education and birth year; those cells (≈13k nationally)
    # regrouped by age band in the database; every total and breakdown is summed from them.
    fine = (
        _rows(
            f,
            c.region,
            c.sex,
            c.education,
            c.birth_year,
            func.count(),
            _count(c.answered),
            _count(c.sells_digital),
            _count(c.sold_last_3_months),
            func.count(c.baseline),
            _count(c.baseline),
            *[_count(c[f"{k}_seats"] > 0) for k in keys],
            *[func.sum(c[f"{k}_seats"]) for k in keys],
            *[func.sum(c[f"{k}_egresos"]) for k in keys],
            _count(egresos_of_person > 0),
            func.sum(c.courses_started),
            func.sum(c.courses_started_graduated),
        )
        .group_by(c.region, c.sex, c.education, c.birth_year)
        .subquery("fine")
    )
    group, sums_of = list(fine.c)[:4], list(fine.c)[4:]
    band = _age_band(group[3], f.year)
    cells = select(*group[:3], band, *[func.sum(column) for column in sums_of]).group_by(
        *group[:3], band
    )
    for region, sex, level, band_index, *counts in db.session.execute(cells):
        counts = [int(n or 0) for n in counts]
        persons = counts[0]
        regions[region] += persons
        sexes[sex] += persons
        education[level] += persons
        ages[AGE_BANDS[band_index]] += persons
        for cell in (total, by_region.get(region), by_sex.get(sex)):
            if cell is not None:
                cell.add(*counts[:6])
        for k, value in enumerate(counts[6:]):
            sums[k] += value
    users, seats, egresos = sums[:n], sums[n : 2 * n], sums[2 * n : 3 * n]
    egreso_persons, started, started_graduated = sums[3 * n :]
    persons = total.beneficiaries
    counted = Beneficiaries(
        persons=persons,
        companies=companies,
        by_service=ordered(Counter(dict(zip(keys, users, strict=True))), SERVICES),
        by_region=ordered(regions, territory.region_names()),
        by_comuna=sorted(comunas.items(), key=lambda kv: (-kv[1], kv[0])),
        by_sex=ordered(sexes, SEXES),
        by_age=ordered(ages, AGE_BANDS),
        by_education=ordered(education, EDUCATION_LEVELS),
    )
    delivered = Counter(dict(zip(keys, seats, strict=True)))
    graduated = Counter(dict(zip(keys, egresos, strict=True)))
    return Figures(
        beneficiaries=counted,
        services=ServiceCounts(sum(delivered.values()), ordered(delivered, SERVICES)),
        egresos=ServiceCounts(
            sum(graduated.values()), ordered(graduated, SERVICES), egreso_persons
        ),
        courses_started=started,
        courses_started_graduated=started_graduated,
        purpose=Purpose(total, list(by_region.values()), list(by_sex.values())),
    )


def beneficiary_ids(f: Filters) -> list[int]:
    """Ids of the beneficiaries of year t, from the summary."""
    return sorted(db.session.scalars(_rows(f, TABLE.c.user_id)).all())


# --- maintenance ------------------------------------------------------------------------


def rebuild(session=None, *, now: datetime | None = None) -> int:
    """Recompute the whole summary from the source tables, up to the current year (or the
    latest year already held), inside the caller's transaction (no commit). Returns how
    many rows it holds."""
    session = session or db.session
    now = now or utcnow()
    current = horizon(session, lock="update")
    last = max(chile_year(now), current or 0)
    session.execute(delete(TABLE))
    first = _first_year(session)
    if first is not None and first <= last:
        session.execute(insert(TABLE).from_select(COLUMNS, rows_query(first, last)))
    _set_state(session, last, now)
    return session.scalar(select(func.count()).select_from(TABLE))


def extend(*, now: datetime | None = None) -> int:
    """Periodic job: when the calendar reached a year the summary does not hold yet, add
    that year's rows for everyone (active enrolments count in it from 1 January) and move
    the horizon; a summary never built (after the migration on a database with data) is
    built. Commits. Returns how many rows it added (0 when nothing was due)."""
    now = now or utcnow()
    target = chile_year(now)
    current = horizon()
    if current is None or current != NOT_BUILT and current >= target:
        db.session.rollback()  # nothing due: no write lock taken
        return 0
    with write_transaction() as session:
        current = horizon(session, lock="update")
        if current == NOT_BUILT:
            rows = rebuild(session, now=now)
            session.commit()
            return rows
        if current is None or current >= target:  # another run did it meanwhile
            session.rollback()
            return 0
        session.execute(delete(TABLE).where(TABLE.c.year > current))
        before = session.scalar(select(func.count()).select_from(TABLE))
        session.execute(insert(TABLE).from_select(COLUMNS, rows_query(current + 1, target)))
        _set_state(session, target, now)
        added = session.scalar(select(func.count()).select_from(TABLE)) - before
        session.commit()
        return added


@functools.cache
def _person_statements():
    """refresh()'s statements about the people (an expanding parameter `ids`), built once:
    lock them, clear their rows, their earliest seat enrolment."""
    ids = bindparam("ids", expanding=True)
    return (
        select(User.id).where(User.id.in_(ids)).with_for_update(),
        delete(TABLE).where(TABLE.c.user_id.in_(ids)),
        select(func.min(Enrollment.created_at)).where(
            Enrollment.status.in_(SEAT_STATUSES), Enrollment.user_id.in_(ids)
        ),
    )


@functools.lru_cache(maxsize=8)
def _insert_rows(first: int, last: int):
    """The INSERT … SELECT of these people's rows for years first..last, built once per
    span of years: an enrolment pays for executing it, not for building it."""
    return insert(TABLE).from_select(
        COLUMNS, rows_query(first, last, bindparam("ids", expanding=True))
    )


def refresh(user_ids: Iterable[int], session=None) -> None:
    """Recompute these people's rows from the source tables, in the caller's transaction.
    Their rows are locked first on PostgreSQL (two transactions refreshing one person take
    turns); the state row is share-locked, so an extension waits for this transaction."""
    session = session or db.session
    ids = sorted({int(i) for i in user_ids if i is not None})
    if not ids:
        return
    last = horizon(session, lock="share")
    if not last:
        return
    for start in range(0, len(ids), _BATCH):
        batch = {"ids": ids[start : start + _BATCH]}
        lock, clear, earliest = _person_statements()
        session.execute(lock, batch)
        session.execute(clear, batch)
        first = session.scalar(earliest, batch)
        first = chile_year(first) if first else None
        if first is not None and first <= last:
            session.execute(_insert_rows(first, last), batch)


def mark(user_id: int | None, session=None) -> None:
    """Note that this person's rows must be recomputed before the transaction commits."""
    if user_id is None:
        return
    session = session or db.session()
    session.info.setdefault(_DIRTY, set()).add(int(user_id))


# What a flush can change that the rows depend on: new or deleted rows of these models, and
# changes to these attributes of existing ones.
_WATCHED = {
    Enrollment: ("user_id", "offering_id", "status", "created_at", "graduated_at"),
    User: ("region_code", "comuna_code", "sex", "birth_date", "education_level"),
    Company: ("user_id", "rut"),
    ChannelBaseline: ("user_id", "sells_digital"),
    ExitSurvey: ("user_id", "year", "answered_at", "sells_digital", "sold_last_3_months"),
    AnnualSurveyAnswer: ("user_id", "year", "answered_at", "sells_digital", "sold_last_3_months"),
}


def _person_of(obj) -> list[int]:
    if isinstance(obj, User):
        return [obj.id]
    ids = [obj.user_id]
    history = inspect(obj).attrs["user_id"].history  # a row moved to another person
    ids.extend(history.deleted or ())
    return ids


def _new_changes_rows(enrollment: Enrollment) -> bool:
    """A new enrolment without a seat (the waitlist) changes no row: most of a burst."""
    return enrollment.status in SEAT_STATUSES


@event.listens_for(Session, "after_flush")
def _watch_flush(session, _context) -> None:
    """Mark the people whose rows a flush changed (new, changed or deleted source rows)."""
    for obj in session.new:
        if type(obj) in _WATCHED and (not isinstance(obj, Enrollment) or _new_changes_rows(obj)):
            for user_id in _person_of(obj):
                mark(user_id, session)
    for obj in session.deleted:
        if type(obj) in _WATCHED:
            for user_id in _person_of(obj):
                mark(user_id, session)
    for obj in session.dirty:
        names = _WATCHED.get(type(obj))
        if names:
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in names):
                for user_id in _person_of(obj):
                    mark(user_id, session)


@event.listens_for(Session, "before_commit")
def _refresh_marked(session) -> None:
    """Just before a transaction commits, recompute the rows of everyone it marked."""
    session.flush()  # the commit's own flush comes after this hook: marks are set now
    while ids := session.info.pop(_DIRTY, None):
        refresh(ids, session)
        session.flush()


@event.listens_for(Session, "after_rollback")
def _forget_marked(session) -> None:
    session.info.pop(_DIRTY, None)


# --- receivers of other domains' signals (inside the sender's transaction) -------------


def on_enrollment_changed(sender: Enrollment, **_extra) -> None:
    """enrollment_promoted / _cancelled / _graduated: the person's rows are recomputed
    before that transaction commits (an egreso is a conditional UPDATE no flush sees)."""
    mark(sender.user_id)


def on_enrollment_created(sender: Enrollment, **_extra) -> None:
    """enrollment_created (a Core INSERT no flush sees): a new seat marks the person; a new
    waitlisted enrolment changes no row."""
    if _new_changes_rows(sender):
        mark(sender.user_id)


def on_user_anonymized(sender: int, **_extra) -> None:
    """accounts.user_anonymized: the erased comuna and company RUT leave the rows too."""
    mark(sender)


def job(now: datetime) -> int:
    """`flask sv jobs run`: extend the summary when a new year began."""
    return extend(now=now)
