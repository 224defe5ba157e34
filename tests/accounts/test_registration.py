"""Self-registration: RUT, uniqueness, territory, consent, password rules."""

import re

import pytest
from sqlalchemy import func, select

from sv_platform.accounts.models import User
from sv_platform.extensions import db
from tests.courses.conftest import content_root, course, window  # noqa: F401 - fixtures

VALID = {
    "rut": "12.345.678-5",
    "name": "María José Rojas",
    "email": "maria@ejemplo.cl",
    "phone": "+56 9 5555 1234",
    "password": "mi-negocio-crece-2026",
    "region_code": "13",
    "comuna_code": "13101",
    "sex": "femenino",
    "birth_date": "1985-06-15",
    "education_level": "universitaria",
    "channels": ["whatsapp", "instagram"],
    "consent": "y",
}


def users() -> int:
    return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("spelling", ["12.345.678-5", "12345678-5", "123456785"])
def test_valid_rut_in_three_spellings_is_stored_normalized(client, spelling):
    response = client.post("/registro", data={**VALID, "rut": spelling})
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert user.rut == "12345678-5"
    assert user.role == "entrepreneur"
    assert user.consent_at is not None
    assert user.password_hash.startswith("$argon2id$")


def test_rut_with_k_is_upper_case(client):
    response = client.post("/registro", data={**VALID, "rut": "16.666.666-k"})
    assert response.status_code == 302
    assert db.session.scalar(select(User.rut)) == "16666666-K"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rut": "12.345.678-9"}, "El dígito verificador del RUT no es correcto"),
        ({"rut": "abc"}, "El RUT no es válido"),
        ({"comuna_code": "08101"}, "La comuna elegida no pertenece a la región seleccionada"),
        ({"consent": ""}, "debes aceptar el uso de tus datos personales"),
        ({"password": "corta"}, "al menos 8 caracteres"),
        ({"password": "password1"}, "muy común"),
        ({"password": "12345678-5"}, "no puede ser tu RUT"),
        ({"password": "maria@ejemplo.cl"}, "no puede ser tu correo"),
        ({"region_code": "99"}, "Opción inválida"),
        ({"birth_date": "2024-01-01"}, "debes tener entre 15 y 110 años"),
        ({"name": ""}, "Este campo es obligatorio"),
    ],
)
def test_invalid_registration_rejected_with_spanish_message(client, changes, message):
    response = client.post("/registro", data={**VALID, **changes})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert users() == 0


def test_typed_values_are_kept_after_an_error(client):
    response = client.post("/registro", data={**VALID, "rut": "12.345.678-9"})
    html = response.get_data(as_text=True)
    assert 'value="María José Rojas"' in html
    assert 'value="maria@ejemplo.cl"' in html


NEUTRAL = "No pudimos crear una cuenta nueva con estos datos"


def test_duplicate_rut_rejected_without_saying_so(client, make_user):
    make_user(rut="12345678-5")
    response = client.post("/registro", data=VALID)
    html = response.get_data(as_text=True)
    assert NEUTRAL in html and "Ya existe una cuenta" not in html
    assert users() == 1


def test_duplicate_email_with_other_case_rejected(client, make_user):
    make_user(email="maria@ejemplo.cl")
    response = client.post("/registro", data={**VALID, "email": "MARIA@Ejemplo.CL"})
    assert NEUTRAL in response.get_data(as_text=True)
    assert users() == 1


def test_registration_page_labels_and_privacy_link(client):
    html = client.get("/registro").get_data(as_text=True)
    for label in (
        "RUT",
        "Nombre completo",
        "Correo electrónico",
        "Teléfono",
        "Contraseña",
        "Región",
        "Comuna",
        "Sexo",
        "Fecha de nacimiento",
        "Nivel educacional",
    ):
        assert f">{label}</label>" in html
    assert 'href="/privacidad"' in html
    assert '<optgroup label="Ñuble">' in html


def test_territory_data_is_complete():
    from sv_platform.accounts import territory

    assert len(territory.regions()) == 16
    assert len(territory.comuna_names()) == 346
    assert territory.comuna_names()["13101"] == "Santiago"
    assert territory.comuna_in_region("16101", "16")
    assert not territory.comuna_in_region("16101", "13")


@pytest.mark.parametrize("email", ["maria@", "maria.ejemplo.cl", "maria@ejemplo", "a b@c.cl"])
def test_malformed_email_rejected(client, email):
    response = client.post("/registro", data={**VALID, "email": email})
    assert response.status_code == 422
    assert users() == 0


def error_next_to(html: str, field_id: str) -> str:
    """The text of the error shown under a field (linked by aria-describedby)."""
    match = re.search(
        rf'<div id="{field_id}-error" class="invalid-feedback[^"]*">([^<]*)</div>', html
    )
    assert match, f"no error next to {field_id}"
    assert re.search(
        rf'id="{field_id}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field_id}"', html
    )
    return match.group(1)


def test_every_error_is_reported_in_one_round(client):
    response = client.post(
        "/registro",
        data={**VALID, "rut": "12.345.678-9", "password": "password1", "consent": ""},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "dígito verificador del RUT no es correcto" in error_next_to(html, "rut")
    assert "muy común" in error_next_to(html, "password")
    assert "debes aceptar el uso de tus datos" in error_next_to(html, "consent")
    summary = html[html.index('id="errores-registro"') : html.index("<form")]
    assert "Hay 3 datos por corregir" in summary
    assert summary.index('href="#rut"') < summary.index('href="#password"')
    assert summary.index('href="#password"') < summary.index('href="#consent"')
    assert "la contraseña: por seguridad no se guarda y debes escribirla de nuevo" in summary
    # Everything else typed stays; the password is never sent back.
    for kept in ('value="12.345.678-9"', 'value="María José Rojas"', 'value="maria@ejemplo.cl"'):
        assert kept in html
    assert 'value="+56 9 5555 1234"' in html
    assert '<option selected value="13101">Santiago</option>' in html
    assert 'value="1985-06-15"' in html
    assert "password1" not in html
    assert users() == 0


def test_form_errors_and_rule_errors_come_together(client):
    response = client.post(
        "/registro",
        data={**VALID, "name": "", "phone": "123", "birth_date": "", "channels": ["myspace"]},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Este campo es obligatorio" in error_next_to(html, "name")
    assert "teléfono de Chile válido" in error_next_to(html, "phone")
    assert "Este campo es obligatorio" in error_next_to(html, "birth_date")
    assert "Elige los canales de la lista" in html
    assert "Hay 4 datos por corregir" in html
    assert "Ingresa tu nombre completo" not in html  # one message per field, not two
    assert users() == 0


def test_a_single_error_is_said_in_the_singular(client):
    html = client.post("/registro", data={**VALID, "consent": ""}).get_data(as_text=True)
    assert "Hay 1 dato por corregir" in html


def test_an_existing_rut_is_never_revealed_by_the_error_round(client, make_user):
    from sv_platform.accounts.models import Notification

    owner = make_user(rut="12345678-5")
    html = client.post("/registro", data={**VALID, "password": "corta"}).get_data(as_text=True)
    assert "al menos 8 caracteres" in error_next_to(html, "password")
    assert "Hay 1 dato por corregir" in html  # the RUT is not one of them
    assert NEUTRAL not in html and "Ya existe" not in html
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    # Once everything else is right, the answer is the neutral one and the owner is told.
    html = client.post("/registro", data=VALID).get_data(as_text=True)
    assert NEUTRAL in html and "Ya existe" not in html
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == owner.id)
        )
        == 1
    )
    assert users() == 1


def test_registration_problems_service_writes_nothing(app):
    from datetime import date

    from sv_platform.accounts import services

    problems = services.registration_problems(
        **{
            **VALID,
            "rut": "12.345.678-9",
            "password": "password1",
            "consent": False,
            "birth_date": date(1985, 6, 15),
        }
    )
    assert [p.field for p in problems] == ["rut", "password", "consent"]
    assert users() == 0


@pytest.mark.usefixtures("course", "window")
def test_the_rut_reads_the_same_on_every_page(client, auth, make_user, runner):
    from sv_platform.accounts.models import Company
    from sv_platform.enrollment import services as enrollment
    from tests.courses.conftest import SLUG, finish_course

    client.post("/registro", data=VALID)
    me = db.session.scalar(select(User))
    db.session.add(Company(user_id=me.id, rut="76086428-5"))
    db.session.commit()
    profile = client.get("/perfil").get_data(as_text=True)
    assert "RUT: 12.345.678-5" in profile and "12345678-5" not in profile
    assert 'value="76.086.428-5"' in profile  # the company's, ready to edit
    enrollment.enroll(me, enrollment.get_offering(SLUG))
    finish_course(me)
    certificate = client.get(f"/cursos/{SLUG}/certificado").get_data(as_text=True)
    assert "12.345.678-5" in certificate and "12345678-5" not in certificate
    auth.logout()
    auth.login(make_user("admin"))
    make_user("advisor", rut="13333333-9")
    staff = client.get("/admin/asesores").get_data(as_text=True)
    assert "13.333.333-9" in staff and "13333333-9" not in staff
    person = client.get(f"/admin/personas/{me.id}").get_data(as_text=True)
    assert "12.345.678-5" in person and "12345678-5" not in person
    created = runner.invoke(
        args=[
            "sv",
            "create-advisor",
            "--rut",
            "14444444-2",
            "--email",
            "asesora@ejemplo.cl",
            "--name",
            "Asesora Nueva",
            "--password",
            "una-clave-bien-larga-2026",
            "--specialty",
            "legal",
        ]
    )
    assert "(14.444.444-2, legal)" in created.output, created.output
