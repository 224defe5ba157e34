"""A window's roster for admins: filters and pages, CSV/XLSX exports, waitlist actions."""

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from sv_platform.accounts.models import AuditEntry, Notification
from sv_platform.enrollment import roster, services
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db


@pytest.fixture
def admin(make_user):
    return make_user("admin", name="Ana Administradora")


@pytest.fixture
def full_window(make_window, make_user):
    """One cupo taken by Pía, then Íñigo and Renata waiting in that order."""
    window = make_window(capacity=1, area="legal")
    legal = services.get_offering("asesoria-legal")
    people = [
        make_user(name="Pía Muñoz Ávila", region_code="08", comuna_code="08101", rut="15555555-6"),
        make_user(name="Íñigo Peña", region_code="13", comuna_code="13101"),
        make_user(name="Renata Soto", region_code="13", comuna_code="13101"),
    ]
    enrolments = [services.enroll(p, legal) for p in people]
    return window, people, enrolments


def test_roster_filters_by_status_region_and_search(full_window):
    window, people, enrolments = full_window
    page = roster.roster_page(window.id, roster.roster_filters({}))
    assert [e.id for e in page.items] == [e.id for e in reversed(enrolments)]
    waiting = roster.roster_page(window.id, roster.roster_filters({"estado": "waitlisted"}))
    assert [e.user_id for e in waiting.items] == [people[2].id, people[1].id]
    biobio = roster.roster_page(window.id, roster.roster_filters({"region": "08"}))
    assert [e.user_id for e in biobio.items] == [people[0].id]
    by_rut = roster.roster_page(window.id, roster.roster_filters({"q": "15.555.555-6"}))
    assert [e.user_id for e in by_rut.items] == [people[0].id]
    assert [e.user_id for e in roster.waitlist(window.id)] == [people[1].id, people[2].id]


def test_window_page_shows_rut_region_and_the_waitlist_in_order(client, auth, admin, full_window):
    window, people, _ = full_window
    auth.login(admin)
    html = client.get(f"/admin/ventanas/{window.id}").get_data(as_text=True)
    assert "15.555.555-6" in html and "Biobío" in html
    waitlist = html.split('id="espera"')[1].split('id="inscritos"')[0]
    assert waitlist.index("Íñigo Peña") < waitlist.index("Renata Soto")
    assert "Pía Muñoz Ávila" not in waitlist
    bad = client.get(f"/admin/ventanas/{window.id}", query_string={"estado": "x"})
    assert "Elige un estado de la lista." in bad.get_data(as_text=True)


def test_csv_export_parses_back_with_accents_and_is_audited(client, auth, admin, full_window):
    window, people, _ = full_window
    auth.login(admin)
    response = client.get(f"/admin/ventanas/{window.id}/inscripciones.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == roster.EXPORT_HEADER
    assert rows[1][:6] == [
        "15.555.555-6",
        "Pía Muñoz Ávila",
        people[0].email,
        "Biobío",
        "Concepción",
        "Inscrito/a",
    ]
    assert [r[1] for r in rows[2:]] == ["Íñigo Peña", "Renata Soto"]
    assert [r[7] for r in rows[1:]] == ["", "1", "2"]
    html = client.get("/admin/auditoria").get_data(as_text=True)
    assert (
        f"Ana Administradora descargó en CSV las inscripciones de «{window.name}» (3 filas)."
        in html
    )


def test_xlsx_export_parses_back_and_respects_filters(client, auth, admin, full_window):
    window, _people, _ = full_window
    auth.login(admin)
    response = client.get(
        f"/admin/ventanas/{window.id}/inscripciones.xlsx", query_string={"region": "13"}
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert list(values[0]) == roster.EXPORT_HEADER
    assert [row[1] for row in values[1:]] == ["Íñigo Peña", "Renata Soto"]
    assert {row[3] for row in values[1:]} == {"Metropolitana de Santiago"}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "export_enrollments"))
    assert entry.after == {"format": "xlsx", "rows": 2}


def test_unknown_export_format_is_refused(client, auth, admin, full_window):
    window, _, _ = full_window
    auth.login(admin)
    response = client.get(f"/admin/ventanas/{window.id}/inscripciones.pdf")
    assert response.status_code == 400
    assert "Elige CSV o XLSX." in response.get_data(as_text=True)


def test_promote_a_specific_person_ahead_of_the_line(client, auth, admin, full_window):
    window, people, enrolments = full_window
    auth.login(admin)
    renata = enrolments[2]
    response = client.post(
        f"/admin/inscripciones/{renata.id}/promover", data={"reason": " "}, follow_redirects=True
    )
    assert "Escribe el motivo" in response.get_data(as_text=True)
    db.session.refresh(renata)
    assert renata.status == "waitlisted"
    response = client.post(
        f"/admin/inscripciones/{renata.id}/promover",
        data={"reason": "Prioridad regional"},
        follow_redirects=True,
    )
    assert "Renata Soto recibió un cupo." in response.get_data(as_text=True)
    db.session.refresh(window)
    db.session.refresh(renata)
    assert renata.status == "active"
    assert (window.capacity, window.used) == (2, 2)
    held = db.session.scalar(
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.window_id == window.id, Enrollment.status == "active")
    )
    assert held == window.used
    assert [e.user_id for e in roster.waitlist(window.id)] == [people[1].id]
    notice = db.session.scalar(select(Notification).where(Notification.user_id == people[2].id))
    assert "Se liberó un cupo" in notice.text
    html = client.get("/admin/auditoria").get_data(as_text=True)
    assert (
        f"Ana Administradora dio un cupo a Renata Soto en «{window.name}», desde la lista "
        "de espera (la ventana pasó de 1 cupo a 2). Motivo: Prioridad regional." in html
    )


def test_promote_uses_a_free_cupo_without_growing_the_window(admin, make_window, make_user):
    window = make_window(capacity=2, area="legal")
    legal = services.get_offering("asesoria-legal")
    first = services.enroll(make_user(), legal)
    services.cancel(first.id, actor=admin)
    db.session.add(
        Enrollment(
            user_id=make_user().id,
            window_id=window.id,
            offering_id=legal.id,
            status="waitlisted",
            open_slot=legal.id,
        )
    )
    db.session.commit()
    waiting = roster.waitlist(window.id)[0]
    services.promote_waitlisted(waiting.id, actor=admin, reason="Cupo libre")
    db.session.refresh(window)
    assert (window.capacity, window.used) == (2, 1)


def test_remove_from_waitlist_notifies_with_the_reason(client, auth, admin, full_window):
    window, people, enrolments = full_window
    auth.login(admin)
    inigo = enrolments[1]
    client.post(f"/admin/inscripciones/{inigo.id}/quitar", data={"reason": "Inscripción duplicada"})
    db.session.refresh(inigo)
    assert inigo.status == "cancelled"
    assert [e.user_id for e in roster.waitlist(window.id)] == [people[2].id]
    notice = db.session.scalar(select(Notification).where(Notification.user_id == people[1].id))
    assert "Motivo: Inscripción duplicada" in notice.text
    html = client.get(f"/admin/personas/{people[1].id}").get_data(as_text=True)
    assert (
        f"Ana Administradora quitó de la lista de espera a Íñigo Peña en «{window.name}». "
        "Motivo: Inscripción duplicada." in html
    )
    again = client.post(
        f"/admin/inscripciones/{inigo.id}/quitar",
        data={"reason": "Otra vez"},
        follow_redirects=True,
    )
    assert "Esa persona ya no está en la lista de espera." in again.get_data(as_text=True)


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_roster_urls_refuse_other_roles(client, auth, make_user, full_window, role):
    window, _, enrolments = full_window
    auth.login(make_user(role))
    for method, url in (
        ("GET", f"/admin/ventanas/{window.id}/inscripciones.csv"),
        ("GET", f"/admin/ventanas/{window.id}/inscripciones.xlsx"),
        ("POST", f"/admin/inscripciones/{enrolments[1].id}/promover"),
        ("POST", f"/admin/inscripciones/{enrolments[1].id}/quitar"),
    ):
        assert client.open(url, method=method, data={"reason": "x" * 5}).status_code == 403
    db.session.refresh(enrolments[1])
    assert enrolments[1].status == "waitlisted"
