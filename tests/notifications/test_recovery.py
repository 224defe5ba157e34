"""Password recovery and email confirmation through the real pages and the real SMTP server."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from sv_platform.accounts.models import AuditEntry, User
from sv_platform.core.timeutil import utcnow
from sv_platform.extensions import db
from sv_platform.notifications import recovery
from sv_platform.notifications.models import AccountToken, OutboxMail
from tests.conftest import PASSWORD
from tests.notifications.conftest import deliver, link_in

NEW_PASSWORD = "nueva-clave-de-empanadas"
ANSWER = "Si existe una cuenta con ese RUT o correo"


def _ask(client, identifier):
    response = client.post("/recuperar-contrasena", data={"identifier": identifier})
    assert response.status_code == 302
    return client.get(response.location).get_data(as_text=True)


def _reset_link(inbox, user) -> str:
    (message,) = [m for m in inbox.to(user.email) if "nueva contraseña" in m["Subject"]][-1:]
    return link_in(message, "https://sv.example.cl/recuperar-contrasena/")


def test_the_login_page_links_to_recovery(client):
    page = client.get("/ingresar").get_data(as_text=True)
    assert "¿Olvidaste tu contraseña?" in page and 'href="/recuperar-contrasena"' in page


def test_same_answer_for_an_existing_and_a_missing_account(client, user, inbox):
    existing = _ask(client, user.rut)
    missing = _ask(client, "7.654.321-6")
    assert ANSWER in existing and ANSWER in missing
    # The pages differ only in the RUT typed and in the CSRF token (signed with a timestamp).
    token = re.compile(r'(name="csrf[-_]token"[^>]*(?:value|content)=")[^"]+"')
    assert token.sub(r"\1", existing.replace(user.rut, "")) == token.sub(
        r"\1", missing.replace("7654321-6", "")
    )
    deliver()
    assert len(inbox.messages) == 1 and user.email in inbox.messages[0]["To"]


def test_recovery_sets_a_new_password_ends_sessions_and_tells_the_owner(app, client, user, inbox):
    other_device = app.test_client()
    other_device.post("/ingresar", data={"identifier": user.email, "password": PASSWORD})
    assert other_device.get("/perfil").status_code == 200

    _ask(client, user.email)
    deliver()
    link = _reset_link(inbox, user)
    path = link.removeprefix("https://sv.example.cl")
    assert "session" not in link
    page = client.get(path).get_data(as_text=True)
    assert "Crea una nueva contraseña" in page
    response = client.post(
        path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response.location == "/ingresar"

    assert other_device.get("/perfil").status_code == 302  # that session ended
    old = client.post("/ingresar", data={"identifier": user.email, "password": PASSWORD})
    assert old.status_code == 401
    ok = client.post("/ingresar", data={"identifier": user.email, "password": NEW_PASSWORD})
    assert ok.status_code == 302
    deliver()
    assert any("Tu contraseña cambió" in m["Subject"] for m in inbox.to(user.email))

    client.post("/salir")
    reused = client.get(path)
    assert reused.status_code == 400
    assert "Este enlace ya no es válido" in reused.get_data(as_text=True)


def test_the_new_password_follows_the_registration_rules(client, user, inbox):
    _ask(client, user.email)
    deliver()
    path = _reset_link(inbox, user).removeprefix("https://sv.example.cl")
    before = db.session.get(User, user.id).password_hash
    response = client.post(path, data={"new_password": "password", "confirm_password": "password"})
    assert response.status_code == 422
    assert "Esa contraseña es muy común" in response.get_data(as_text=True)
    mismatch = client.post(
        path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"}
    )
    assert "Las contraseñas no coinciden." in mismatch.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before
    assert client.get(path).status_code == 200  # the link still works


def test_expired_newer_and_password_change_void_links(client, user):
    now = utcnow()
    first = recovery.issue(user, recovery.RESET, now=now)
    db.session.commit()
    second = recovery.issue(user, recovery.RESET, now=now)
    db.session.commit()
    assert client.get(f"/recuperar-contrasena/{first}").status_code == 400  # newer one voids
    assert client.get(f"/recuperar-contrasena/{second}").status_code == 200
    assert recovery.check_reset(second, now=now + timedelta(minutes=59))
    with pytest.raises(recovery.LinkInvalid, match="venció"):
        recovery.check_reset(second, now=now + timedelta(minutes=61))
    from sv_platform.accounts import services as accounts

    accounts.change_password(db.session.get(User, user.id), PASSWORD, NEW_PASSWORD)
    page = client.get(f"/recuperar-contrasena/{second}")
    assert page.status_code == 400 and "Pide otro enlace" in page.get_data(as_text=True)


def test_tokens_are_signed_and_stored_hashed(client, user):
    token = recovery.issue(user, recovery.RESET, now=utcnow())
    db.session.commit()
    row = db.session.scalar(select(AccountToken))
    assert row.token_hash not in token and len(row.token_hash) == 64
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.get(f"/recuperar-contrasena/{tampered}").status_code == 400


def test_requests_are_rate_limited_per_account_the_same_whether_it_exists(client, user):
    for identifier in (user.email, "nadie@ejemplo.cl"):
        codes = [
            client.post("/recuperar-contrasena", data={"identifier": identifier}).status_code
            for _ in range(4)
        ]
        assert codes == [302, 302, 302, 429]


def test_an_admin_sends_a_reset_link_from_the_staff_page(
    client, auth, admin_user, advisor_user, make_user, inbox
):
    auth.login(make_user())
    assert client.post(f"/admin/cuentas/{advisor_user.id}/enlace-contrasena").status_code == 403
    auth.logout()
    auth.login(admin_user)
    page = client.get("/admin/asesores").get_data(as_text=True)
    assert f"/admin/cuentas/{advisor_user.id}/enlace-contrasena" in page
    response = client.post(f"/admin/cuentas/{advisor_user.id}/enlace-contrasena")
    assert response.status_code == 302
    deliver()
    (message,) = inbox.to(advisor_user.email)
    assert "administrador" in message.get_body(("plain",)).get_content()
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "send_reset_link"))
    assert audit.actor_id == admin_user.id and audit.target_id == str(advisor_user.id)


def test_registration_asks_to_confirm_the_email_and_the_link_confirms_it(app, client, inbox):
    from datetime import date

    from sv_platform.accounts import services as accounts

    user = accounts.register_entrepreneur(
        rut="7.654.321-6",
        name="Rosa Díaz",
        email="rosa@ejemplo.cl",
        phone="+56 9 4444 5555",
        password="mis-empanadas-2026",
        region_code="16",
        comuna_code="16101",
        sex="femenino",
        birth_date=date(1982, 11, 5),
        education_level="media",
        consent=True,
    )
    client.post("/ingresar", data={"identifier": user.email, "password": "mis-empanadas-2026"})
    page = client.get("/perfil").get_data(as_text=True)
    assert "Confirma tu correo" in page and "Reenviar el enlace" in page
    deliver()
    (message,) = inbox.to("rosa@ejemplo.cl")
    path = link_in(message, "https://sv.example.cl/correo/confirmar/").removeprefix(
        "https://sv.example.cl"
    )
    anonymous = app.test_client()
    assert "Confirmar mi correo" in anonymous.get(path).get_data(as_text=True)
    assert anonymous.post(path).status_code == 302  # works without logging in
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is not None
    assert "Reenviar el enlace" not in client.get("/perfil").get_data(as_text=True)
    assert anonymous.post(path).status_code == 302  # used: refused with a message
    assert "ya no es válido" in anonymous.get("/").get_data(as_text=True)


def test_an_email_change_needs_a_new_confirmation(person, client, auth, inbox):
    user = person()
    auth.login(user)
    response = client.post(
        "/perfil",
        data={
            "p-name": user.name,
            "p-email": "nuevo@ejemplo.cl",
            "p-phone": user.phone,
            "p-region_code": "13",
            "p-comuna_code": "13101",
            "p-sex": "femenino",
            "p-birth_date": "1990-01-01",
            "p-education_level": "media",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).email_confirmed_at is None
    deliver()
    assert [m["Subject"] for m in inbox.to("nuevo@ejemplo.cl")] == [
        "Confirma tu correo · Servicios Virtuales"
    ]


def test_unconfirmed_addresses_get_only_account_security_mail(make_user, client, inbox):
    user = make_user()  # never confirmed
    from sv_platform.notifications import services

    assert services.queue(user, "cupo_asignado", {"subject": "x"}, now=utcnow()) is None
    _ask(client, user.email)
    deliver()
    assert len(inbox.to(user.email)) == 1
    assert db.session.scalar(select(OutboxMail.kind)) == "recuperacion"


def test_an_admin_sends_a_reset_link_and_a_confirmation_from_the_person_page(
    client, auth, admin_user, make_user, inbox
):
    person = make_user(email="ines.rojas@ejemplo.cl")
    person.email_confirmed_at = None
    db.session.commit()
    auth.login(make_user())
    assert client.post(f"/admin/personas/{person.id}/restablecer").status_code == 403
    assert client.post(f"/admin/personas/{person.id}/confirmacion").status_code == 403
    auth.logout()
    auth.login(admin_user)
    page = client.get(f"/admin/personas/{person.id}").get_data(as_text=True)
    assert "Enviar enlace para crear una nueva contraseña" in page
    assert "Reenviar confirmación de correo" in page
    done = client.post(f"/admin/personas/{person.id}/restablecer", follow_redirects=True)
    assert "Enviamos un enlace para crear una nueva contraseña." in done.get_data(as_text=True)
    done = client.post(f"/admin/personas/{person.id}/confirmacion", follow_redirects=True)
    assert "Reenviamos el correo para confirmar la dirección." in done.get_data(as_text=True)
    deliver()
    assert len(inbox.to(person.email)) == 2
    actions = set(
        db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(person.id)))
    )
    assert {"send_reset_link", "send_email_confirmation"} <= actions


def test_the_owner_is_emailed_when_someone_registers_with_their_data(client, make_user, inbox):
    from tests.accounts.test_registration import VALID

    owner = make_user(rut="12345678-5")
    response = client.post("/registro", data={**VALID, "email": "otra.persona@ejemplo.cl"})
    assert "Revisa tu correo" in response.get_data(as_text=True)
    deliver()
    (message,) = inbox.to(owner.email)
    assert "intentó crear una cuenta" in message.get_body(("plain",)).get_content()
    assert not inbox.to("otra.persona@ejemplo.cl")


def test_a_password_reset_lifts_the_login_lock(client, user, inbox):
    for _ in range(5):
        client.post("/ingresar", data={"identifier": user.email, "password": "equivocada-1"})
    locked = client.post("/ingresar", data={"identifier": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    _ask(client, user.email)
    deliver()
    path = _reset_link(inbox, user).removeprefix("https://sv.example.cl")
    client.post(path, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    ok = client.post("/ingresar", data={"identifier": user.email, "password": NEW_PASSWORD})
    assert ok.status_code == 302


def test_a_reset_succeeds_while_other_people_write(client, make_user, monkeypatch):
    """After the new password is stored, ending the person's sessions writes too (an
    advisor's availability): a write committed by someone else just before must not turn
    the finished reset into an error page."""
    from sqlalchemy import update

    from sv_platform.accounts import limits

    person, someone = make_user(), make_user()
    someone_id, email = someone.id, person.email
    token = recovery.issue(person, recovery.RESET, now=utcnow())
    db.session.commit()
    real_clear = limits.clear_account_lock

    def clear_while_someone_writes(user_id):
        with db.engine.begin() as other:  # another request's write, committed meanwhile
            other.execute(update(User).where(User.id == someone_id).values(name="Otra Persona"))
        return real_clear(user_id)

    monkeypatch.setattr(limits, "clear_account_lock", clear_while_someone_writes)
    response = client.post(
        f"/recuperar-contrasena/{token}",
        data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert (
        client.post("/ingresar", data={"identifier": email, "password": NEW_PASSWORD}).status_code
        == 302
    )
