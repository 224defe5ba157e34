"""The audit log read in Spanish: one sentence per entry, field-by-field changes, filters."""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from sv_platform.accounts import territory
from sv_platform.accounts.models import AuditEntry, User
from sv_platform.accounts.people import parse_day
from sv_platform.accounts.signals import audit_labels
from sv_platform.core.domain import InvalidInput
from sv_platform.core.formatting import datetime_cl
from sv_platform.core.paging import Page, keyset_page
from sv_platform.core.rut import format_rut
from sv_platform.core.timeutil import chile_day_end, chile_day_start
from sv_platform.extensions import db

# --- how values read --------------------------------------------------------------------

ENROLLMENT_STATUSES = {
    "active": "inscrita",
    "waitlisted": "en lista de espera",
    "cancelled": "cancelada",
    "graduated": "egresada",
}
AREA_NAMES = {"legal": "legal", "sustainability": "sustentabilidad"}
SPECIALTY_NAMES = {"legal": "legal", "sustainability": "sustentabilidad"}
EXPORT_FORMATS = {"csv": "CSV", "xlsx": "Excel (XLSX)"}


def _plural(n, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _days(value) -> str:
    return _plural(value, "día hábil", "días hábiles") if isinstance(value, int) else _plain(value)


def _region(value) -> str:
    if not value:
        return "nacional"
    return territory.region_names().get(value, str(value))


def _moment(value) -> str:
    try:
        return datetime_cl(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return _plain(value)


def _yes_no(yes: str, no: str):
    return lambda value: yes if value else no


def _choice(names: dict):
    return lambda value: names.get(value, _plain(value))


def _short(value) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= 80 else text[:79] + "…"


def _plain(value) -> str:
    if value is None or value == "":
        return "sin valor"
    if isinstance(value, bool):
        return "sí" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "ninguna"
    return str(value)


# field code → (how the sentence names it, how its value reads)
FIELDS = {
    "name": ("el nombre", _plain),
    "capacity": ("los cupos", _plain),
    "region_code": ("la región", _region),
    "opens_at": ("la apertura", _moment),
    "closes_at": ("el cierre", _moment),
    "active": ("el estado de la cuenta", _yes_no("activa", "desactivada")),
    "status": ("el estado", _choice(ENROLLMENT_STATUSES)),
    "advisor_id": ("el asesor/a", _plain),  # ids become names in _render
    "first_response_days": ("el plazo de primera respuesta", _days),
    "resolution_days": ("el plazo de resolución", _days),
    "question": ("la pregunta", _short),
    "answer": ("la respuesta", _short),
    "area": ("el área", _choice(AREA_NAMES)),
    "tags": ("las etiquetas", _plain),
    "published": ("la publicación", _yes_no("publicada", "borrador")),
    "slug": ("la dirección", _plain),
    "source_consultation_id": ("la consulta de origen", _plain),
    "rut": ("el RUT", format_rut),
    "email": ("el correo", _plain),
    "specialty": ("la especialidad", _choice(SPECIALTY_NAMES)),
    "format": ("el formato", _choice(EXPORT_FORMATS)),
    "rows": ("las filas", _plain),
    "position": ("el lugar en la lista de espera", _plain),
}

# target type → what it is called when nothing better is known
TARGET_TYPES = {
    "user": "la cuenta",
    "enrollment_window": "la ventana",
    "enrollment": "la inscripción",
    "consultation": "la consulta",
    "service_level": "los plazos del área",
    "faq_entry": "la pregunta frecuente",
    "annual_survey": "la encuesta anual",
    "report": "el informe",
    "outbox_mail": "el correo",
}


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class AuditLine:
    """One entry as the log shows it."""

    entry: AuditEntry
    sentence: str
    changes: list[Change] = field(default_factory=list)


@dataclass
class _Context:
    entry: AuditEntry
    actor: str
    target: str
    values: dict  # field → (before, after) readable
    raw_before: dict
    raw_after: dict

    @property
    def note(self) -> str:
        return self.entry.note or ""


def _changed(ctx: _Context) -> list[str]:
    return [name for name, (b, a) in ctx.values.items() if b != a and name in FIELDS]


def _updated(ctx: _Context) -> str:
    """ "Ana cambió los cupos de «X» de 100 a 1" (one field) or lists the fields."""
    names = _changed(ctx)
    if not names:
        return f"{ctx.actor} guardó {ctx.target} sin cambios"
    if len(names) == 1:
        before, after = ctx.values[names[0]]
        return f"{ctx.actor} cambió {FIELDS[names[0]][0]} de {ctx.target} de {before} a {after}"
    labels = [FIELDS[n][0] for n in names]
    listed = ", ".join(labels[:-1]) + " y " + labels[-1]
    return f"{ctx.actor} cambió {listed} de {ctx.target}"


def _faq_updated(ctx: _Context) -> str:
    if _changed(ctx) == ["published"]:
        verb = "publicó" if ctx.raw_after.get("published") else "despublicó"
        return f"{ctx.actor} {verb} {ctx.target}"
    return _updated(ctx)


def _set_active(ctx: _Context) -> str:
    verb = "activó" if ctx.raw_after.get("active") else "desactivó"
    sentence = f"{ctx.actor} {verb} la cuenta de {ctx.target}"
    return sentence + (f". Motivo: {ctx.note}" if ctx.note else "")


def _assigned(ctx: _Context) -> str:
    before, after = ctx.values.get("advisor_id", ("sin valor", "sin valor"))
    if ctx.raw_before.get("advisor_id"):
        return f"{ctx.actor} reasignó {ctx.target} de {before} a {after}"
    return f"{ctx.actor} asignó {ctx.target} a {after}"


def _promoted(ctx: _Context) -> str:
    sentence = f"{ctx.actor} dio un cupo a {ctx.target}, desde la lista de espera"
    before, after = ctx.raw_before.get("capacity"), ctx.raw_after.get("capacity")
    if isinstance(before, int) and isinstance(after, int) and after != before:
        sentence += f" (la ventana pasó de {_plural(before, 'cupo', 'cupos')} a {after})"
    return sentence + (f". Motivo: {ctx.note}" if ctx.note else "")


def _exported(ctx: _Context) -> str:
    fmt = EXPORT_FORMATS.get(ctx.raw_after.get("format"), "un archivo")
    rows = ctx.raw_after.get("rows")
    count = f" ({_plural(rows, 'fila', 'filas')})" if isinstance(rows, int) else ""
    return f"{ctx.actor} descargó en {fmt} las inscripciones de {ctx.target}{count}"


def _annual_survey(ctx: _Context) -> str:
    year, invited = ctx.raw_after.get("year"), ctx.raw_after.get("invited")
    sentence = f"{ctx.actor} abrió la Encuesta anual {year}"
    if isinstance(invited, int):
        sentence += f" e invitó a {_plural(invited, 'persona', 'personas')}"
    return sentence


REPORT_NAMES = {
    "beneficiarios": "de beneficiarios",
    "inscripciones": "de inscripciones",
    "egresos": "de egresos",
    "consultas": "de consultas",
    "encuestas": "de respuestas de encuestas",
    "indicadores": "de indicadores (para publicar)",
}


def _report_export(ctx: _Context) -> str:
    after = ctx.raw_after
    fmt = EXPORT_FORMATS.get(after.get("formato"), "un archivo")
    name = REPORT_NAMES.get(ctx.entry.target_id or "", f"«{ctx.entry.target_id}»")
    scope = "completo " if after.get("completo") else ""
    year = f" del año {after['año']}" if after.get("año") else ""
    return f"{ctx.actor} descargó en {fmt} el informe {scope}{name}{year}"


def _template(text: str):
    def render(ctx: _Context) -> str:
        sentence = text.format(actor=ctx.actor, target=ctx.target, note=ctx.note)
        if "{note}" not in text and ctx.note:
            sentence += f". Nota: {ctx.note}"
        return sentence

    return render


# action code → (what the filter calls it, how the sentence is written)
ACTIONS = {
    "create_window": ("Creó una ventana", _template("{actor} creó la ventana {target}")),
    "update_window": ("Cambió una ventana", _updated),
    "cancel_enrollment": (
        "Canceló una inscripción",
        _template("{actor} canceló la inscripción de {target}"),
    ),
    "promote_waitlisted": ("Dio un cupo desde la lista de espera", _promoted),
    "remove_waitlisted": (
        "Quitó a alguien de la lista de espera",
        _template("{actor} quitó de la lista de espera a {target}. Motivo: {note}"),
    ),
    "export_enrollments": ("Descargó inscripciones", _exported),
    "assign_consultation": ("Asignó una consulta", _assigned),
    "set_service_level": ("Cambió plazos de atención", _updated),
    "create_advisor": (
        "Creó una cuenta de asesor/a",
        _template("{actor} creó la cuenta de asesor/a de {target}"),
    ),
    "create_admin": (
        "Creó una cuenta de administración",
        _template("{actor} creó la cuenta de administrador/a de {target}"),
    ),
    "set_active": ("Activó o desactivó una cuenta", _set_active),
    "view_person": ("Vio los datos de una persona", _template("{actor} vio los datos de {target}")),
    "send_reset_link": (
        "Envió un enlace para cambiar la contraseña",
        _template("{actor} envió a {target} un enlace para crear una nueva contraseña"),
    ),
    "send_email_confirmation": (
        "Reenvió la confirmación de correo",
        _template("{actor} reenvió a {target} el correo para confirmar su dirección"),
    ),
    "retry_mail": (
        "Reintentó un correo fallido",
        _template("{actor} volvió a poner en la cola de envío {target}"),
    ),
    "open_annual_survey": ("Abrió la Encuesta anual", _annual_survey),
    "report_export": ("Descargó un informe", _report_export),
    "faq.create": (
        "Creó una pregunta frecuente",
        _template("{actor} creó la pregunta frecuente {target}"),
    ),
    "faq.update": ("Cambió una pregunta frecuente", _faq_updated),
    "faq.delete": (
        "Eliminó una pregunta frecuente",
        _template("{actor} eliminó la pregunta frecuente {target}"),
    ),
}


def action_choices() -> dict[str, str]:
    """action code → its Spanish name, for the log's "qué" filter."""
    return {code: label for code, (label, _render) in ACTIONS.items()}


def _quoted(text: str | None) -> str | None:
    text = " ".join(str(text or "").split())
    return f"«{text[:80]}»" if text else None


def person_label(user: User) -> str:
    """ "Carolina Pérez (15.555.555-6)", or just the name when there is no RUT."""
    if user.rut:
        return f"{user.name} ({format_rut(user.rut)})"
    return user.name


def _user_names(ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def _labels(entries: list[AuditEntry], users: dict[int, User]) -> dict[tuple[str, str], str]:
    """(target type, id) → a Spanish noun phrase, asked of the domain owning the type."""
    wanted: dict[str, set[str]] = {}
    for e in entries:
        if e.target_id is not None and e.target_type != "user":
            wanted.setdefault(e.target_type, set()).add(e.target_id)
    labels = {}
    for target_type, ids in wanted.items():
        for _receiver, found in audit_labels.send(target_type, ids=sorted(ids)):
            for key, label in (found or {}).items():
                labels[(target_type, str(key))] = label
    for e in entries:
        if e.target_type == "user" and e.target_id and e.target_id.isdigit():
            user = users.get(int(e.target_id))
            if user is not None:
                labels[("user", e.target_id)] = person_label(user)
    return labels


def _target(entry: AuditEntry, labels: dict) -> str:
    label = labels.get((entry.target_type, entry.target_id))
    if label:
        return label
    snapshot = entry.after or entry.before or {}
    quoted = _quoted(snapshot.get("name") or snapshot.get("question"))
    if quoted:
        return quoted
    kind = TARGET_TYPES.get(entry.target_type, entry.target_type)
    return f"{kind} n.º {entry.target_id}" if entry.target_id else kind


def _read(name: str, value, users: dict[int, User]) -> str:
    if name == "advisor_id":
        user = users.get(value) if isinstance(value, int) else None
        return user.name if user else "sin asignar"
    return FIELDS.get(name, (name, _plain))[1](value)


def _render(entry: AuditEntry, labels: dict, users: dict[int, User]) -> AuditLine:
    before, after = dict(entry.before or {}), dict(entry.after or {})
    absent = "sin valor"  # the side of a creation or deletion that has no snapshot
    values = {
        name: (
            _read(name, before.get(name), users) if name in before else absent,
            _read(name, after.get(name), users) if name in after else absent,
        )
        for name in list(dict.fromkeys([*before, *after]))
        if name in FIELDS
    }
    actor = users.get(entry.actor_id)
    ctx = _Context(
        entry=entry,
        actor=actor.name if actor else "El sistema",
        target=_target(entry, labels),
        values=values,
        raw_before=before,
        raw_after=after,
    )
    _label, render = ACTIONS.get(
        entry.action, (None, _template(f"{{actor}} hizo «{entry.action}» en {{target}}"))
    )
    sentence = render(ctx).replace(" de el ", " del ").replace(" a el ", " al ")
    changes = [
        Change(FIELDS[name][0][0].upper() + FIELDS[name][0][1:], b, a)
        for name, (b, a) in values.items()
        if (entry.before is not None and entry.after is not None and b != a)
        or (entry.before is None or entry.after is None)
    ]
    if not sentence.endswith("."):
        sentence += "."
    return AuditLine(entry=entry, sentence=sentence, changes=changes)


def render_entries(entries: list[AuditEntry]) -> list[AuditLine]:
    """Each entry as a Spanish sentence with its changes (names looked up once per page)."""
    ids = {e.actor_id for e in entries if e.actor_id}
    ids |= {int(e.target_id) for e in entries if e.target_type == "user" and e.target_id}
    for e in entries:
        for snapshot in (e.before or {}, e.after or {}):
            if isinstance(snapshot.get("advisor_id"), int):
                ids.add(snapshot["advisor_id"])
    users = _user_names(ids)
    labels = _labels(entries, users)
    return [_render(e, labels, users) for e in entries]


# --- the log page -----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    actor_id: int | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    subject_id: int | None = None
    since: date | None = None
    until: date | None = None


def _int(value, field_name: str) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput("Ese número no es válido.", field=field_name)
    return int(value)


def audit_filters(args) -> AuditFilters:
    """Read and check the log's filters (quién, qué, objeto, período). Raises InvalidInput."""
    action = (args.get("accion") or "").strip() or None
    if action and action not in ACTIONS:
        raise InvalidInput("Elige una acción de la lista.", field="accion")
    target_type = (args.get("objeto") or "").strip() or None
    if target_type and target_type not in TARGET_TYPES:
        raise InvalidInput("Elige un tipo de objeto de la lista.", field="objeto")
    target_id = (args.get("id") or "").strip() or None
    if target_id and (len(target_id) > 40 or not target_id.replace("_", "").isalnum()):
        raise InvalidInput("Ese identificador no es válido.", field="id")
    since, until = parse_day(args.get("desde"), "desde"), parse_day(args.get("hasta"), "hasta")
    if since and until and until < since:
        raise InvalidInput("La fecha «hasta» no puede ser anterior a «desde».", field="hasta")
    return AuditFilters(
        actor_id=_int(args.get("quien"), "quien"),
        action=action,
        target_type=target_type,
        target_id=target_id,
        subject_id=_int(args.get("persona"), "persona"),
        since=since,
        until=until,
    )


def audit_page(filters: AuditFilters, *, cursor: int | None = None, size: int = 50) -> Page:
    """Entries matching every filter, newest first, one keyset page of AuditLines."""
    query = select(AuditEntry)
    if filters.actor_id:
        query = query.where(AuditEntry.actor_id == filters.actor_id)
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.target_type:
        query = query.where(AuditEntry.target_type == filters.target_type)
        if filters.target_id:
            query = query.where(AuditEntry.target_id == filters.target_id)
    if filters.subject_id:
        query = query.where(AuditEntry.subject_id == filters.subject_id)
    if filters.since:
        query = query.where(AuditEntry.created_at >= chile_day_start(filters.since))
    if filters.until:
        query = query.where(AuditEntry.created_at <= chile_day_end(filters.until))
    page = keyset_page(db.session, query, AuditEntry.id, cursor=cursor, size=size)
    return Page(items=render_entries(page.items), after=page.after, cursor=page.cursor)


def auditors() -> list[User]:
    """Who can appear as the author of an entry (admins), for the "quién" filter."""
    return list(db.session.scalars(select(User).where(User.role == "admin").order_by(User.name)))
