"""One account per RUT: leading zeros and zero bodies, everywhere a RUT is read."""

import sqlite3

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from sv_platform.accounts import services
from sv_platform.accounts.models import AuditEntry, User
from sv_platform.accounts.people import people_filters, search_people
from sv_platform.core.domain import InvalidInput
from sv_platform.core.rut import normalize_rut
from sv_platform.extensions import db
from tests.accounts.test_registration import VALID
from tests.conftest import PASSWORD


@pytest.mark.parametrize("spelling", ["09432867-5", "0.9.432.867-5", "009432867-5", "094328675"])
def test_leading_zeros_are_one_person(spelling):
    assert normalize_rut(spelling) == "9432867-5"


@pytest.mark.parametrize("spelling", ["00000000-0", "0-0", "00.000.000-0", "000000000"])
def test_a_zero_body_is_refused(spelling):
    with pytest.raises(InvalidInput, match="El RUT no es válido"):
        normalize_rut(spelling)


def test_the_same_rut_with_a_leading_zero_cannot_register_twice(client):
    first = client.post("/registro", data={**VALID, "rut": "9432867-5"})
    assert first.status_code == 302
    client.post("/salir")
    second = client.post(
        "/registro", data={**VALID, "rut": "09432867-5", "email": "otra@ejemplo.cl"}
    )
    assert second.status_code != 302
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_zero_rut_registration_is_refused(client):
    response = client.post("/registro", data={**VALID, "rut": "00000000-0"})
    assert response.status_code == 422
    assert "El RUT no es válido" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_login_with_a_leading_zero_finds_the_account(client, make_user):
    make_user(rut="9432867-5")
    response = client.post("/ingresar", data={"identifier": "09.432.867-5", "password": PASSWORD})
    assert response.status_code == 302


def test_admin_cannot_create_a_second_account_for_a_zero_padded_rut(app, make_user):
    admin = make_user("admin")
    make_user(rut="9432867-5")
    with pytest.raises(services.DomainError):
        services.create_staff(
            role="advisor",
            rut="09432867-5",
            email="asesor@ejemplo.cl",
            name="Otro Asesor",
            password="una-clave-muy-segura",
            specialty="legal",
            actor=admin,
        )


def test_company_rut_is_stored_canonical_and_zero_refused(app, user):
    company = services.update_company(
        user,
        rut="07.654.321-6",
        legal_name="Mi Pyme",
        sector=None,
        region_code=None,
        comuna_code=None,
        started_on=None,
        size=None,
    )
    assert company.rut == "7654321-6"
    with pytest.raises(InvalidInput):
        services.update_company(
            user,
            rut="00000000-0",
            legal_name=None,
            sector=None,
            region_code=None,
            comuna_code=None,
            started_on=None,
            size=None,
        )


def test_migration_normalizes_and_reports_existing_duplicates(make_app, tmp_path):
    path = tmp_path / "old.sqlite3"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        upgrade(revision="0005")
        db.engine.dispose()
    raw = sqlite3.connect(path)
    rows = [
        (1, "9432867-5", "a@ejemplo.cl"),  # the same person twice
        (2, "09432867-5", "b@ejemplo.cl"),
        (3, "07654321-6", "c@ejemplo.cl"),  # alone: just rewritten
        (4, "00000000-0", "d@ejemplo.cl"),  # no such RUT
    ]
    for user_id, rut, email in rows:
        raw.execute(
            "INSERT INTO user (id, rut, email, name, password_hash, role, session_version,"
            " active, created_at) VALUES (?, ?, ?, 'Persona', '!', 'entrepreneur', 1, 1,"
            " '2026-01-01 00:00:00')",
            (user_id, rut, email),
        )
    raw.commit()
    raw.close()
    with app.app_context():
        upgrade()
        ruts = dict(db.session.execute(select(User.id, User.rut)).all())
        assert ruts[3] == "7654321-6"
        assert ruts[1] == "9432867-5"
        reports = {(e.action, e.target_id): e.after for e in db.session.scalars(select(AuditEntry))}
        assert reports[("duplicate_rut", "2")]["same_person_as_user"] == 1
        assert ("invalid_rut", "4") in reports
        # The people search finds the rewritten RUT in any spelling.
        found = search_people(people_filters({"q": "7.654.321-6"})).items
        assert [person.id for person in found] == [3]
        db.session.remove()
        db.engine.dispose()
