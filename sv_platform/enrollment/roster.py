"""A window's roster for admins: enrolments filtered and paged, the waitlist in order, and
the roster as CSV or XLSX (each download audited)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sv_platform.accounts import people, territory
from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import User
from sv_platform.accounts.signals import audit_labels
from sv_platform.core.domain import InvalidInput, NotAllowed
from sv_platform.core.exports import csv_es_cl, xlsx
from sv_platform.core.paging import Page, keyset_page
from sv_platform.core.rut import format_rut
from sv_platform.core.timeutil import utcnow
from sv_platform.enrollment.models import STATUSES, Enrollment, EnrollmentWindow
from sv_platform.enrollment.services import get_window
from sv_platform.extensions import db, write_transaction

STATUS_LABELS = {
    "active": "Inscrito/a",
    "waitlisted": "En espera",
    "graduated": "Egresado/a",
    "cancelled": "Cancelada",
}
EXPORT_HEADER = [
    "RUT",
    "Nombre",
    "Correo",
    "Región",
    "Comuna",
    "Estado",
    "Fecha de inscripción",
    "Posición en espera",
]
EXPORT_LIMIT = 200_000


@dataclass(frozen=True)
class RosterFilters:
    q: str = ""
    status: str | None = None
    region_code: str | None = None


def roster_filters(args) -> RosterFilters:
    """Read and check the roster's filters. Raises InvalidInput."""
    status = (args.get("estado") or "").strip() or None
    region = (args.get("region") or "").strip() or None
    if status and status not in STATUSES:
        raise InvalidInput("Elige un estado de la lista.", field="estado")
    if region and region not in territory.region_names():
        raise InvalidInput("Elige una región de la lista.", field="region")
    return RosterFilters(
        q=" ".join((args.get("q") or "").split())[:120], status=status, region_code=region
    )


def _query(window_id: int, filters: RosterFilters, *columns):
    query = (
        select(*(columns or (Enrollment,)))
        .select_from(Enrollment)
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.window_id == window_id, *people.matching(Enrollment.user_id, filters.q))
    )
    if filters.status:
        query = query.where(Enrollment.status == filters.status)
    if filters.region_code:
        query = query.where(User.region_code == filters.region_code)
    return query


def roster_page(
    window_id: int, filters: RosterFilters, *, cursor: int | None = None, size: int = 50
) -> Page:
    """The window's enrolments matching the filters, newest first, one keyset page.
    Raises NotFound."""
    get_window(window_id)
    query = _query(window_id, filters)
    return keyset_page(db.session, query, Enrollment.id, cursor=cursor, size=size)


def waitlist(window_id: int, *, limit: int = 200) -> list[Enrollment]:
    """The window's waitlist in order (first = next to get a cupo)."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .where(Enrollment.window_id == window_id, Enrollment.status == "waitlisted")
            .order_by(Enrollment.id)
            .limit(limit)
        )
    )


def _rows(window_id: int, filters: RosterFilters):
    columns = (
        Enrollment.status,
        Enrollment.created_at,
        User.rut,
        User.name,
        User.email,
        User.region_code,
        User.comuna_code,
    )
    query = _query(window_id, filters, *columns).order_by(Enrollment.id).limit(EXPORT_LIMIT)
    regions, comunas = territory.region_names(), territory.comuna_names()
    numbered = not filters.q and not filters.region_code  # a full waitlist: its real order
    position = 0
    for status, created_at, rut, name, email, region, comuna in db.session.execute(query):
        waiting = None
        if status == "waitlisted":
            position += 1
            waiting = position if numbered else None
        yield [
            format_rut(rut) if rut else "",
            name,
            email or "",
            regions.get(region, ""),
            comunas.get(comuna, ""),
            STATUS_LABELS[status],
            created_at,
            waiting,
        ]


@dataclass(frozen=True)
class Download:
    filename: str
    mimetype: str
    body: bytes
    rows: int


MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_roster(
    window_id: int, filters: RosterFilters, fmt: str, *, actor, now: datetime | None = None
) -> Download:
    """The roster (every row matching the filters, oldest first) as CSV (es-CL) or XLSX.
    Downloading personal data is recorded in the audit log. Raises NotAllowed, NotFound,
    InvalidInput (unknown format)."""
    if actor is None or actor.role != "admin":
        raise NotAllowed()
    if fmt not in MIMETYPES:
        raise InvalidInput("Elige CSV o XLSX.", field="formato")
    window = get_window(window_id)
    rows = list(_rows(window.id, filters))
    body = csv_es_cl(EXPORT_HEADER, rows) if fmt == "csv" else xlsx(EXPORT_HEADER, rows)
    with write_transaction():
        entry = accounts.record_audit(
            actor,
            "export_enrollments",
            "enrollment_window",
            window.id,
            None,
            {"format": fmt, "rows": len(rows)},
            commit=False,
        )
        entry.created_at = now or utcnow()
        db.session.commit()
    return Download(
        filename=f"inscripciones-ventana-{window.id}.{fmt}",
        mimetype=MIMETYPES[fmt],
        body=body,
        rows=len(rows),
    )


@audit_labels.connect_via("enrollment_window")
def window_labels(_sender, *, ids, **_extra) -> dict:
    """«window name» for the audit log."""
    numbers = [int(i) for i in ids if i.isdigit()]
    rows = db.session.execute(
        select(EnrollmentWindow.id, EnrollmentWindow.name).where(EnrollmentWindow.id.in_(numbers))
    )
    return {str(i): f"«{name}»" for i, name in rows}


@audit_labels.connect_via("enrollment")
def enrollment_labels(_sender, *, ids, **_extra) -> dict:
    """ "Carolina Pérez en «window name»" for the audit log."""
    numbers = [int(i) for i in ids if i.isdigit()]
    rows = db.session.execute(
        select(Enrollment.id, User.name, EnrollmentWindow.name)
        .join(User, User.id == Enrollment.user_id)
        .join(EnrollmentWindow, EnrollmentWindow.id == Enrollment.window_id)
        .where(Enrollment.id.in_(numbers))
    )
    return {str(i): f"{person} en «{window}»" for i, person, window in rows}
