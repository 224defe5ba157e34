"""What the program's figures are: the filters, the year, small-cell suppression, and the
result of every indicator (the dataclasses the dashboard, the CLI and the exports read).

Shared by the two ways the figures are computed: `reference.py` (straight from the source
tables) and `summary.py` (from the beneficiaries' summary table); `services.py` chooses.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, select

from sv_platform.accounts.models import User
from sv_platform.core.timeutil import CHILE, as_utc, chile_day_start
from sv_platform.enrollment.models import Enrollment, Offering
from sv_platform.extensions import db

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


def offering_services() -> dict[int, str]:
    """offering id → course | legal | sustainability."""
    rows = db.session.execute(select(Offering.id, Offering.kind, Offering.reference))
    return {oid: ("course" if kind == "course" else ref) for oid, kind, ref in rows}


def service_column(services: dict[int, str]):
    return case(services, value=Enrollment.offering_id, else_="course") if services else None


def person_conditions(f: Filters) -> list:
    conditions = []
    if f.region:
        conditions.append(User.region_code == f.region)
    if f.sex:
        conditions.append(User.sex == f.sex)
    return conditions


def service_condition(f: Filters, services: dict[int, str]):
    if not f.service:
        return None
    ids = [oid for oid, svc in services.items() if svc == f.service]
    return Enrollment.offering_id.in_(ids or [-1])


def person_filter(f: Filters, column):
    """`column IN (the people of the región / sexo filter)`, or None without such filter.
    A semi-join on `column + 0`, which no index matches: the database starts from the
    year's rows (few) and probes the people, never the other way round."""
    conditions = person_conditions(f)
    if not conditions:
        return None
    return (column + 0).in_(select(User.id).where(*conditions))


def with_person(query, f: Filters, column):
    """Join the person behind `column` only when a región or sexo filter needs it."""
    if f.region or f.sex:
        query = query.join(User, User.id == column).where(*person_conditions(f))
    return query


# The beneficiaries of the year, built once per figure set in a temporary table (one pass


def grouped(column) -> Counter:
    return Counter(dict(db.session.execute(select(column, func.count()).group_by(column)).all()))


def age_band(birth_year: int | None, year: int) -> str:
    """Age reached in year t (t − birth year), in the program's bands."""
    if birth_year is None:
        return "Sin dato"
    age = year - birth_year
    for limit, label in ((25, "15–24"), (35, "25–34"), (45, "35–44"), (55, "45–54")):
        if age < limit:
            return label
    return "55–64" if age < 65 else "65 y más"


def ordered(counter: Counter, keys) -> list[tuple[str, int]]:
    return [(key, counter.get(key, 0)) for key in keys]


# --- what the figures are ------------------------------------------------------------


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


@dataclass
class ServiceCounts:
    total: int
    by_service: list[tuple[str, int]]
    persons: int = 0


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


@dataclass
class Waitlist:
    now: int
    by_month: list[tuple[int, int, int]]  # (month, entered, promoted)


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
        from sv_platform.reports.services import DEFINITIONS

        return DEFINITIONS


def chile_year(value: datetime) -> int:
    """The Chilean calendar year of a moment."""
    return as_utc(value).astimezone(CHILE).year


def month_of(column, year: int):
    """The Chilean month (1–12) of a timestamp inside year t, computed in SQL."""
    bounds = [chile_day_start(date(year, m, 1)) for m in range(2, 13)]
    return case(*[(column < bound, m) for m, bound in enumerate(bounds, 1)], else_=12)
