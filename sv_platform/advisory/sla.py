"""Service levels: each area's targets in business days (Chilean calendar, weekends and
holidays off), a consulta's due dates and the state of the target that runs now."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from flask_babel import format_date
from sqlalchemy import select

from sv_platform.accounts import services as accounts
from sv_platform.advisory.models import AREAS, OPEN_STATUSES, Consultation, ServiceLevel
from sv_platform.core.domain import InvalidInput, NotAllowed
from sv_platform.core.timeutil import CHILE, as_utc, chile_day_end, utcnow
from sv_platform.extensions import db


@lru_cache(maxsize=32)
def _holidays_for(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("CL", years=year).keys())


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a Chilean national holiday."""
    return day.weekday() < 5 and day not in _holidays_for(day.year)


def add_business_days(start: date, days: int) -> date:
    """The `days`-th business day after `start` (`start` itself never counts)."""
    day = start
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    if days <= 0:
        while not is_business_day(day):
            day += timedelta(days=1)
    return day


def due_at(opened_at: datetime, days: int) -> datetime:
    """End (23:59:59 Chile) of the `days`-th business day after the day a consulta opened."""
    local_day = as_utc(opened_at).astimezone(CHILE).date()
    return chile_day_end(add_business_days(local_day, days))


def business_days_between(start: date, end: date) -> int:
    """Business days in (start, end]; negative when `end` is before `start`."""
    if end < start:
        return -business_days_between(end, start)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def chile_date(value: datetime) -> date:
    """The calendar date in Chile of an instant."""
    return as_utc(value).astimezone(CHILE).date()


DEFAULT_LEVELS = {"legal": (2, 10), "sustainability": (2, 10)}  # first response, resolution


@dataclass(frozen=True)
class SlaState:
    target: str  # "first_response" | "resolution"
    due_at: datetime
    overdue: bool
    label: str


def service_level(area: str) -> tuple[int, int]:
    """(first response, resolution) targets in business days for an area."""
    row = db.session.scalar(select(ServiceLevel).where(ServiceLevel.area == area))
    if row is None:
        return DEFAULT_LEVELS[area]
    return row.first_response_days, row.resolution_days


def service_levels() -> dict[str, tuple[int, int]]:
    """area → (first response, resolution) targets in business days."""
    return {area: service_level(area) for area in AREAS}


def set_service_level(
    area: str, first_response_days, resolution_days, *, actor, now: datetime | None = None
) -> ServiceLevel:
    """Admins set an area's targets (1–30 business days, resolution ≥ first response);
    audited. Applies to consultas opened from now on. Raises NotAllowed, InvalidInput."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    if area not in AREAS:
        raise InvalidInput("Esa área no existe.", field="area")
    try:
        first, resolution = int(first_response_days), int(resolution_days)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("Los plazos deben ser números enteros de días hábiles.") from exc
    if not 1 <= first <= 30:
        raise InvalidInput(
            "La primera respuesta debe ser entre 1 y 30 días hábiles.", field="first_response_days"
        )
    if not 1 <= resolution <= 60 or resolution < first:
        raise InvalidInput(
            "La resolución debe ser entre 1 y 60 días hábiles y no antes de la primera respuesta.",
            field="resolution_days",
        )
    row = db.session.scalar(select(ServiceLevel).where(ServiceLevel.area == area))
    before = dict(zip(("first_response_days", "resolution_days"), service_level(area), strict=True))
    if row is None:
        row = ServiceLevel(area=area, first_response_days=first, resolution_days=resolution)
        db.session.add(row)
    row.first_response_days, row.resolution_days = first, resolution
    row.updated_at = now or utcnow()
    db.session.flush()
    accounts.record_audit(
        actor,
        "set_service_level",
        "service_level",
        area,
        before,
        {"first_response_days": first, "resolution_days": resolution},
        commit=False,
    )
    db.session.commit()
    return row


def set_due_dates(consultation: Consultation, now: datetime) -> None:
    """Start the consulta's clock now: its first-response and resolution due dates."""
    first, resolution = service_level(consultation.area)
    consultation.opened_at = now
    consultation.first_response_due_at = due_at(now, first)
    consultation.resolution_due_at = due_at(now, resolution)


def sla_state(consultation: Consultation, *, now: datetime | None = None) -> SlaState | None:
    """The target that runs now (first response, then resolution) and the time left."""
    if consultation.status not in OPEN_STATUSES or consultation.opened_at is None:
        return None
    now = as_utc(now or utcnow())
    if consultation.first_response_at is None:
        target, due, name = (
            "first_response",
            consultation.first_response_due_at,
            "Primera respuesta",
        )
    else:
        target, due, name = "resolution", consultation.resolution_due_at, "Resolución"
    due = as_utc(due)
    today, due_day = chile_date(now), chile_date(due)
    if now > due:
        late = business_days_between(due_day, today)
        unit = "día hábil" if late == 1 else "días hábiles"
        label = f"{name}: atrasada {late} {unit}" if late else f"{name}: atrasada"
        return SlaState(target, due, True, label)
    if due_day == today:
        return SlaState(target, due, False, f"{name}: vence hoy")
    left = business_days_between(today, due_day)
    unit = "día hábil" if left == 1 else "días hábiles"
    return SlaState(target, due, False, f"{name}: quedan {left} {unit}")


def expected_answer(consultation: Consultation) -> str | None:
    """The sentence the entrepreneur sees: when to expect the first answer."""
    if consultation.status not in ("nueva", "asignada") or not consultation.first_response_due_at:
        return None
    day = format_date(chile_date(consultation.first_response_due_at), "EEEE d 'de' MMMM")
    return f"Te responderemos a más tardar el {day}."
