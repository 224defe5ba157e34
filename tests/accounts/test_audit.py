"""The audit log in Spanish: a sentence per action code, field-by-field changes, filters,
pages and the rule that every action code written somewhere has a sentence."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sv_platform.accounts import audit, people
from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import AuditEntry
from sv_platform.advisory import lifecycle, sla
from sv_platform.enrollment import roster
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from sv_platform.faq import services as faq

NOW = datetime(2025, 9, 17, 13, 0, tzinfo=UTC)


@pytest.fixture
def ana(make_user):
    return make_user("admin", name="Ana Administradora")


def _last(action=None) -> audit.AuditLine:
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        query = query.where(AuditEntry.action == action)
    return audit.render_entries([db.session.scalars(query).first()])[0]


def _window(ana, capacity=100, name="Asesoría Legal · Biobío verano", region_code="13"):
    return enrollment.create_window(
        offering_slug="asesoria-legal",
        capacity=capacity,
        region_code=region_code,
        opens_on=date(2025, 1, 1),
        closes_on=date(2035, 3, 31),
        name=name,
        actor=ana,
    )


def test_create_window(ana):
    _window(ana, region_code="08")
    line = _last("create_window")
    assert line.sentence == "Ana Administradora creó la ventana «Asesoría Legal · Biobío verano»."
    assert audit.Change("Los cupos", "sin valor", "100") in line.changes
    assert audit.Change("La región", "sin valor", "Biobío") in line.changes


def test_update_window_one_field_reads_as_the_issue_asks(ana):
    window = _window(ana, region_code="08")
    enrollment.update_window(
        window.id,
        name=window.name,
        capacity=1,
        region_code="08",
        opens_on=date(2025, 1, 1),
        closes_on=date(2035, 3, 31),
        actor=ana,
    )
    line = _last("update_window")
    assert line.sentence == (
        "Ana Administradora cambió los cupos de «Asesoría Legal · Biobío verano» de 100 a 1."
    )
    assert line.changes == [audit.Change("Los cupos", "100", "1")]


def test_update_window_several_fields_and_local_dates(ana):
    window = _window(ana, region_code="08")
    enrollment.update_window(
        window.id,
        name="Legal Ñuble",
        capacity=100,
        region_code="16",
        opens_on=date(2025, 1, 1),
        closes_on=date(2035, 6, 30),
        actor=ana,
    )
    line = _last("update_window")
    assert line.sentence == (
        "Ana Administradora cambió el nombre, la región y el cierre de «Legal Ñuble»."
    )
    assert audit.Change("La región", "Biobío", "Ñuble") in line.changes
    closing = next(c for c in line.changes if c.label == "El cierre")
    assert closing.after == "30 de junio de 2035, 23:59"  # Chilean time, not UTC


def test_cancel_enrollment(ana, make_user):
    window = _window(ana)
    person = make_user(name="Carolina Pérez")
    seat = enrollment.enroll(person, enrollment.get_offering("asesoria-legal"))
    enrollment.cancel(seat.id, actor=ana)
    line = _last("cancel_enrollment")
    assert line.sentence == (
        f"Ana Administradora canceló la inscripción de Carolina Pérez en «{window.name}»."
    )
    assert line.changes == [audit.Change("El estado", "inscrita", "cancelada")]
    assert line.entry.subject_id == person.id


def _waitlisted(ana, make_user, name):
    _window(ana, capacity=1)
    legal = enrollment.get_offering("asesoria-legal")
    enrollment.enroll(make_user(), legal)
    return enrollment.enroll(make_user(name=name), legal)


def test_promote_waitlisted(ana, make_user):
    waiting = _waitlisted(ana, make_user, "Íñigo Peña")
    enrollment.promote_waitlisted(waiting.id, actor=ana, reason="Prioridad regional")
    assert _last("promote_waitlisted").sentence == (
        "Ana Administradora dio un cupo a Íñigo Peña en «Asesoría Legal · Biobío verano», "
        "desde la lista de espera (la ventana pasó de 1 cupo a 2). Motivo: Prioridad regional."
    )


def test_remove_waitlisted(ana, make_user):
    waiting = _waitlisted(ana, make_user, "Íñigo Peña")
    enrollment.remove_waitlisted(waiting.id, actor=ana, reason="Duplicada")
    line = _last("remove_waitlisted")
    assert line.sentence == (
        "Ana Administradora quitó de la lista de espera a Íñigo Peña en "
        "«Asesoría Legal · Biobío verano». Motivo: Duplicada."
    )
    assert audit.Change("El lugar en la lista de espera", "1", "sin valor") in line.changes


@pytest.mark.parametrize("fmt, name", [("csv", "CSV"), ("xlsx", "Excel (XLSX)")])
def test_export_enrollments(ana, make_user, fmt, name):
    window = _window(ana)
    enrollment.enroll(make_user(), enrollment.get_offering("asesoria-legal"))
    roster.export_roster(window.id, roster.RosterFilters(), fmt, actor=ana)
    assert _last("export_enrollments").sentence == (
        f"Ana Administradora descargó en {name} las inscripciones de "
        "«Asesoría Legal · Biobío verano» (1 fila)."
    )


def test_assign_and_reassign_consultation(ana, make_user, make_window):
    make_window(area="legal")
    luis = make_user("advisor", specialty="legal", name="Luis Asesor")
    sofia = make_user("advisor", specialty="legal", name="Sofía Asesora")
    consultation = lifecycle.open_consultation(
        make_user(),
        area="legal",
        subject="¿Cómo registro mi marca?",
        description="Tengo una pyme de alimentos y quiero proteger el nombre.",
        files=(),
        now=NOW,
    )
    lifecycle.assign(consultation.id, luis.id, actor=ana, now=NOW)
    assert _last("assign_consultation").sentence == (
        f"Ana Administradora asignó la consulta n.º {consultation.id} "
        "«¿Cómo registro mi marca?» a Luis Asesor."
    )
    lifecycle.assign(consultation.id, sofia.id, actor=ana, now=NOW)
    line = _last("assign_consultation")
    assert line.sentence == (
        f"Ana Administradora reasignó la consulta n.º {consultation.id} "
        "«¿Cómo registro mi marca?» de Luis Asesor a Sofía Asesora."
    )
    assert line.changes == [audit.Change("El asesor/a", "Luis Asesor", "Sofía Asesora")]


def test_set_service_level(ana):
    sla.set_service_level("legal", 3, 10, actor=ana)
    assert _last("set_service_level").sentence == (
        "Ana Administradora cambió el plazo de primera respuesta del área Legal "
        "de 2 días hábiles a 3 días hábiles."
    )


@pytest.mark.parametrize("role, kind", [("advisor", "asesor/a"), ("admin", "administrador/a")])
def test_create_staff(ana, role, kind):
    accounts.create_staff(
        role=role,
        rut="9.876.543-3",
        email="nueva@ejemplo.cl",
        name="Marta Nueva",
        password="clave-inicial-larga",
        specialty="legal" if role == "advisor" else None,
        actor=ana,
    )
    line = _last(f"create_{role}")
    assert line.sentence == (
        f"Ana Administradora creó la cuenta de {kind} de Marta Nueva (9.876.543-3)."
    )
    assert audit.Change("El RUT", "sin valor", "9.876.543-3") in line.changes


def test_set_active(ana, make_user):
    person = make_user(name="Pedro Soto", rut="16666666-K")
    accounts.set_active(person.id, False, actor=ana, reason="Pidió cerrar su cuenta")
    line = _last("set_active")
    assert line.sentence == (
        "Ana Administradora desactivó la cuenta de Pedro Soto (16.666.666-K). "
        "Motivo: Pidió cerrar su cuenta."
    )
    assert line.changes == [audit.Change("El estado de la cuenta", "activa", "desactivada")]
    accounts.set_active(person.id, True, actor=ana)
    assert _last("set_active").sentence == (
        "Ana Administradora activó la cuenta de Pedro Soto (16.666.666-K)."
    )


def test_view_person(ana, make_user):
    person = make_user(name="Pedro Soto", rut="16666666-K")
    people.person_file(person.id, actor=ana)
    assert _last("view_person").sentence == (
        "Ana Administradora vio los datos de Pedro Soto (16.666.666-K)."
    )


def test_faq_create_update_publish_delete(ana):
    entry = faq.create_entry(
        question="¿Cómo formalizo mi negocio?",
        answer="Inicia actividades en el SII.",
        area="legal",
        tags=["formalización"],
        actor=ana,
    )
    assert _last("faq.create").sentence == (
        "Ana Administradora creó la pregunta frecuente «¿Cómo formalizo mi negocio?»."
    )
    faq.update_entry(entry.id, answer="Inicia actividades en el SII (sii.cl).", actor=ana)
    line = _last("faq.update")
    assert line.sentence == (
        "Ana Administradora cambió la respuesta de «¿Cómo formalizo mi negocio?» de "
        "Inicia actividades en el SII. a Inicia actividades en el SII (sii.cl)."
    )
    faq.set_published(entry.id, True, actor=ana)
    assert _last("faq.update").sentence == (
        "Ana Administradora publicó «¿Cómo formalizo mi negocio?»."
    )
    faq.delete_entry(entry.id, actor=ana)
    assert _last("faq.delete").sentence == (
        "Ana Administradora eliminó la pregunta frecuente «¿Cómo formalizo mi negocio?»."
    )


@pytest.mark.parametrize(
    "action, sentence",
    [
        (
            "send_reset_link",
            "Ana Administradora envió a Pedro Soto (16.666.666-K) un enlace para crear una "
            "nueva contraseña.",
        ),
        (
            "send_email_confirmation",
            "Ana Administradora reenvió a Pedro Soto (16.666.666-K) el correo para confirmar "
            "su dirección.",
        ),
    ],
)
def test_mail_actions_have_their_sentence(ana, make_user, action, sentence):
    person = make_user(name="Pedro Soto", rut="16666666-K")
    accounts.record_audit(ana, action, "user", person.id, None, None)
    assert _last(action).sentence == sentence


def test_entries_without_an_actor_or_with_an_unknown_code_still_read(make_user):
    accounts.record_audit(None, "something_new", "enrollment_window", 999, None, None)
    assert _last().sentence == "El sistema hizo «something_new» en la ventana n.º 999."


def test_every_action_code_written_in_the_code_has_a_sentence():
    root = Path(__file__).resolve().parents[2] / "sv_platform"
    source = "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    written = set(re.findall(r'record_audit\(\s*\w+,\s*"([a-z_.]+)"', source))
    written |= set(re.findall(r'_audit\(actor, "([a-z_.]+)"', source))
    written |= {f"create_{role}" for role in ("admin", "advisor")}  # create_{role}
    assert written - {"create_"}, "no action codes found"
    assert (written - {"create_"}) <= set(audit.ACTIONS), written - set(audit.ACTIONS)


def test_log_page_filters_and_pages(client, auth, ana, make_user):
    other = make_user("admin", name="Bruno Admin")
    person = make_user(name="Pedro Soto")
    for _ in range(3):
        people.person_file(person.id, actor=ana)
    accounts.set_active(person.id, False, actor=other)
    old = accounts.record_audit(ana, "view_person", "user", person.id, None, None)
    old.created_at = datetime(2024, 5, 2, 15, 0, tzinfo=UTC)
    db.session.commit()
    auth.login(ana)
    html = client.get("/admin/auditoria", query_string={"quien": other.id}).get_data(as_text=True)
    assert "Bruno Admin desactivó la cuenta de Pedro Soto" in html
    assert "Ana Administradora vio" not in html
    html = client.get("/admin/auditoria", query_string={"accion": "view_person"}).get_data(
        as_text=True
    )
    assert html.count("Ana Administradora vio los datos de Pedro Soto") == 4
    html = client.get(
        "/admin/auditoria", query_string={"desde": "2024-05-01", "hasta": "2024-05-31"}
    ).get_data(as_text=True)
    assert html.count("Ana Administradora vio los datos") == 1
    assert "2 de mayo de 2024, 11:00" in html
    html = client.get(
        "/admin/auditoria", query_string={"objeto": "user", "id": str(person.id)}
    ).get_data(as_text=True)
    assert html.count("Pedro Soto") >= 5
    page = audit.audit_page(audit.audit_filters({"persona": str(person.id)}), size=2)
    accounts.record_audit(ana, "view_person", "user", person.id, None, None)
    rest = audit.audit_page(audit.audit_filters({"persona": str(person.id)}), cursor=page.after)
    ids = [line.entry.id for line in page.items + rest.items]
    assert len(ids) == len(set(ids)) == 5
    bad = client.get("/admin/auditoria", query_string={"accion": "drop_table"})
    assert bad.status_code == 422
    assert "Elige una acción de la lista." in bad.get_data(as_text=True)


def test_report_sentences(ana):
    accounts.record_audit(
        ana, "open_annual_survey", "annual_survey", 1, None, {"year": 2026, "invited": 1}
    )
    assert _last("open_annual_survey").sentence == (
        "Ana Administradora abrió la Encuesta anual 2026 e invitó a 1 persona."
    )
    accounts.record_audit(
        ana,
        "report_export",
        "report",
        "egresos",
        None,
        {"formato": "xlsx", "completo": True, "año": 2026, "servicio": None},
    )
    assert _last("report_export").sentence == (
        "Ana Administradora descargó en Excel (XLSX) el informe completo de egresos del año 2026."
    )


def test_admin_lands_on_the_reports_dashboard(client, ana):
    response = client.post(
        "/ingresar", data={"identifier": ana.email, "password": "clave-de-prueba-segura"}
    )
    assert response.headers["Location"].endswith("/admin/reportes")
