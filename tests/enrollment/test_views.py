"""Enrolling over HTTP, "Mis inscripciones", admin window pages and the CLI."""

from datetime import date

import pytest
from sqlalchemy import func, select

from sv_platform.courses import services as courses
from sv_platform.courses.models import LessonProgress
from sv_platform.enrollment import services
from sv_platform.enrollment.models import Enrollment, EnrollmentWindow
from sv_platform.extensions import db
from tests.conftest import csrf_from
from tests.courses.conftest import SLUG, content_root, course  # noqa: F401 - fixtures


@pytest.fixture
def legal_window(app):
    return services.create_window(offering_slug="asesoria-legal", capacity=1)


def test_enrol_over_http_then_waitlist(client, auth, make_user, legal_window, app):
    first, second = make_user(), make_user()
    auth.login(first)
    response = client.post("/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"})
    assert response.status_code == 302
    page = client.get("/mis-inscripciones").get_data(as_text=True)
    assert "quedaste inscrito/a" in page.lower() and "Inscrito/a" in page
    auth.logout()
    auth.login(second)
    client.post("/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"})
    page = client.get("/mis-inscripciones").get_data(as_text=True)
    assert "lista de espera (posición 1)" in page


def test_enrolling_needs_the_csrf_token(app, client, auth, make_user, legal_window):
    person = make_user()
    auth.login(person)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post("/inscripciones/asesoria-legal", data={"csrf_token": "otro"})
        assert refused.status_code == 400
        assert db.session.scalar(select(func.count(Enrollment.id))) == 0
        token = csrf_from(client.get("/mis-inscripciones").get_data(as_text=True))
        ok = client.post("/inscripciones/asesoria-legal", data={"csrf_token": token})
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalars(select(Enrollment.user_id)).all() == [person.id]


def test_enrol_unknown_offering_is_404(client, auth, user):
    auth.login(user)
    assert client.post("/inscripciones/no-existe").status_code == 404


def test_enrol_with_closed_window_shows_message(client, auth, user, app):
    services.create_window(
        offering_slug="asesoria-legal",
        capacity=5,
        opens_on=date(date.today().year + 1, 3, 1),
        closes_on=date(date.today().year + 1, 12, 31),
    )
    auth.login(user)
    response = client.post(
        "/inscripciones/asesoria-legal", data={"next": "/mis-inscripciones"}, follow_redirects=True
    )
    assert "Ventana cerrada: abre el 1 de marzo." in response.get_data(as_text=True)
    assert db.session.scalar(select(Enrollment)) is None


def test_incomplete_profile_is_sent_to_profile(client, auth, make_user, legal_window):
    auth.login(make_user(birth_date=None))
    response = client.post("/inscripciones/asesoria-legal")
    assert response.headers["Location"].endswith("/perfil")
    page = client.get("/perfil").get_data(as_text=True)
    assert "Completa tus datos en «Mi perfil» antes de inscribirte." in page
    assert db.session.scalar(select(Enrollment)) is None
    assert db.session.get(EnrollmentWindow, legal_window.id).used == 0


def test_a_next_with_control_characters_is_ignored_after_enrolling(
    client, auth, make_user, legal_window
):
    auth.login(make_user())
    response = client.post("/inscripciones/asesoria-legal", data={"next": "/\r\nX-Evil: 1"})
    assert response.status_code == 302
    assert "X-Evil" not in response.headers["Location"]
    assert response.headers["Location"].endswith("/consultas/nueva?area=legal")


def test_cancel_own_enrolment_and_not_someone_elses(client, auth, make_user, legal_window):
    owner, other = make_user(), make_user()
    enrollment = services.enroll(owner, services.get_offering("asesoria-legal"))
    auth.login(other)
    assert client.post(f"/inscripciones/{enrollment.id}/cancelar").status_code == 403
    auth.logout()
    auth.login(owner)
    assert client.post(f"/inscripciones/{enrollment.id}/cancelar").status_code == 302
    db.session.refresh(enrollment)
    assert enrollment.status == "cancelled"


def test_admin_creates_and_edits_window_with_live_counts(client, auth, admin_user, make_user):
    auth.login(admin_user)
    response = client.post(
        "/admin/servicios/asesoria-legal/ventanas/nueva",
        data={
            "name": "Legal 2026 Ñuble",
            "capacity": "2",
            "region_code": "16",
            "opens_on": "2026-01-01",
            "closes_on": f"{date.today().year + 1}-12-31",
        },
    )
    assert response.status_code == 302
    window = db.session.scalar(select(EnrollmentWindow))
    assert (window.capacity, window.region_code) == (2, "16")
    page = client.get("/admin/servicios").get_data(as_text=True)
    assert "Legal 2026 Ñuble" in page and "Ñuble" in page
    edit = client.get(f"/admin/ventanas/{window.id}").get_data(as_text=True)
    assert 'value="Legal 2026 Ñuble"' in edit
    assert "Usados: <strong>0</strong>" in edit
    person = make_user(region_code="16", comuna_code="16101", name="Persona De Ñuble")
    services.enroll(person, services.get_offering("asesoria-legal"), now=window.opens_at)
    live = client.get(f"/admin/ventanas/{window.id}").get_data(as_text=True)
    assert "Usados: <strong>1</strong>" in live
    assert "Disponibles: <strong>1</strong>" in live
    assert "Persona De Ñuble" in live


def test_admin_capacity_below_used_refused_with_message(
    client, auth, admin_user, make_user, legal_window
):
    for _ in range(1):
        services.enroll(make_user(), services.get_offering("asesoria-legal"))
    auth.login(admin_user)
    opens = legal_window.opens_at.astimezone(services.CHILE).date().isoformat()
    response = client.post(
        f"/admin/ventanas/{legal_window.id}",
        data={
            "name": legal_window.name,
            "capacity": "0",
            "region_code": "",
            "opens_on": opens,
            "closes_on": f"{date.today().year + 2}-12-31",
        },
    )
    assert "No puedes dejar 0 cupos: ya hay 1 ocupado" in response.get_data(as_text=True)
    db.session.refresh(legal_window)
    assert legal_window.capacity == 1


def test_admin_cancels_enrolment_and_it_is_audited(
    client, auth, admin_user, make_user, legal_window
):
    a, b = make_user(), make_user()
    legal = services.get_offering("asesoria-legal")
    ea = services.enroll(a, legal)
    eb = services.enroll(b, legal)
    auth.login(admin_user)
    response = client.post(
        f"/inscripciones/{ea.id}/cancelar", data={"next": f"/admin/ventanas/{legal_window.id}"}
    )
    assert response.status_code == 302
    db.session.refresh(eb)
    assert eb.status == "active"
    audit = client.get("/admin/auditoria").get_data(as_text=True)
    sentence = f"{admin_user.name} canceló la inscripción de {a.name} en «{legal_window.name}»."
    assert sentence in audit


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_admin_pages_refuse_entrepreneurs_and_advisors(client, auth, make_user, role, legal_window):
    auth.login(make_user(role))
    for url in (
        "/admin/servicios",
        "/admin/servicios/asesoria-legal/ventanas/nueva",
        f"/admin/ventanas/{legal_window.id}",
    ):
        assert client.get(url).status_code == 403


def test_cli_window_create_and_list(runner):
    result = runner.invoke(
        args=[
            "sv",
            "window",
            "create",
            "--offering",
            "asesoria-legal",
            "--capacity",
            "30",
            "--region",
            "08",
            "--opens",
            f"{date.today().year + 1}-03-01",
            "--closes",
            f"{date.today().year + 1}-06-30",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "cupos=30" in result.output and "región=08" in result.output
    listing = runner.invoke(args=["sv", "window", "list"])
    assert "asesoria-legal" in listing.output and "disponibles=30" in listing.output
    bad = runner.invoke(
        args=["sv", "window", "create", "--offering", "no-existe", "--capacity", "3"]
    )
    assert bad.exit_code != 0 and "Ese servicio no existe." in bad.output
    bad_date = runner.invoke(
        args=[
            "sv",
            "window",
            "create",
            "--offering",
            "asesoria-legal",
            "--capacity",
            "3",
            "--opens",
            "01-03-2026",
        ]
    )
    assert bad_date.exit_code != 0 and "AAAA-MM-DD" in bad_date.output


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def test_cancelling_asks_first_and_says_the_cupo_goes_to_the_waitlist(
    client, auth, make_user, legal_window
):
    legal = services.get_offering("asesoria-legal")
    owner, waiting = make_user(), make_user()
    seat = services.enroll(owner, legal)
    queued = services.enroll(waiting, legal)
    assert queued.status == "waitlisted"
    auth.login(owner)
    mine = client.get("/mis-inscripciones").get_data(as_text=True)
    assert f'href="/inscripciones/{seat.id}/cancelar"' in mine
    assert f'<form method="post" action="/inscripciones/{seat.id}/cancelar"' not in mine
    page = client.get(f"/inscripciones/{seat.id}/cancelar")
    assert page.status_code == 200
    text = _text(page)
    assert "¿Cancelar tu inscripción en «Asesoría Legal Virtual»?" in text
    assert "Tu cupo pasará de inmediato a la persona que está en la lista de espera" in text
    assert "consulta sin terminar en esta asesoría, se cerrará" in text
    assert f'action="/inscripciones/{seat.id}/cancelar"' in page.get_data(as_text=True)
    assert "No, mantener mi inscripción" in text
    # Looking at the page changed nothing.
    db.session.refresh(seat)
    db.session.refresh(queued)
    assert (seat.status, queued.status) == ("active", "waitlisted")
    done = client.post(f"/inscripciones/{seat.id}/cancelar", follow_redirects=True)
    assert "Cancelaste la inscripción en «Asesoría Legal Virtual»." in _text(done)
    db.session.refresh(seat)
    db.session.refresh(queued)
    assert (seat.status, queued.status) == ("cancelled", "active")


def test_cancel_page_of_a_free_seat_and_of_a_waitlist_place(client, auth, make_user, legal_window):
    legal = services.get_offering("asesoria-legal")
    owner, second, third = make_user(), make_user(), make_user()
    seat = services.enroll(owner, legal)
    auth.login(owner)
    alone = _text(client.get(f"/inscripciones/{seat.id}/cancelar"))
    assert "Tu cupo quedará libre para otra persona." in alone
    auth.logout()
    ahead = services.enroll(second, legal)
    last = services.enroll(third, legal)
    auth.login(second)
    text = _text(client.get(f"/inscripciones/{ahead.id}/cancelar"))
    assert (
        "Dejarás tu lugar 1 en la lista de espera y avanzará la persona que está después de ti."
        in text
    )
    auth.logout()
    auth.login(third)
    text = _text(client.get(f"/inscripciones/{last.id}/cancelar"))
    assert "Dejarás tu lugar 2 en la lista de espera." in text
    assert "Tu cupo" not in text


def test_nobody_else_sees_or_confirms_my_cancellation(client, auth, make_user, legal_window):
    owner, other = make_user(), make_user()
    seat = services.enroll(owner, services.get_offering("asesoria-legal"))
    auth.login(other)
    refused = client.get(f"/inscripciones/{seat.id}/cancelar")
    assert refused.status_code == 403
    assert "Esa inscripción no es tuya." in _text(refused)
    assert client.post(f"/inscripciones/{seat.id}/cancelar").status_code == 403
    assert client.get("/inscripciones/999999/cancelar").status_code == 404
    db.session.refresh(seat)
    assert seat.status == "active"


def test_an_ended_enrolment_has_no_cancel_page(client, auth, make_user, legal_window):
    owner = make_user()
    seat = services.enroll(owner, services.get_offering("asesoria-legal"))
    services.cancel(seat.id, actor=owner)
    auth.login(owner)
    response = client.get(f"/inscripciones/{seat.id}/cancelar", follow_redirects=True)
    assert "Esta inscripción ya no está vigente." in _text(response)
    assert "¿Cancelar tu inscripción" not in _text(response)


def test_cancelling_needs_the_csrf_token(app, client, auth, make_user, legal_window):
    owner = make_user()
    seat = services.enroll(owner, services.get_offering("asesoria-legal"))
    auth.login(owner)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/inscripciones/{seat.id}/cancelar").status_code == 400
        db.session.refresh(seat)
        assert seat.status == "active"
        token = csrf_from(client.get(f"/inscripciones/{seat.id}/cancelar").get_data(as_text=True))
        ok = client.post(f"/inscripciones/{seat.id}/cancelar", data={"csrf_token": token})
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.refresh(seat)
    assert seat.status == "cancelled"


@pytest.mark.usefixtures("course")
def test_cancelling_a_course_keeps_its_progress_as_the_page_says(client, auth, make_user):
    services.create_window(offering_slug=SLUG, capacity=5)
    student = make_user()
    seat = services.enroll(student, services.get_offering(SLUG))
    courses.complete_lesson(student, SLUG, "bienvenida")
    auth.login(student)
    text = _text(client.get(f"/inscripciones/{seat.id}/cancelar"))
    assert "Tu avance en el curso (lecciones completadas y evaluaciones) se conserva" in text
    client.post(f"/inscripciones/{seat.id}/cancelar")
    db.session.refresh(seat)
    assert seat.status == "cancelled"
    client.post(f"/inscripciones/{SLUG}")
    lesson = client.get(f"/cursos/{SLUG}/tu-cliente")
    assert lesson.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 1
    assert "33 %" in _text(client.get("/mis-cursos"))
