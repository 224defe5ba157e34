"""Login by RUT or email, rate limits, sessions that end, roles and personal data."""

import json
import re

import pytest
from sqlalchemy import select

from sv_platform.accounts import services
from sv_platform.accounts.models import User
from sv_platform.extensions import db
from tests.conftest import PASSWORD, login_with_csrf


def test_login_by_rut_any_spelling(client, auth, make_user):
    user = make_user(rut="12345678-5", name="Marta Rojas Soto")
    for spelling in ("12.345.678-5", "123456785"):
        response = auth.login(spelling)
        assert response.status_code == 302
        assert "Hola, Marta." in client.get(response.headers["Location"]).get_data(as_text=True)
        page = client.get("/perfil").get_data(as_text=True)
        assert "RUT: 12.345.678-5" in page
        auth.logout()
    db.session.refresh(user)
    assert user.last_login_at is not None


def test_login_by_email_any_case(client, auth, make_user):
    make_user(email="ana@ejemplo.cl")
    assert auth.login("ANA@ejemplo.cl").status_code == 302
    assert client.get("/perfil").status_code == 200


def test_wrong_password_and_unknown_account_get_the_same_message(client, auth, make_user):
    make_user(email="ana@ejemplo.cl")
    wrong = auth.login("ana@ejemplo.cl", password="otra-clave-distinta")
    unknown = auth.login("nadie@ejemplo.cl", password="otra-clave-distinta")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "RUT, correo o contraseña incorrectos." in response.get_data(as_text=True)
    assert client.get("/perfil").status_code == 302


def test_rate_limit_per_account_same_message_whether_or_not_it_exists(make_app, make_user):
    app = make_app(
        LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes", LOGIN_LIMIT_PER_IP="100 per 15 minutes"
    )
    with app.app_context():
        make_user(email="ana@ejemplo.cl")
    client = app.test_client()
    pages = {}
    for identifier in ("ana@ejemplo.cl", "nadie@ejemplo.cl"):
        codes = [
            client.post(
                "/ingresar", data={"identifier": identifier, "password": "equivocada-123"}
            ).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 401]
        blocked = client.post("/ingresar", data={"identifier": identifier, "password": PASSWORD})
        assert blocked.status_code == 429
        # Identical but for the signed CSRF token, which carries a timestamp.
        pages[identifier] = re.sub(r'content="[^"]+"', "", blocked.get_data(as_text=True))
        assert "Demasiados intentos" in pages[identifier]
    assert pages["ana@ejemplo.cl"] == pages["nadie@ejemplo.cl"]


def test_rate_limit_per_ip(make_app, make_user):
    app = make_app(LOGIN_LIMIT_PER_IP="4 per 15 minutes")
    client = app.test_client()
    codes = [
        client.post(
            "/ingresar", data={"identifier": f"x{i}@ejemplo.cl", "password": "equivocada-123"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [401, 401, 401, 401, 429]


def test_successful_logins_do_not_count_towards_the_limit(make_app, make_user):
    app = make_app(LOGIN_LIMIT_PER_ACCOUNT="2 per 15 minutes")
    with app.app_context():
        user = make_user()
        email = user.email
    client = app.test_client()
    for _ in range(4):
        assert (
            client.post("/ingresar", data={"identifier": email, "password": PASSWORD}).status_code
            == 302
        )
        client.post("/salir")


def test_old_session_cookie_stops_working_after_logout(app, client, auth, user):
    auth.login(user)
    stolen = client.get_cookie("session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/perfil").status_code == 302


def test_password_change_ends_other_sessions_keeps_this_one(app, client, auth, user):
    auth.login(user)
    other = app.test_client()
    other.post("/ingresar", data={"identifier": user.email, "password": PASSWORD})
    assert other.get("/perfil").status_code == 200
    response = client.post(
        "/perfil/contrasena",
        data={"w-current_password": PASSWORD, "w-new_password": "otra-clave-bien-larga"},
    )
    assert response.status_code == 302
    assert client.get("/perfil").status_code == 200
    assert other.get("/perfil").status_code == 302
    auth.logout()
    assert auth.login(user, password="otra-clave-bien-larga").status_code == 302


def test_password_change_requires_current_password(client, auth, user):
    auth.login(user)
    response = client.post(
        "/perfil/contrasena",
        data={"w-current_password": "no-es-la-actual", "w-new_password": "otra-clave-bien-larga"},
    )
    assert response.status_code == 422
    assert "La contraseña actual no es correcta." in response.get_data(as_text=True)


def test_remember_me_keeps_the_person_logged_in_after_the_browser_closes(client, auth, user):
    auth.login(user, remember="y")
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")  # what closing the browser does to a session cookie
    assert client.get("/perfil").status_code == 200


def test_without_remember_me_closing_the_browser_logs_out(client, auth, user):
    auth.login(user)
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")
    assert client.get("/perfil").status_code == 302


def test_session_is_renewed_at_login(client, auth, user):
    client.get("/ingresar")
    before = client.get_cookie("session").value
    auth.login(user)
    assert client.get_cookie("session").value != before


def test_profile_and_company_update(client, auth, user):
    auth.login(user)
    response = client.post(
        "/perfil",
        data={
            "p-name": "Nombre Nuevo Apellido",
            "p-email": user.email,
            "p-phone": "+56 2 2222 3333",
            "p-region_code": "16",
            "p-comuna_code": "16101",
            "p-sex": "otro",
            "p-birth_date": "1990-02-03",
            "p-education_level": "postgrado",
        },
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.name, user.comuna_code) == ("Nombre Nuevo Apellido", "16101")
    response = client.post(
        "/perfil/empresa",
        data={
            "c-company_rut": "76.086.428-5",
            "c-legal_name": "Mi Pyme SpA",
            "c-sector": "comercio",
            "c-company_region": "16",
            "c-company_comuna": "16101",
            "c-started_on": "2020-03-01",
            "c-size": "micro",
        },
    )
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.company.rut, user.company.size) == ("76086428-5", "micro")


def test_company_with_bad_rut_changes_nothing(client, auth, user):
    auth.login(user)
    response = client.post(
        "/perfil/empresa", data={"c-company_rut": "76.086.428-1", "c-legal_name": "Mi Pyme SpA"}
    )
    assert response.status_code == 422
    assert "dígito verificador" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.company is None


def test_data_export_has_own_data_only(client, auth, make_user):
    me, other = make_user(name="Yo Misma Persona"), make_user(name="Otra Persona Ajena")
    auth.login(me)
    response = client.get("/mis-datos/descargar")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["cuenta"]["rut"] == me.rut
    body = response.get_data(as_text=True)
    assert other.rut not in body and other.email not in body and other.name not in body


def test_account_deletion_anonymizes_and_logs_out(client, auth, user):
    rut, email = user.rut, user.email
    auth.login(user)
    response = client.post("/mis-datos/eliminar", data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert (stored.rut, stored.email, stored.phone) == (None, None, None)
    assert stored.name == "Persona eliminada"
    assert stored.region_code == "13"  # statistics survive
    assert client.get("/perfil").status_code == 302
    assert auth.login(email).status_code == 401
    assert services.find_by_identifier(rut) is None


def test_post_without_csrf_token_is_refused(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/registro", data={"rut": "12.345.678-5"})
    assert response.status_code == 400
    assert "código de seguridad" in response.get_data(as_text=True)
    with app.app_context():
        user = make_user()
        email = user.email
    login_with_csrf(client, email)


def test_disabled_advisor_loses_access(app, client, auth, admin_user, advisor_user):
    auth.login(advisor_user)
    assert client.get("/perfil").status_code == 200
    services.set_active(advisor_user.id, False, actor=admin_user)
    assert client.get("/perfil").status_code == 302


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_admin_pages_refuse_other_roles(client, auth, make_user, role):
    auth.login(make_user(role))
    response = client.get("/admin/asesores")
    assert response.status_code == 403
    assert "Acceso no permitido" in response.get_data(as_text=True)


def test_admin_creates_advisor_and_it_is_audited(client, auth, admin_user):
    auth.login(admin_user)
    response = client.post(
        "/admin/asesores",
        data={
            "rut": "9.876.543-3",
            "name": "Asesora Nueva",
            "email": "asesora@ejemplo.cl",
            "specialty": "sustainability",
            "password": "clave-inicial-larga",
        },
    )
    assert response.status_code == 302
    advisor = services.find_by_identifier("9876543-3")
    assert (advisor.role, advisor.specialty) == ("advisor", "sustainability")
    audit = client.get("/admin/auditoria").get_data(as_text=True)
    assert f"{admin_user.name} creó la cuenta de asesor/a de Asesora Nueva (9.876.543-3)." in audit


def test_logins_failures_and_refusals_are_logged(client, auth, user, caplog):
    caplog.set_level("INFO", logger="sv_platform.security")
    auth.login(user, password="equivocada-123")
    auth.login(user)
    client.get("/admin/asesores")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("login failed user=") for m in messages)
    assert any(m.startswith(f"login user={user.id}") for m in messages)
    assert any(m.startswith("access refused path=/admin/asesores") for m in messages)


def test_notifications_are_marked_read_only_by_a_post(client, auth, user):
    services.notify(user.id, "Se liberó un cupo")
    auth.login(user)
    assert services.unread_notifications(user.id) == 1
    assert "Se liberó un cupo" in client.get("/notificaciones").get_data(as_text=True)
    assert services.unread_notifications(user.id) == 1
    assert client.post("/notificaciones/leidas").status_code == 302
    assert services.unread_notifications(user.id) == 0


def test_admin_cannot_disable_own_account_or_an_unknown_one(client, auth, admin_user, user):
    auth.login(admin_user)
    response = client.post(
        f"/admin/asesores/{admin_user.id}/estado", data={"active": "0"}, follow_redirects=True
    )
    assert "No puedes desactivar tu propia cuenta." in response.get_data(as_text=True)
    assert client.post("/admin/asesores/999999/estado", data={"active": "0"}).status_code == 404
    db.session.refresh(admin_user)
    assert admin_user.active


def _old_settings_hash(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=512, parallelism=1).hash(password)


def test_a_login_stores_the_password_hashed_with_todays_settings(client, auth, make_user):
    user = make_user()
    user.password_hash = _old_settings_hash(PASSWORD)
    db.session.commit()
    assert auth.login(user).status_code == 302
    db.session.refresh(user)
    assert "m=256,t=1" in user.password_hash  # the test settings' argon2 cost
    auth.logout()
    assert auth.login(user).status_code == 302  # the new hash holds the same password


def _committed_meanwhile(monkeypatch, step: str, user_id: int, **values) -> None:
    """Just before the service's `step` (a function of accounts.services) runs, another
    request commits `values` on the user's row."""
    from sqlalchemy import update

    real = getattr(services, step)

    def step_after_another_commit(*args):
        with db.engine.begin() as other:
            other.execute(update(User).where(User.id == user_id).values(**values))
        return real(*args)

    monkeypatch.setattr(services, step, step_after_another_commit)


@pytest.mark.parametrize("change", ["disabled", "password reset"])
def test_an_account_changed_during_a_login_is_not_logged_in(
    client, auth, make_user, monkeypatch, change
):
    """Disabled by an admin, or given a new password by a recovery link, between the
    password check and the write: the login fails with the usual message, writes nothing
    (its rehash does not undo the new password) and leaves nobody logged in."""
    from sv_platform.accounts.passwords import hash_password

    user = make_user()
    user.password_hash = old = _old_settings_hash(PASSWORD)  # the login would rehash it
    user_id, email = user.id, user.email
    db.session.commit()
    newer = hash_password("una-clave-nueva-y-larga")
    values = {"active": False} if change == "disabled" else {"password_hash": newer}
    _committed_meanwhile(
        monkeypatch, "verify_password", user_id, session_version=User.session_version + 1, **values
    )
    response = auth.login(email)
    assert response.status_code == 401
    assert "RUT, correo o contraseña incorrectos." in response.get_data(as_text=True)
    assert client.get("/perfil").status_code == 302
    stored = db.session.execute(
        select(User.last_login_at, User.password_hash).where(User.id == user_id)
    ).one()
    assert stored == (None, old if change == "disabled" else newer)


def test_a_password_reset_during_a_change_refuses_the_change(client, auth, make_user, monkeypatch):
    """The change checked the old password; if another one was stored before its write (a
    recovery link, say), it is refused as a wrong current password and the newer stays."""
    from sv_platform.accounts.passwords import hash_password

    user = make_user()
    user_id = user.id
    auth.login(user)
    newer = hash_password("una-clave-nueva-y-larga")
    _committed_meanwhile(
        monkeypatch,
        "hash_password",
        user_id,
        password_hash=newer,
        session_version=User.session_version + 1,
    )
    response = client.post(
        "/perfil/contrasena",
        data={"w-current_password": PASSWORD, "w-new_password": "otra-clave-bien-larga"},
    )
    assert response.status_code == 422
    assert "La contraseña actual no es correcta." in response.get_data(as_text=True)
    stored = select(User.password_hash).where(User.id == user_id)
    assert db.session.scalar(stored) == newer
