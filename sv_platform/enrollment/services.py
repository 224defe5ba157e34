"""Enrolment rules: the only code that changes seats (cupos) and the waitlist."""

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import format_date
from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from sv_platform.accounts import services as accounts
from sv_platform.accounts import territory
from sv_platform.accounts.signals import data_exported, user_anonymized
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed, NotFound, valid_id
from sv_platform.core.formatting import plural
from sv_platform.core.timeutil import (
    CHILE,
    UTCDateTime,
    as_utc,
    chile_day_end,
    chile_day_start,
    utcnow,
)
from sv_platform.enrollment.models import (
    ADVISORY_OFFERINGS,
    Enrollment,
    EnrollmentWindow,
    Offering,
)
from sv_platform.enrollment.signals import (
    enrollment_cancelled,
    enrollment_created,
    enrollment_graduated,
    enrollment_promoted,
)
from sv_platform.extensions import add_as_loaded, commit_keeping_loaded, db, write_transaction

log = logging.getLogger(__name__)

OPEN_STATUSES = ("active", "waitlisted")


class ProfileIncomplete(DomainError):
    message = "Completa tus datos en «Mi perfil» antes de inscribirte."


class AlreadyEnrolled(DomainError):
    message = "Ya tienes una inscripción vigente en este servicio."


class WindowClosed(DomainError):
    code = "closed"
    message = "No hay una ventana de inscripción abierta para este servicio."


class CapacityBelowUsed(DomainError):
    message = "Los cupos no pueden ser menos que los ya ocupados."


class InvalidTransition(DomainError):
    message = "Esta inscripción no admite ese cambio."


@dataclass(frozen=True)
class OfferingState:
    """What a person sees about an offering: one code, one Spanish sentence."""

    code: str  # enrolled | waitlisted | graduated | open | full | closed | none
    label: str
    remaining: int = 0
    position: int | None = None
    enrollment: Enrollment | None = None
    window: EnrollmentWindow | None = None

    @property
    def can_enroll(self) -> bool:
        return self.code in ("open", "full")


# --- offerings --------------------------------------------------------------------------


def ensure_offering(kind: str, reference: str, slug: str, title: str) -> Offering:
    """Create or update the offering with this slug (idempotent; used by content loads)."""
    offering = db.session.scalar(select(Offering).where(Offering.slug == slug))
    if offering is None:
        offering = Offering(slug=slug, kind=kind, reference=reference, title=title)
        db.session.add(offering)
    else:
        offering.kind, offering.reference, offering.title = kind, reference, title
    db.session.commit()
    return offering


def ensure_advisory_offerings() -> list[Offering]:
    """The two advisory offerings exist (idempotent)."""
    return [
        ensure_offering("advisory", area, slug, title)
        for area, (slug, title) in ADVISORY_OFFERINGS.items()
    ]


def load_content(_root) -> str:
    """`flask sv content load`: the advisory offerings always exist."""
    ensure_advisory_offerings()
    return "Servicios de asesoría: listos."


def ensure_demo_data(*, now: datetime | None = None) -> list[EnrollmentWindow]:
    """`flask sv demo`: every active offering without any window gets a national one of 100
    cupos until 31 December, so a demo can be used end to end at once (idempotent)."""
    created = []
    for offering in list_offerings():
        if offering.active and not offering.windows:
            created.append(
                create_window(
                    offering_slug=offering.slug,
                    capacity=100,
                    name=f"{offering.title} · demostración",
                    now=now,
                )
            )
    return created


@functools.cache
def _offering_by_slug():
    return select(Offering).where(Offering.slug == bindparam("slug"))


def get_offering(slug: str) -> Offering:
    """The offering with this slug. Raises NotFound."""
    offering = db.session.scalar(_offering_by_slug(), {"slug": slug})
    if offering is None:
        raise NotFound("Ese servicio no existe.")
    return offering


def list_offerings() -> list[Offering]:
    """Every offering, by kind and title."""
    return list(db.session.scalars(select(Offering).order_by(Offering.kind, Offering.title)))


# --- windows ----------------------------------------------------------------------------


def _end_of_year(now: datetime) -> date:
    return date(now.astimezone(CHILE).year, 12, 31)


def _check_window_fields(name, capacity, region_code, opens_at, closes_at):
    if not name or not name.strip():
        raise InvalidInput("Ponle un nombre a la ventana.", field="name")
    if capacity is None or capacity < 0:
        raise InvalidInput("Los cupos deben ser un número mayor o igual a cero.", field="capacity")
    if region_code and region_code not in territory.region_names():
        raise InvalidInput(
            "Esa región no existe. Usa un código entre 01 y 16.", field="region_code"
        )
    if closes_at <= opens_at:
        raise InvalidInput(
            "La fecha de cierre debe ser posterior a la de apertura.", field="closes_on"
        )


# Windows are planned for the program's life: a date outside these years is a typo.
EARLIEST_WINDOW_DAY = date(2020, 1, 1)
WINDOW_YEARS_AHEAD = 10


def _check_window_dates(
    opens_on: date | None, closes_on: date | None, today: date, *, past_ok: date | None = None
) -> None:
    """Rule: window dates lie between 2020 and ten years from today (a date like
    9999-12-31 is refused before any arithmetic on it) and a window never lies entirely in
    the past (`past_ok`: the closing date it already had, which an edit may keep).
    Raises InvalidInput."""
    latest = date(today.year + WINDOW_YEARS_AHEAD, 12, 31)
    for field, day in (("opens_on", opens_on), ("closes_on", closes_on)):
        if day is not None and not EARLIEST_WINDOW_DAY <= day <= latest:
            raise InvalidInput(
                f"Usa una fecha entre el {EARLIEST_WINDOW_DAY:%d-%m-%Y} y el {latest:%d-%m-%Y}.",
                field=field,
            )
    if closes_on is not None and closes_on < today and closes_on != past_ok:
        raise InvalidInput(
            "La ventana ya habría cerrado: la fecha de cierre no puede ser anterior a hoy.",
            field="closes_on",
        )


def _window_snapshot(window: EnrollmentWindow) -> dict:
    return {
        "name": window.name,
        "capacity": window.capacity,
        "region_code": window.region_code,
        "opens_at": window.opens_at.isoformat(),
        "closes_at": window.closes_at.isoformat(),
    }


def create_window(
    *,
    offering_slug: str,
    capacity: int,
    region_code: str | None = None,
    opens_on: date | None = None,
    closes_on: date | None = None,
    name: str | None = None,
    actor=None,
    now: datetime | None = None,
) -> EnrollmentWindow:
    """Open a window of `capacity` cupos. Opens today (now) by default, closes on 31
    December. Raises NotFound, InvalidInput."""
    now = now or utcnow()
    offering = get_offering(offering_slug)
    region_code = region_code or None
    _check_window_dates(opens_on, closes_on, now.astimezone(CHILE).date())
    opens_at = chile_day_start(opens_on) if opens_on else now
    closes_at = chile_day_end(closes_on or _end_of_year(now))
    if not name:
        place = territory.region_names().get(region_code, "Nacional") if region_code else "Nacional"
        name = f"{offering.title} {opens_at.astimezone(CHILE).year} · {place}"
    _check_window_fields(name, capacity, region_code, opens_at, closes_at)
    window = EnrollmentWindow(
        offering_id=offering.id,
        name=name.strip(),
        capacity=capacity,
        region_code=region_code,
        opens_at=opens_at,
        closes_at=closes_at,
        used=0,
    )
    db.session.add(window)
    db.session.flush()
    accounts.record_audit(
        actor,
        "create_window",
        "enrollment_window",
        window.id,
        None,
        _window_snapshot(window),
        commit=False,
    )
    db.session.commit()
    return window


def _stored_closing_day(window_id) -> date | None:
    window = db.session.get(EnrollmentWindow, window_id) if valid_id(window_id) else None
    return window.closes_at.astimezone(CHILE).date() if window else None


def get_window(window_id: int) -> EnrollmentWindow:
    """The window with this id. Raises NotFound."""
    window = db.session.get(EnrollmentWindow, window_id) if valid_id(window_id) else None
    if window is None:
        raise NotFound("Esa ventana no existe.")
    return window


def update_window(
    window_id: int,
    *,
    name: str,
    capacity: int,
    region_code: str | None,
    opens_on: date,
    closes_on: date,
    actor=None,
    now: datetime | None = None,
) -> EnrollmentWindow:
    """Edit a window. Capacity can never go below the seats already used; raising it
    promotes from the waitlist. Raises NotFound, InvalidInput, CapacityBelowUsed."""
    region_code = region_code or None
    today = (now or utcnow()).astimezone(CHILE).date()
    _check_window_dates(opens_on, closes_on, today, past_ok=_stored_closing_day(window_id))
    opens_at, closes_at = chile_day_start(opens_on), chile_day_end(closes_on)
    with write_transaction():
        window = get_window(window_id)
        _check_window_fields(name, capacity, region_code, opens_at, closes_at)
        if capacity < window.used:
            raise CapacityBelowUsed(
                f"No puedes dejar {plural(capacity, 'cupo', 'cupos')}: ya hay "
                f"{plural(window.used, 'ocupado', 'ocupados')}. "
                f"El mínimo es {window.used}.",
                field="capacity",
            )
        before = _window_snapshot(window)
        window.name, window.capacity, window.region_code = name.strip(), capacity, region_code
        window.opens_at, window.closes_at = opens_at, closes_at
        accounts.record_audit(
            actor,
            "update_window",
            "enrollment_window",
            window.id,
            before,
            _window_snapshot(window),
            commit=False,
        )
        _promote_locked(window.id, now=now or utcnow())
        db.session.commit()
    return window


def list_windows(offering_id: int | None = None) -> list[EnrollmentWindow]:
    """Windows (of one offering, or all), by offering and opening date."""
    query = select(EnrollmentWindow).order_by(
        EnrollmentWindow.offering_id, EnrollmentWindow.opens_at
    )
    if offering_id:
        query = query.where(EnrollmentWindow.offering_id == offering_id)
    return list(db.session.scalars(query))


def window_counts(window_ids: list[int]) -> dict[int, dict]:
    """Live counts per window: active, waitlisted, graduated (one grouped query)."""
    counts = {
        wid: {"active": 0, "waitlisted": 0, "graduated": 0, "cancelled": 0} for wid in window_ids
    }
    if not window_ids:
        return counts
    rows = db.session.execute(
        select(Enrollment.window_id, Enrollment.status, func.count())
        .where(Enrollment.window_id.in_(window_ids))
        .group_by(Enrollment.window_id, Enrollment.status)
    )
    for window_id, status, n in rows:
        counts[window_id][status] = n
    return counts


def describe_window(window: EnrollmentWindow) -> str:
    """One line about a window with its live counts (for the CLI)."""
    counts = window_counts([window.id])[window.id]
    region = window.region_code or "nacional"
    return (
        f"#{window.id} {window.offering.slug} «{window.name}» región={region} "
        f"{window.opens_at.astimezone(CHILE):%Y-%m-%d} → "
        f"{window.closes_at.astimezone(CHILE):%Y-%m-%d} cupos={window.capacity} "
        f"usados={window.used} disponibles={window.remaining} "
        f"en_espera={counts['waitlisted']} egresados={counts['graduated']}"
    )


def _fitting_windows(offering_id: int, region_code: str | None):
    """Windows of the offering that can serve the person: national ones and, when their
    región is known, that región's."""
    regions = [EnrollmentWindow.region_code.is_(None)]
    if region_code:
        regions.append(EnrollmentWindow.region_code == region_code)
    return select(EnrollmentWindow).where(
        EnrollmentWindow.offering_id == offering_id, or_(*regions)
    )


def _candidate_windows(
    offering_id: int, region_code: str | None, now: datetime
) -> list[EnrollmentWindow]:
    """Open windows that fit the person: their región's first, then national ones."""
    query = _fitting_windows(offering_id, region_code).where(
        EnrollmentWindow.opens_at <= now, EnrollmentWindow.closes_at > now
    )
    windows = list(db.session.scalars(query.order_by(EnrollmentWindow.id)))
    return sorted(windows, key=lambda w: (w.region_code is None, w.closes_at, w.id))


def _next_window(
    offering_id: int, region_code: str | None, now: datetime
) -> EnrollmentWindow | None:
    query = _fitting_windows(offering_id, region_code).where(EnrollmentWindow.opens_at > now)
    return db.session.scalars(query.order_by(EnrollmentWindow.opens_at)).first()


def _closed_message(upcoming: EnrollmentWindow | None) -> str:
    if upcoming is None:
        return "Ventana cerrada: no hay una nueva apertura planificada por ahora."
    opens = format_date(upcoming.opens_at, "d 'de' MMMM")
    return f"Ventana cerrada: abre el {opens}."


# --- enrolments -------------------------------------------------------------------------


def open_enrollment(user_id: int, offering_id: int) -> Enrollment | None:
    """The person's active or waitlisted enrolment in an offering, or None."""
    return db.session.scalar(
        select(Enrollment).where(
            Enrollment.user_id == user_id,
            Enrollment.offering_id == offering_id,
            Enrollment.status.in_(OPEN_STATUSES),
        )
    )


def latest_enrollment(user_id: int, offering_id: int) -> Enrollment | None:
    """The person's newest enrolment in an offering, whatever its status."""
    return db.session.scalars(
        select(Enrollment)
        .where(Enrollment.user_id == user_id, Enrollment.offering_id == offering_id)
        .order_by(Enrollment.id.desc())
    ).first()


_LATEST_STATUS_OF = (
    "SELECT enrollment.status FROM enrollment WHERE enrollment.user_id = :user_id "
    "AND enrollment.offering_id = {offering} ORDER BY enrollment.id DESC LIMIT 1"
)
_LATEST_STATUS = text(_LATEST_STATUS_OF.format(offering=":offering_id"))


def latest_status_sql(offering_column: str) -> str:
    """latest_status() as a scalar subquery for the offering in `offering_column` and the
    person in the `:user_id` parameter, for a page's query that needs the seat beside other
    things (one statement instead of two)."""
    return f"({_LATEST_STATUS_OF.format(offering=offering_column)})"


def latest_status(user_id: int, offering_id: int) -> str | None:
    """The status of the person's latest enrolment in the offering, None if never enrolled:
    all a page that only asks "has a seat?" needs (textual SQL: no ORM row on a hot path)."""
    return db.session.execute(
        _LATEST_STATUS, {"user_id": user_id, "offering_id": offering_id}
    ).scalar()


def get_enrollment(enrollment_id: int) -> Enrollment:
    """The enrolment with this id. Raises NotFound."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFound("Esa inscripción no existe.")
    return enrollment


@functools.cache
def _take_seat_statement():
    window = EnrollmentWindow.__table__
    return (
        update(window)
        .where(window.c.id == bindparam("seat_window"), window.c.used < window.c.capacity)
        .values(used=window.c.used + 1)
    )


def _take_seat(window_id: int) -> bool:
    """One conditional UPDATE: its row count says whether a seat was taken (atomic). A Core
    statement built once, on the session's connection (nothing loaded needs syncing)."""
    result = db.session.connection().execute(_take_seat_statement(), {"seat_window": window_id})
    return result.rowcount == 1


def _check_can_enroll(user, offering: Offering) -> None:
    if user.role != "entrepreneur":
        raise NotAllowed("Solo las personas emprendedoras pueden inscribirse.")
    if not user.profile_complete:
        raise ProfileIncomplete()
    if not offering.active:
        raise WindowClosed("Este servicio no está disponible por ahora.")


def claim_seat(user, offering: Offering, *, now: datetime) -> Enrollment:
    """Inside the caller's write transaction (the caller commits): take a cupo in the open
    window that fits the user, or join that window's waitlist. Raises NotAllowed,
    ProfileIncomplete, AlreadyEnrolled, WindowClosed."""
    plan = _seat_plan(user, offering, now=now)
    return _claim_planned(plan, now=now)


@dataclass(frozen=True)
class _SeatPlan:
    """What a claim needs, read before the write: who, where, and the windows to try."""

    user_id: int
    offering_id: int
    window_ids: tuple[int, ...]


def _enrolment_exists(statuses: tuple[str, ...]):
    return (
        select(Enrollment.id)
        .where(
            Enrollment.user_id == bindparam("user_id"),
            Enrollment.offering_id == bindparam("offering_id"),
            Enrollment.status.in_(statuses),
        )
        .exists()
    )


@functools.cache
def _repeat_flags():
    """Whether the person has an open enrolment, and a graduated one, in the offering."""
    return _enrolment_exists(OPEN_STATUSES), _enrolment_exists(("graduated",))


@functools.cache
def _plan_statement():
    """The open windows that fit the person (their región's first, then national ones,
    as `_candidate_windows` orders them) with the repeat flags beside each: a claim's
    reads in one statement, built once."""
    window, now = EnrollmentWindow, bindparam("now", type_=UTCDateTime())
    enrolled, graduated = _repeat_flags()
    return (
        select(window.id, enrolled.label("enrolled"), graduated.label("graduated"))
        .where(
            window.offering_id == bindparam("offering_id"),
            or_(window.region_code.is_(None), window.region_code == bindparam("region_code")),
            window.opens_at <= now,
            window.closes_at > now,
        )
        .order_by(window.region_code.is_(None), window.closes_at, window.id)
    )


@functools.cache
def _flags_statement():
    enrolled, graduated = _repeat_flags()
    return select(enrolled.label("enrolled"), graduated.label("graduated"))


def _refuse_repeat(offering: Offering, enrolled, graduated) -> None:
    if enrolled:
        raise AlreadyEnrolled()
    if offering.kind == "course" and graduated:
        raise AlreadyEnrolled("Ya egresaste de este curso. Revisa tu certificado en «Mis cursos».")


def _seat_plan(user, offering: Offering, *, now: datetime) -> _SeatPlan:
    """The read part of a claim (no write, no lock): the rules the person must meet and
    the open windows that fit them, their región's first — one statement. Raises
    NotAllowed, ProfileIncomplete, AlreadyEnrolled, WindowClosed."""
    _check_can_enroll(user, offering)
    user_id, region_code, offering_id = user.id, user.region_code or None, offering.id
    params = {"user_id": user_id, "offering_id": offering_id}
    rows = db.session.execute(
        _plan_statement(), {**params, "region_code": region_code, "now": now}
    ).all()
    if not rows:  # no open window: a repeat is still said first
        _refuse_repeat(offering, *db.session.execute(_flags_statement(), params).one())
        raise WindowClosed(_closed_message(_next_window(offering_id, region_code, now)))
    _refuse_repeat(offering, rows[0].enrolled, rows[0].graduated)
    return _SeatPlan(user_id, offering_id, tuple(row.id for row in rows))


@functools.cache
def _insert_statement():
    return insert(Enrollment.__table__)


def _claim_planned(plan: _SeatPlan, *, now: datetime) -> Enrollment:
    """The write part of a claim, inside the caller's write transaction: one conditional
    UPDATE per window until one gives a seat (the row count decides, so cupos are never
    exceeded), else the first window's waitlist; the open-enrolment unique constraint turns
    a racing double submit into AlreadyEnrolled. The row is one Core INSERT (no unit of
    work) and becomes the session's persistent Enrollment as if the ORM had loaded it;
    `enrollment_created` is sent inside the transaction."""
    chosen, status = plan.window_ids[0], "waitlisted"
    for window_id in plan.window_ids:
        if _take_seat(window_id):
            chosen, status = window_id, "active"
            break
    values = {
        "user_id": plan.user_id,
        "window_id": chosen,
        "offering_id": plan.offering_id,
        "status": status,
        "created_at": now,
        "open_slot": plan.offering_id,
    }
    try:
        result = db.session.connection().execute(_insert_statement(), values)
    except IntegrityError as exc:  # a double submit raced us; the caller's rollback undoes
        raise AlreadyEnrolled() from exc  # the seat taken above
    enrollment = Enrollment(
        id=result.inserted_primary_key[0],
        promoted_at=None,
        cancelled_at=None,
        graduated_at=None,
        **values,
    )
    add_as_loaded(enrollment)
    enrollment_created.send(enrollment, now=now)
    return enrollment


def _expire_window(window_id: int) -> None:
    """A window the session holds is read again on next use (after a Core UPDATE of it)."""
    key = sa_inspect(EnrollmentWindow).identity_key_from_primary_key([window_id])
    window = db.session.identity_map.get(key)
    if window is not None:
        db.session.expire(window)


def enroll(user, offering: Offering, *, now: datetime | None = None) -> Enrollment:
    """Take a cupo in the open window that fits the user (their región's before the
    national one) or join that window's waitlist in arrival order. One open enrolment per
    offering at a time; a graduated course cannot be taken again, advisory areas can.
    Raises NotAllowed, ProfileIncomplete, AlreadyEnrolled, WindowClosed.

    The rules are read first without the write lock; the write transaction holds it only
    for the conditional UPDATE, the INSERT and the commit (SQLite has one write lock, so a
    burst of enrolments is serialized only by that short part). The write depends on
    nothing read before but the plan's ids (the UPDATE's row count and the unique
    constraint decide), so what was loaded is kept across both commits."""
    now = now or utcnow()
    plan = _seat_plan(user, offering, now=now)
    with write_transaction(keep_loaded=True):
        enrollment = _claim_planned(plan, now=now)
        enrollment.arrival_position = waitlist_position(enrollment)  # no transaction after
        # the enrolment (every column known from its INSERT), the person and the offering
        # are unchanged by the commit: the page after it reads none of them again
        commit_keeping_loaded()
    _expire_window(enrollment.window_id)  # its `used` changed behind the ORM's back
    log.info("enrol user=%s offering=%s status=%s", plan.user_id, offering.slug, enrollment.status)
    return enrollment


@functools.cache
def _waitlist_position_statement():
    return (
        select(func.count())
        .select_from(Enrollment)
        .where(
            Enrollment.window_id == bindparam("window_id"),
            Enrollment.status == "waitlisted",
            Enrollment.id <= bindparam("enrollment_id"),
        )
    )


def waitlist_position(enrollment: Enrollment) -> int | None:
    """The place in line (1 = next) of a waiting consulta or enrolment, else None."""
    if enrollment.status != "waitlisted":
        return None
    return db.session.scalar(
        _waitlist_position_statement(),
        {"window_id": enrollment.window_id, "enrollment_id": enrollment.id},
    )


def waitlist_positions(user_id: int) -> dict[int, int]:
    """The place in line (1 = next) of each of the person's waitlisted enrolments, by
    enrolment id, in one query (the rule of `waitlist_position`)."""
    mine = (
        select(Enrollment.id, Enrollment.window_id)
        .where(Enrollment.user_id == user_id, Enrollment.status == "waitlisted")
        .subquery()
    )
    ahead = db.session.execute(
        select(mine.c.id, func.count(Enrollment.id))
        .join(
            Enrollment,
            (Enrollment.window_id == mine.c.window_id)
            & (Enrollment.status == "waitlisted")
            & (Enrollment.id <= mine.c.id),
        )
        .group_by(mine.c.id)
    )
    return dict(ahead.all())


def _promote_locked(window_id: int, *, now: datetime) -> list[Enrollment]:
    """Inside a write transaction: give free seats to the waitlist, first come first. Each
    promoted person gets a notice and `enrollment_promoted` is sent, in this transaction."""
    promoted = []
    while True:
        first = db.session.scalars(
            select(Enrollment)
            .where(Enrollment.window_id == window_id, Enrollment.status == "waitlisted")
            .order_by(Enrollment.id)
            .limit(1)
        ).first()
        if first is None or not _take_seat(window_id):
            break
        _seat_taken(first, now=now)
        promoted.append(first)
    return promoted


def _seat_taken(enrollment: Enrollment, *, now: datetime) -> None:
    """Inside a write transaction, after _take_seat succeeded for this waitlisted
    enrolment: it becomes active, the person is notified and `enrollment_promoted` sent."""
    enrollment.status, enrollment.promoted_at = "active", now
    db.session.flush()
    offering = enrollment.offering
    accounts.notify(
        enrollment.user_id,
        f"¡Se liberó un cupo! Ya tienes tu lugar en «{offering.title}».",
        _offering_url(offering),
        commit=False,
    )
    enrollment_promoted.send(enrollment, now=now)


def _admin_reason(actor, reason: str | None) -> str:
    if actor is None or actor.role != "admin":
        raise NotAllowed("Solo un administrador/a puede cambiar la lista de espera.")
    reason = " ".join((reason or "").split())
    if len(reason) < 3:
        raise InvalidInput("Escribe el motivo (al menos 3 caracteres).", field="reason")
    if len(reason) > 300:
        raise InvalidInput("El motivo puede tener hasta 300 caracteres.", field="reason")
    return reason


def _lock_waitlisted(enrollment_id: int) -> Enrollment:
    enrollment = db.session.get(
        Enrollment, enrollment_id, populate_existing=True, with_for_update=True
    )
    if enrollment is None:
        raise NotFound("Esa inscripción no existe.")
    if enrollment.status != "waitlisted":
        raise InvalidTransition("Esa persona ya no está en la lista de espera.")
    return enrollment


def promote_waitlisted(
    enrollment_id: int, *, actor, reason: str, now: datetime | None = None
) -> Enrollment:
    """An admin gives one person of the waitlist a cupo ahead of their turn (a reason is
    required). Free cupos always go to the waitlist at once, so the window gains one cupo
    for this person when none is free; the seat is taken with the same conditional UPDATE
    as any claim (used never exceeds capacity), the person is notified and the change
    audited, in one transaction. Raises NotAllowed, InvalidInput, NotFound,
    InvalidTransition (not waitlisted)."""
    now = now or utcnow()
    reason = _admin_reason(actor, reason)
    with write_transaction():
        enrollment = _lock_waitlisted(enrollment_id)
        position = waitlist_position(enrollment)
        window = db.session.get(
            EnrollmentWindow, enrollment.window_id, populate_existing=True, with_for_update=True
        )
        capacity = window.capacity
        if not _take_seat(window.id):
            db.session.execute(
                update(EnrollmentWindow)
                .where(EnrollmentWindow.id == window.id)
                .values(capacity=EnrollmentWindow.capacity + 1)
                .execution_options(synchronize_session=False)
            )
            if not _take_seat(window.id):
                raise InvalidTransition("No se pudo reservar el cupo. Inténtalo de nuevo.")
        db.session.refresh(window)
        _seat_taken(enrollment, now=now)
        accounts.record_audit(
            actor,
            "promote_waitlisted",
            "enrollment",
            enrollment.id,
            {"status": "waitlisted", "position": position, "capacity": capacity},
            {"status": "active", "capacity": window.capacity},
            commit=False,
            note=reason,
            subject_id=enrollment.user_id,
        )
        db.session.commit()
    return enrollment


def remove_waitlisted(
    enrollment_id: int, *, actor, reason: str, now: datetime | None = None
) -> Enrollment:
    """An admin takes one person off the waitlist (a reason is required): the enrolment is
    cancelled (its waiting consulta withdrawn), the person notified with the reason and the
    change audited, in one transaction. Raises NotAllowed, InvalidInput, NotFound,
    InvalidTransition (not waitlisted)."""
    now = now or utcnow()
    reason = _admin_reason(actor, reason)
    with write_transaction():
        enrollment = _lock_waitlisted(enrollment_id)
        position = waitlist_position(enrollment)
        cancel_in_transaction(enrollment, now=now)
        offering = enrollment.offering
        accounts.notify(
            enrollment.user_id,
            f"Tu lugar en la lista de espera de «{offering.title}» fue retirado. Motivo: {reason}",
            "/mis-inscripciones",
            commit=False,
        )
        accounts.record_audit(
            actor,
            "remove_waitlisted",
            "enrollment",
            enrollment.id,
            {"status": "waitlisted", "position": position},
            {"status": "cancelled"},
            commit=False,
            note=reason,
            subject_id=enrollment.user_id,
        )
        db.session.commit()
    return enrollment


def _offering_url(offering: Offering) -> str:
    if offering.kind == "course":
        return f"/cursos/{offering.reference}"
    return "/consultas"


def cancel_in_transaction(enrollment: Enrollment, *, actor=None, now: datetime) -> Enrollment:
    """Inside the caller's write transaction (the caller commits): cancel an active or
    waitlisted enrolment, free its seat for the first person on the waitlist and send
    `enrollment_cancelled`. Raises InvalidTransition."""
    if enrollment.status not in OPEN_STATUSES:
        raise InvalidTransition("Esta inscripción ya no está vigente.")
    before = {"status": enrollment.status}
    held_seat = enrollment.status == "active"
    enrollment.status, enrollment.cancelled_at, enrollment.open_slot = "cancelled", now, None
    db.session.flush()
    if held_seat:
        db.session.execute(
            update(EnrollmentWindow)
            .where(EnrollmentWindow.id == enrollment.window_id)
            .values(used=EnrollmentWindow.used - 1)
            .execution_options(synchronize_session=False)
        )
    if actor is not None and actor.role == "admin":
        accounts.record_audit(
            actor,
            "cancel_enrollment",
            "enrollment",
            enrollment.id,
            before,
            {"status": "cancelled"},
            commit=False,
            subject_id=enrollment.user_id,
        )
    enrollment_cancelled.send(enrollment, actor=actor, now=now)
    if held_seat:
        _promote_locked(enrollment.window_id, now=now)
    return enrollment


def _own_open_enrollment(enrollment_id: int, actor) -> Enrollment:
    """The enrolment, when `actor` may cancel it (its owner or an admin; no actor is the
    system). Raises NotFound, NotAllowed."""
    enrollment = get_enrollment(enrollment_id)
    if actor is not None and actor.role != "admin" and actor.id != enrollment.user_id:
        raise NotAllowed("Esa inscripción no es tuya.")
    return enrollment


def cancel(enrollment_id: int, *, actor=None, now: datetime | None = None) -> Enrollment:
    """Cancel an active or waitlisted enrolment. A freed seat goes to the first person on
    the waitlist; what depends on the enrolment (its consulta) is withdrawn in the same
    transaction. Only the owner or an admin may cancel. Raises NotFound, NotAllowed,
    InvalidTransition."""
    now = now or utcnow()
    with write_transaction():
        enrollment = _own_open_enrollment(enrollment_id, actor)
        cancel_in_transaction(enrollment, actor=actor, now=now)
        db.session.commit()
    return enrollment


@dataclass(frozen=True)
class CancelPreview:
    """What cancelling an enrolment would do, said before the person confirms."""

    enrollment: Enrollment
    position: int | None  # the place given up on the waitlist (waitlisted only)
    waiting: int  # people waiting in its window: the first one gets a freed cupo at once

    @property
    def holds_seat(self) -> bool:
        return self.enrollment.status == "active"

    @property
    def is_course(self) -> bool:
        return self.enrollment.offering.kind == "course"


def cancel_preview(enrollment_id: int, *, actor) -> CancelPreview:
    """The confirmation page of a cancellation: the offering, the waitlist place given up
    or whether the freed cupo passes to someone waiting. Same rules as `cancel`; writes
    nothing. Raises NotFound, NotAllowed, InvalidTransition."""
    enrollment = _own_open_enrollment(enrollment_id, actor)
    if enrollment.status not in OPEN_STATUSES:
        raise InvalidTransition("Esta inscripción ya no está vigente.")
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.window_id == enrollment.window_id, Enrollment.status == "waitlisted")
    )
    return CancelPreview(enrollment, waitlist_position(enrollment), waiting or 0)


def mark_graduated(enrollment_id: int, *, now: datetime) -> bool:
    """Inside the caller's write transaction (the caller commits): egreso exactly once, a
    conditional UPDATE from `active`; sends `enrollment_graduated` when it happened.
    Returns whether this call graduated it."""
    result = db.session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.status == "active")
        .values(status="graduated", graduated_at=now, open_slot=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    enrollment = db.session.get(Enrollment, enrollment_id, populate_existing=True)
    enrollment_graduated.send(enrollment, now=now)
    return True


def graduate(enrollment_id: int, *, now: datetime | None = None) -> Enrollment:
    """Mark egreso exactly once: a conditional UPDATE from `active`; repeating it changes
    nothing. Raises NotFound, InvalidTransition (waitlisted or cancelled)."""
    now = now or utcnow()
    with write_transaction():
        mark_graduated(enrollment_id, now=now)
        db.session.commit()
    enrollment = get_enrollment(enrollment_id)
    db.session.refresh(enrollment)
    if enrollment.status != "graduated":
        raise InvalidTransition("Solo una inscripción vigente puede egresar.")
    return enrollment


def offering_state(user, offering: Offering, *, now: datetime | None = None) -> OfferingState:
    """The state a person sees on an offering page."""
    now = now or utcnow()
    authenticated = bool(user is not None and getattr(user, "is_authenticated", False))
    region_code = user.region_code if authenticated else None
    if authenticated:
        current = open_enrollment(user.id, offering.id)
        if current is not None and current.status == "active":
            return OfferingState(
                "enrolled", "Inscrito/a", enrollment=current, window=current.window
            )
        if current is not None:
            position = waitlist_position(current)
            return OfferingState(
                "waitlisted",
                f"En lista de espera (posición {position})",
                position=position,
                enrollment=current,
                window=current.window,
            )
        if offering.kind == "course":
            last = latest_enrollment(user.id, offering.id)
            if last is not None and last.status == "graduated":
                return OfferingState("graduated", "Egresado/a", enrollment=last, window=last.window)
    windows = _candidate_windows(offering.id, region_code, now)
    if not authenticated and not windows:
        windows = _candidate_windows_any_region(offering.id, now)
    if windows:
        remaining = sum(w.remaining for w in windows)
        if remaining > 0:
            label = "Queda 1 cupo" if remaining == 1 else f"Quedan {remaining} cupos"
            return OfferingState("open", label, remaining=remaining, window=windows[0])
        waiting = window_counts([windows[0].id])[windows[0].id]["waitlisted"]
        return OfferingState(
            "full",
            f"Cupos agotados: puedes unirte a la lista de espera ({waiting} en espera)",
            window=windows[0],
        )
    upcoming = _next_window(offering.id, region_code, now)
    return OfferingState(
        "closed" if upcoming else "none", _closed_message(upcoming), window=upcoming
    )


def _candidate_windows_any_region(offering_id: int, now: datetime) -> list[EnrollmentWindow]:
    return list(
        db.session.scalars(
            select(EnrollmentWindow)
            .where(
                EnrollmentWindow.offering_id == offering_id,
                EnrollmentWindow.opens_at <= now,
                EnrollmentWindow.closes_at > now,
            )
            .order_by(EnrollmentWindow.id)
        )
    )


def active_user_ids(offering_id: int) -> list[int]:
    """Ids of the people holding a cupo (active enrolment) in an offering."""
    return list(
        db.session.scalars(
            select(Enrollment.user_id).where(
                Enrollment.offering_id == offering_id, Enrollment.status == "active"
            )
        )
    )


def enrollments_for(user_id: int) -> list[Enrollment]:
    """The person's enrolments, newest first, with their offering and window."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .options(joinedload(Enrollment.offering), joinedload(Enrollment.window))
            .where(Enrollment.user_id == user_id)
            .order_by(Enrollment.id.desc())
        )
    )


@data_exported.connect
def export_user_data(user_id: int, **_extra) -> dict:
    """The person's enrolments, for their data export."""
    return {
        "inscripciones": [
            {
                "servicio": e.offering.title,
                "ventana": e.window.name,
                "estado": e.status,
                "creada": as_utc(e.created_at).isoformat(),
                "egreso": e.graduated_at.isoformat() if e.graduated_at else None,
            }
            for e in enrollments_for(user_id)
        ]
    }


@user_anonymized.connect
def anonymize_user(user_id: int, *, now: datetime, **_extra) -> None:
    """A deleted account's open enrolments are cancelled (in the deletion's transaction) so
    their seats go to the waitlist."""
    for enrollment in db.session.scalars(
        select(Enrollment).where(
            Enrollment.user_id == user_id, Enrollment.status.in_(OPEN_STATUSES)
        )
    ).all():
        cancel_in_transaction(enrollment, now=now)
