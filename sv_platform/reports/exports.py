"""Exports of the report data: CSV for Excel in es-CL (UTF-8 with BOM, `;`, decimal comma)
and XLSX. Identifying data (RUT, name, contact) only in the full export; the indicator
table applies small-cell suppression."""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime

from openpyxl import Workbook
from sqlalchemy import and_, false, select

from sv_platform.accounts import territory
from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES, Company, User
from sv_platform.advisory.models import AREAS, STATUSES, Consultation
from sv_platform.core.timeutil import CHILE, as_utc
from sv_platform.enrollment.models import Enrollment, Offering
from sv_platform.extensions import db
from sv_platform.reports import services
from sv_platform.reports.models import (
    CHANNELS,
    HELPED_WITH,
    SALES_RANGES,
    SERVICES,
    AnnualSurveyAnswer,
    ExitSurvey,
    split_codes,
)

DATASETS = {
    "beneficiarios": "Beneficiarios",
    "inscripciones": "Inscripciones",
    "egresos": "Egresos",
    "consultas": "Consultas",
    "encuestas": "Respuestas de encuestas",
    "indicadores": "Indicadores (para publicar)",
}
FORMATS = ("csv", "xlsx")
STATUS_LABELS = {
    "active": "Vigente",
    "graduated": "Egresada",
    "waitlisted": "En lista de espera",
    "cancelled": "Cancelada",
}
CONTACT = ["RUT", "Nombre", "Correo", "Teléfono"]
BATCH = 5_000


def _when(value: datetime | None) -> datetime | None:
    """Local Chilean time without offset (what Excel shows)."""
    return as_utc(value).astimezone(CHILE).replace(tzinfo=None) if value else None


def _labels(codes: str | None, names: dict) -> str:
    return ", ".join(names.get(c, c) for c in split_codes(codes))


def _person(user_cols, full: bool) -> list:
    region, comuna, sex, birth, education, rut, name, email, phone = user_cols
    row = [
        territory.region_names().get(region, region or ""),
        territory.comuna_names().get(comuna, comuna or ""),
        SEXES.get(sex, sex or ""),
        birth.year if birth else None,
        EDUCATION_LEVELS.get(education, education or ""),
    ]
    return row + ([rut, name, email, phone] if full else [])


_PERSON_COLUMNS = (
    User.region_code,
    User.comuna_code,
    User.sex,
    User.birth_date,
    User.education_level,
    User.rut,
    User.name,
    User.email,
    User.phone,
)
_PERSON_HEADER = ["Región", "Comuna", "Sexo", "Año de nacimiento", "Nivel educacional"]


def _stream(query) -> Iterator:
    return db.session.execute(query.execution_options(yield_per=BATCH))


def beneficiarios(f: services.Filters, full: bool) -> tuple[list, Iterator]:
    seats = services.seat_enrolments(f)
    seat_users = select(seats.c.user_id).distinct().subquery()
    query = (
        select(User.id, *_PERSON_COLUMNS, Company.rut, Company.sector)
        .join(seat_users, seat_users.c.user_id == User.id)
        .outerjoin(Company, Company.user_id == User.id)
        .order_by(User.id)
    )
    header = ["Id persona", *_PERSON_HEADER, "Tramo de edad", "Actividad económica"]
    header += [*CONTACT, "RUT empresa"] if full else []

    def rows():
        for uid, *cols, company_rut, sector in _stream(query):
            person = _person(cols, full)
            band = services.age_band(cols[3].year if cols[3] else None, f.year)
            row = [uid, *person[:5], band, sector or ""] + person[5:]
            yield row + ([company_rut] if full else [])

    return header, rows()


def _enrolment_query(f: services.Filters, *conditions):
    query = (
        select(
            Enrollment.id,
            Enrollment.user_id,
            Offering.kind,
            Offering.reference,
            Offering.title,
            Enrollment.status,
            Enrollment.created_at,
            Enrollment.graduated_at,
            *_PERSON_COLUMNS,
        )
        .join(Offering, Offering.id == Enrollment.offering_id)
        .join(User, User.id == Enrollment.user_id)
        .where(*conditions, *services.person_conditions(f))
        .order_by(Enrollment.id)
    )
    if f.service == "course":
        query = query.where(Offering.kind == "course")
    elif f.service:
        query = query.where(Offering.kind == "advisory", Offering.reference == f.service)
    return query


def _enrolment_rows(query, full: bool):
    for eid, uid, kind, ref, title, status, created, graduated, *cols in _stream(query):
        service = "course" if kind == "course" else ref
        yield [
            eid,
            uid,
            SERVICES.get(service, service),
            title,
            STATUS_LABELS.get(status, status),
            _when(created),
            _when(graduated),
            *_person(cols, full),
        ]


_ENROLMENT_HEADER = ["Id inscripción", "Id persona", "Servicio", "Oferta", "Estado", "Creada"]


def inscripciones(f: services.Filters, full: bool):
    """Seat enrolments of year t (the ones that make beneficiaries)."""
    header = [*_ENROLMENT_HEADER, "Egreso", *_PERSON_HEADER, *(CONTACT if full else [])]
    seats = services.seat_enrolments(f, with_id=True)
    query = _enrolment_query(f).join(seats, seats.c.id == Enrollment.id)
    return header, _enrolment_rows(query, full)


def egresos(f: services.Filters, full: bool):
    start, end = services.year_bounds(f.year)
    query = _enrolment_query(
        f,
        Enrollment.status == "graduated",
        Enrollment.graduated_at >= start,
        Enrollment.graduated_at < end,
    )
    header = [*_ENROLMENT_HEADER, "Egreso", *_PERSON_HEADER, *(CONTACT if full else [])]
    return header, _enrolment_rows(query, full)


def consultas(f: services.Filters, full: bool):
    start, end = services.year_bounds(f.year)
    query = (
        select(
            Consultation.id,
            Consultation.user_id,
            Consultation.area,
            Consultation.status,
            Consultation.created_at,
            Consultation.opened_at,
            Consultation.first_response_at,
            Consultation.resolved_at,
            Consultation.rating,
            *_PERSON_COLUMNS,
        )
        .join(User, User.id == Consultation.user_id)
        .where(
            and_(Consultation.created_at >= start, Consultation.created_at < end),
            *services.person_conditions(f),
        )
        .order_by(Consultation.id)
    )
    if f.service == "course":
        query = query.where(false())  # consultas are not a course
    elif f.service:
        query = query.where(Consultation.area == f.service)
    header = [
        "Id consulta",
        "Id persona",
        "Área",
        "Estado",
        "Creada",
        "Primera respuesta",
        "Resuelta",
        "Días hábiles a primera respuesta",
        "Días hábiles a resolución",
        "Calificación (1 a 5)",
        *_PERSON_HEADER,
        *(CONTACT if full else []),
    ]

    def rows():
        for cid, uid, area, status, created, opened, first, resolved, rating, *cols in _stream(
            query
        ):
            yield [
                cid,
                uid,
                AREAS.get(area, area),
                STATUSES.get(status, status),
                _when(created),
                _when(first),
                _when(resolved),
                services.business_days(opened, first) if opened and first else None,
                services.business_days(opened, resolved) if opened and resolved else None,
                rating,
                *_person(cols, full),
            ]

    return header, rows()


def encuestas(f: services.Filters, full: bool):
    header = [
        "Encuesta",
        "Id persona",
        "Servicio",
        "Año",
        "Canales digitales",
        "Vende por canal digital",
        "Vendió por canal digital (3 meses)",
        "Ventas mensuales",
        "Nota (1 a 7)",
        "En qué ayudó",
        "Respondida",
        *_PERSON_HEADER,
        *(["Comentario", *CONTACT] if full else []),
    ]

    def query(model, kind):
        q = (
            select(model, *_PERSON_COLUMNS)
            .join(User, User.id == model.user_id)
            .where(model.year == f.year, *services.person_conditions(f))
            .order_by(model.id)
        )
        if f.service and kind == "Egreso":
            q = q.where(ExitSurvey.service == f.service)
        return q

    def rows():
        for model, kind in ((ExitSurvey, "Egreso"), (AnnualSurveyAnswer, "Anual")):
            for answer, *cols in _stream(query(model, kind)):
                person = _person(cols, full)
                service = getattr(answer, "service", None)
                yield [
                    kind,
                    answer.user_id,
                    SERVICES.get(service, "") if service else "",
                    answer.year,
                    _labels(answer.channels, CHANNELS),
                    "Sí" if answer.sells_digital else "No",
                    "Sí" if answer.sold_last_3_months else "No",
                    SALES_RANGES.get(answer.sales_range, answer.sales_range),
                    answer.satisfaction,
                    _labels(answer.helped_with, HELPED_WITH),
                    _when(answer.answered_at),
                    *person[:5],
                    *([answer.comment or "", *person[5:]] if full else []),
                ]
            if f.service:
                break  # the annual survey is not about one service

    return header, rows()


def indicadores(f: services.Filters, _full: bool):
    """The dashboard's figures as a publication table: counts of 1–4 become "<5"."""
    board = services.dashboard(f)
    p = services.publish
    regions = territory.region_names()
    rows = [
        ["Beneficiarios", "Total personas", p(board.beneficiaries.persons)],
        ["Beneficiarios", "Total empresas (RUT empresa)", p(board.beneficiaries.companies)],
    ]
    for code, n in board.beneficiaries.by_service:
        rows.append(["Beneficiarios por servicio", SERVICES[code], p(n)])
    for code, n in board.beneficiaries.by_region:
        rows.append(["Beneficiarios por región", regions.get(code, code), p(n)])
    for code, n in board.beneficiaries.by_sex:
        rows.append(["Beneficiarios por sexo", SEXES.get(code, code), p(n)])
    for band, n in board.beneficiaries.by_age:
        rows.append(["Beneficiarios por tramo de edad", band, p(n)])
    for code, n in board.beneficiaries.by_education:
        rows.append(["Beneficiarios por nivel educacional", EDUCATION_LEVELS.get(code, code), p(n)])
    for code, n in board.services.by_service:
        rows.append(["Servicios entregados", SERVICES[code], p(n)])
    for code, n in board.egresos.by_service:
        rows.append(["Egresos", SERVICES[code], p(n)])
    rows.append(["Cobertura", "Sobre población objetivo", board.coverage.target_rate])
    rows.append(["Cobertura", "Sobre población potencial", board.coverage.potential_rate])
    for cell in [board.purpose.total, *board.purpose.by_region, *board.purpose.by_sex]:
        group = "Indicador de propósito · " + cell.label
        rows += [
            [group, "Denominador (beneficiarios)", p(cell.beneficiaries)],
            [group, "Respondieron", p(cell.respondents)],
            [group, "Numerador (venden por canal digital)", p(cell.numerator)],
            [group, "Tasa oficial", cell.official_rate if cell.numerator >= 5 else None],
            [
                group,
                "Tasa entre quienes respondieron",
                cell.respondent_rate if cell.numerator >= 5 else None,
            ],
            [group, "Tasa de respuesta", cell.response_rate if cell.respondents >= 5 else None],
        ]
    return ["Indicador", "Desagregación", "Valor"], iter(rows)


BUILDERS = {
    "beneficiarios": beneficiarios,
    "inscripciones": inscripciones,
    "egresos": egresos,
    "consultas": consultas,
    "encuestas": encuestas,
    "indicadores": indicadores,
}


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".").replace(".", ",") or "0"
    if isinstance(value, datetime):
        return value.strftime("%d-%m-%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d-%m-%Y")
    return str(value)


def csv_chunks(header: list, rows: Iterator) -> Iterator[str]:
    """CSV for Excel in es-CL: BOM first, `;` between fields, decimal comma."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        count += 1
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(title: str, header: list, rows: Iterator) -> bytes:
    """One sheet (write-only mode, so large exports stay light)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append(header)
    for row in rows:
        sheet.append([v if not isinstance(v, bool) else ("Sí" if v else "No") for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
