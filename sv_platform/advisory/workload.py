"""Advisors' workload for admins: open consultas per advisor and area, deadlines due today
or overdue (business days), median time to a first answer this month."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import median

from sqlalchemy import func, select

from sv_platform.accounts.models import User
from sv_platform.accounts.signals import audit_labels
from sv_platform.advisory.models import AREAS, OPEN_STATUSES, Consultation
from sv_platform.advisory.sla import chile_date
from sv_platform.core.domain import NotAllowed
from sv_platform.core.timeutil import CHILE, as_utc, utcnow
from sv_platform.extensions import db

STAFF_STATES = OPEN_STATUSES  # the columns, in lifecycle order


@dataclass
class Load:
    """One advisor's (or the unassigned pile's) open work in one area."""

    advisor: User | None
    area: str
    by_state: dict = field(default_factory=dict)
    oldest: datetime | None = None
    first_due_today: int = 0
    first_overdue: int = 0
    resolution_due_today: int = 0
    resolution_overdue: int = 0
    first_response_times: list = field(default_factory=list)

    @property
    def open_total(self) -> int:
        return sum(self.by_state.values())

    @property
    def median_first_response(self) -> timedelta | None:
        return median(self.first_response_times) if self.first_response_times else None

    @property
    def median_label(self) -> str:
        """ "2 d 4 h", "3 h 20 min", "15 min"; "—" with no first answer this month."""
        value = self.median_first_response
        if value is None:
            return "—"
        minutes = int(value.total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{days} d {hours} h"
        return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@dataclass
class AreaLoad:
    area: str
    label: str
    rows: list[Load]
    waitlisted: int = 0


@dataclass
class Workload:
    areas: list[AreaLoad]
    urgent: list[Consultation]
    month_start: datetime


def _month_start(now: datetime) -> datetime:
    """00:00 in Chile of the first day of `now`'s month, as UTC."""
    local = as_utc(now).astimezone(CHILE)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _deadline(c: Consultation, now: datetime) -> tuple[str, datetime | None]:
    if c.first_response_at is None:
        return "first", as_utc(c.first_response_due_at) if c.first_response_due_at else None
    return "resolution", as_utc(c.resolution_due_at) if c.resolution_due_at else None


def workload(actor, *, now: datetime | None = None, urgent_limit: int = 50) -> Workload:
    """Per area, each active advisor's open consultas by state (plus the unassigned ones),
    the oldest waiting, first responses and resolutions due today and overdue (their due
    dates are business days, advisory.sla), and the median time to a first answer among
    consultas first answered this month (Chilean calendar). `urgent` lists overdue, then
    due-today, then oldest open consultas, for reassignment. Raises NotAllowed."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    now = as_utc(now or utcnow())
    today, month_start = chile_date(now), _month_start(now)
    advisors = list(
        db.session.scalars(
            select(User)
            .where(User.role == "advisor", User.active.is_(True), User.deleted_at.is_(None))
            .order_by(User.name)
        )
    )
    loads: dict[tuple[str, int | None], Load] = {}
    for area in AREAS:
        loads[(area, None)] = Load(advisor=None, area=area)
    for advisor in advisors:
        if advisor.specialty in AREAS:
            loads[(advisor.specialty, advisor.id)] = Load(advisor=advisor, area=advisor.specialty)
    open_rows = list(
        db.session.scalars(select(Consultation).where(Consultation.status.in_(OPEN_STATUSES)))
    )
    for c in open_rows:
        load = loads.get((c.area, c.advisor_id))
        if load is None:  # assigned to someone no longer active: shown with the unassigned
            load = loads[(c.area, None)]
        load.by_state[c.status] = load.by_state.get(c.status, 0) + 1
        started = as_utc(c.opened_at or c.created_at)
        load.oldest = started if load.oldest is None else min(load.oldest, started)
        kind, due = _deadline(c, now)
        if due is None:
            continue
        overdue, due_today = now > due, (now <= due and chile_date(due) == today)
        if kind == "first":
            load.first_overdue += overdue
            load.first_due_today += due_today
        else:
            load.resolution_overdue += overdue
            load.resolution_due_today += due_today
    answered = db.session.execute(
        select(
            Consultation.area,
            Consultation.advisor_id,
            Consultation.opened_at,
            Consultation.first_response_at,
        ).where(Consultation.first_response_at >= month_start, Consultation.opened_at.is_not(None))
    )
    for area, advisor_id, opened_at, first_at in answered:
        load = loads.get((area, advisor_id)) or loads.get((area, None))
        if load is not None:
            load.first_response_times.append(as_utc(first_at) - as_utc(opened_at))
    waiting = dict(
        db.session.execute(
            select(Consultation.area, func.count())
            .where(Consultation.status == "en_espera")
            .group_by(Consultation.area)
        ).all()
    )
    areas = [
        AreaLoad(
            area=area,
            label=label,
            rows=[load for (a, _), load in loads.items() if a == area and load.advisor]
            + [loads[(area, None)]],
            waitlisted=waiting.get(area, 0),
        )
        for area, label in AREAS.items()
    ]

    def urgency(c: Consultation):
        _kind, due = _deadline(c, now)
        if due is not None and now > due:
            rank = 0
        elif due is not None and chile_date(due) == today:
            rank = 1
        else:
            rank = 2
        return (rank, as_utc(c.opened_at or c.created_at), c.id)

    urgent = sorted(open_rows, key=urgency)[:urgent_limit]
    return Workload(areas=areas, urgent=urgent, month_start=month_start)


@audit_labels.connect_via("consultation")
def consultation_labels(_sender, *, ids, **_extra) -> dict:
    """ "la consulta n.º 12 «subject»" for the audit log."""
    numbers = [int(i) for i in ids if i.isdigit()]
    rows = db.session.execute(
        select(Consultation.id, Consultation.subject).where(Consultation.id.in_(numbers))
    )
    return {str(i): f"la consulta n.º {i} «{subject}»" for i, subject in rows}


@audit_labels.connect_via("service_level")
def service_level_labels(_sender, *, ids, **_extra) -> dict:
    """ "el área Legal" for the audit log (a service level's id is its area)."""
    return {i: f"el área {AREAS[i]}" for i in ids if i in AREAS}
