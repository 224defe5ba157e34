"""Implausible input gets a Spanish message and changes nothing."""

from datetime import date

from sqlalchemy import func, select

from sv_platform.accounts.models import Company, User
from sv_platform.enrollment.models import EnrollmentWindow
from sv_platform.extensions import db
from tests.accounts.test_registration import VALID


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_phone_hola_is_refused_at_registration(client):
    response = client.post("/registro", data={**VALID, "phone": "hola"})
    assert response.status_code == 422
    assert "Ingresa un teléfono de Chile válido" in response.get_data(as_text=True)
    assert _count(User) == 0


def test_a_valid_chilean_phone_is_stored_in_one_format(client):
    assert client.post("/registro", data={**VALID, "phone": "987654321"}).status_code == 302
    assert db.session.scalar(select(User.phone)) == "+56 9 8765 4321"


def test_company_started_in_year_one_is_refused(client, auth, user):
    auth.login(user)
    response = client.post(
        "/perfil/empresa", data={"c-legal_name": "Mi Pyme", "c-started_on": "0001-01-01"}
    )
    assert response.status_code == 422
    assert "entre 1900 y hoy" in response.get_data(as_text=True)
    assert _count(Company) == 0


def test_window_lying_entirely_in_2000_or_in_year_9999_is_refused(client, auth, admin_user):
    auth.login(admin_user)
    before = _count(EnrollmentWindow)
    for opens, closes, message in [
        ("2000-01-01", "2000-12-31", "Usa una fecha entre"),
        (date.today().isoformat(), "9999-12-31", "Usa una fecha entre"),
        ("2021-01-01", "2021-12-31", "la fecha de cierre no puede ser anterior a hoy"),
    ]:
        response = client.post(
            "/admin/servicios/asesoria-legal/ventanas/nueva",
            data={
                "name": "Ventana",
                "capacity": "5",
                "region_code": "",
                "opens_on": opens,
                "closes_on": closes,
            },
        )
        assert response.status_code in (200, 422), (opens, closes)
        assert message in response.get_data(as_text=True)
    assert _count(EnrollmentWindow) == before


def test_login_with_a_header_splitting_next_goes_home(client, user):
    response = client.post(
        "/ingresar?next=/%0d%0aX",
        data={"identifier": user.email, "password": "clave-de-prueba-segura"},
    )
    assert response.status_code == 302
    assert "\r" not in response.headers["Location"] and "X" not in response.headers["Location"]


def test_assigning_to_advisor_id_two_to_the_63_is_a_message(
    client, auth, admin_user, make_user, make_window
):
    from sv_platform.advisory import lifecycle

    make_window(5, area="legal")
    person = make_user()
    consultation = lifecycle.open_consultation(
        person, area="legal", subject="Boletas de honorarios", description="¿Cómo emito una boleta?"
    )
    auth.login(admin_user)
    response = client.post(f"/consultas/{consultation.id}/asignar", data={"advisor_id": str(2**63)})
    assert response.status_code < 500
    db.session.refresh(consultation)
    assert consultation.advisor_id is None
