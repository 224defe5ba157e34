"""Program indicators, each stating its definition: what the dashboard, the CLI and the
exports ask for.

Every indicator takes `Filters` (year t, service, región, sexo); the docstring's first
paragraph is the definition shown on the dashboard beside the figure. The beneficiary
figures (beneficiaries, services delivered, egresos, course starts, the purpose indicator)
are read from the beneficiaries' summary (`summary.py`) for every year it holds, and
computed from the source tables (`reference.py`, identical figures) for the others; the
remaining figures are read from the source tables (`activity.py`).
"""

from datetime import datetime

from sqlalchemy import func, select

from sv_platform.core.timeutil import CHILE, as_utc
from sv_platform.enrollment.models import STATUSES as ENROLLMENT_STATUSES
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db
from sv_platform.reports import activity, reference, summary
from sv_platform.reports.activity import business_days
from sv_platform.reports.indicators import (
    AGE_BANDS,
    PLANNED_MONTHS_TO_EGRESO,
    SEAT_STATUSES,
    SMALL_CELL,
    Beneficiaries,
    Completion,
    Consultations,
    Coverage,
    Dashboard,
    Filters,
    Purpose,
    PurposeCell,
    Satisfaction,
    ServiceCounts,
    Waitlist,
    WindowUse,
    age_band,
    person_conditions,
    publish,
    rate,
    year_bounds,
)
from sv_platform.reports.reference import seat_enrolments

__all__ = [
    "AGE_BANDS",
    "DEFINITIONS",
    "PLANNED_MONTHS_TO_EGRESO",
    "SEAT_STATUSES",
    "SMALL_CELL",
    "Beneficiaries",
    "Completion",
    "Consultations",
    "Coverage",
    "Dashboard",
    "Filters",
    "Purpose",
    "PurposeCell",
    "Satisfaction",
    "ServiceCounts",
    "Waitlist",
    "WindowUse",
    "age_band",
    "available_years",
    "beneficiaries",
    "beneficiary_ids",
    "business_days",
    "consultations",
    "course_completion",
    "coverage",
    "cupos",
    "dashboard",
    "egresos",
    "person_conditions",
    "publish",
    "purpose_indicator",
    "rate",
    "satisfaction",
    "seat_enrolments",
    "services_delivered",
    "waitlist",
    "year_bounds",
]


def _figures(f: Filters) -> summary.Figures | None:
    """The summary's beneficiary figures of year t, or None when it does not hold t."""
    return summary.figures(f) if summary.covers(f.year) else None


def beneficiary_ids(f: Filters) -> list[int]:
    """Ids of the beneficiaries of year t (who the annual survey invites)."""
    if summary.covers(f.year):
        return summary.beneficiary_ids(f)
    return reference.beneficiary_ids(f)


def beneficiaries(f: Filters) -> Beneficiaries:
    """Beneficiarios del año t: personas distintas (y empresas distintas, por RUT de
    empresa cuando se informó) con al menos una inscripción vigente o egresada en el año t
    en cualquiera de los tres servicios. Una inscripción cuenta en t si su período —desde
    que se creó hasta su egreso, o hasta hoy si sigue vigente— toca el año t. Las
    inscripciones canceladas y las listas de espera no cuentan. Por servicio, una persona
    cuenta una vez en cada servicio que usó (la suma puede superar el total)."""
    found = _figures(f)
    return found.beneficiaries if found else reference.beneficiaries(f)


def services_delivered(f: Filters) -> ServiceCounts:
    """Servicios entregados en el año t: inscripciones vigentes o egresadas cuyo período
    toca el año t, contadas una por una (una persona que usó dos veces la asesoría legal y
    una vez la de sustentabilidad cuenta 3)."""
    found = _figures(f)
    return found.services if found else reference.services_delivered(f)


def egresos(f: Filters) -> ServiceCounts:
    """Egresos del año t por tipo: curso completado al 100 % (evaluación aprobada),
    asesoría legal recibida y asesoría en sustentabilidad recibida (consulta resuelta),
    con fecha de egreso en el año t. Una persona puede egresar varias veces de las
    asesorías; `persons` cuenta personas distintas."""
    found = _figures(f)
    return found.egresos if found else reference.egresos(f)


def cupos(f: Filters) -> list[WindowUse]:
    """Cupos usados versus capacidad por ventana: las ventanas abiertas en algún momento
    del año t, con su capacidad, los cupos ocupados hoy (inscripciones vigentes o
    egresadas) y las personas en lista de espera hoy. Con región: las ventanas de esa
    región y las nacionales."""
    return activity.cupos(f)


def waitlist(f: Filters) -> Waitlist:
    """Lista de espera: personas esperando un cupo hoy, y por mes del año t las entradas a
    la lista (inscripciones creadas ese mes que siguen esperando o ya fueron promovidas) y
    las promociones (cupo liberado y asignado ese mes)."""
    return activity.waitlist(f)


def consultations(f: Filters) -> Consultations:
    """Consultas creadas en el año t por estado y área; mediana de días hábiles (lunes a
    viernes sin feriados de Chile) desde que se abrió hasta la primera respuesta y hasta la
    resolución; cumplimiento del nivel de servicio: respuestas (resoluciones) hechas a más
    tardar en su plazo, sobre las consultas que ya tienen respuesta (resolución)."""
    return activity.consultations(f)


def _completion(f: Filters, found: summary.Figures | None) -> Completion:
    if found is None:
        return reference.course_completion(f)
    if f.service and f.service != "course":
        return Completion(0, 0, None, 0)
    n, median = activity.course_duration_median(f)
    return Completion(found.courses_started, found.courses_started_graduated, median, n)


def course_completion(f: Filters) -> Completion:
    """Tasa de egreso de cursos: de las inscripciones a cursos creadas en el año t que
    obtuvieron cupo (vigentes o egresadas), la proporción que ya egresó (100 % del curso y
    evaluación aprobada). Tiempo a egreso: mediana de días entre la inscripción y el
    egreso de los cursos egresados en el año t (el programa planifica 10 meses)."""
    return _completion(f, _figures(f))


def satisfaction(f: Filters) -> Satisfaction:
    """Satisfacción: nota de 1 a 7 (escala de notas chilena) de las encuestas de egreso de
    los egresos del año t; promedio, distribución y porcentaje de notas 6 y 7."""
    return activity.satisfaction(f)


def coverage(f: Filters, persons: int | None = None) -> Coverage:
    """Cobertura: beneficiarios del año t sobre la población objetivo (302.888 empresas) y
    sobre la población potencial (677.207 empresas), y producción frente a lo planificado
    (27.867 beneficiarios al año); las tres cifras son configurables."""
    return activity.coverage(beneficiaries(f).persons if persons is None else persons)


def purpose_indicator(f: Filters) -> Purpose:
    """Indicador de propósito: porcentaje de Mipes beneficiarias que acceden a canales
    digitales o virtuales de comercialización en el año t. Numerador: beneficiarios del año
    t cuya respuesta más reciente del año t (encuesta de egreso de un egreso de t o
    Encuesta anual t) marca al menos un canal digital para vender. Denominador: todos los
    beneficiarios del año t. La tasa oficial es numerador / denominador; también se
    muestran la tasa entre quienes respondieron, la tasa de respuesta y la línea base (la
    respuesta del registro: proporción que ya vendía por un canal digital, entre quienes
    la respondieron)."""
    found = _figures(f)
    return found.purpose if found else reference.purpose_indicator(f)


def dashboard(f: Filters) -> Dashboard:
    """Every indicator for the filters (what /admin/reportes and the CLI show)."""
    found = _figures(f)
    if found is None:
        return reference.dashboard(f)
    return Dashboard(
        filters=f,
        beneficiaries=found.beneficiaries,
        services=found.services,
        egresos=found.egresos,
        cupos=activity.cupos(f),
        waitlist=activity.waitlist(f),
        consultations=activity.consultations(f),
        completion=_completion(f, found),
        satisfaction=activity.satisfaction(f),
        coverage=activity.coverage(found.beneficiaries.persons),
        purpose=found.purpose,
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
    # The earliest creation per status: one seek each on the (status, created_at) index.
    firsts = [
        db.session.scalar(select(func.min(Enrollment.created_at)).where(Enrollment.status == s))
        for s in ENROLLMENT_STATUSES
    ]
    first = min((moment for moment in firsts if moment is not None), default=None)
    start = as_utc(first).astimezone(CHILE).year if first else current
    return list(range(current, min(start, current) - 1, -1))
