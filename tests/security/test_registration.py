"""/registro neither reveals who is registered nor lets one address register in bulk."""

import re

from sqlalchemy import func, select

from sv_platform.accounts import passwords, services
from sv_platform.accounts.models import Notification, User
from sv_platform.extensions import db
from tests.accounts.test_registration import VALID
from tests.conftest import test_rut as make_rut


def _page(response) -> str:
    html = response.get_data(as_text=True)
    html = re.sub(r'content="[^"]+"|value="[^"]*"', "", html)  # tokens and typed values
    return html


def test_a_stranger_cannot_tell_a_registered_rut_from_a_registered_email(client, make_user):
    owner_by_rut = make_user(rut="12345678-5")
    owner_by_email = make_user(email="maria@ejemplo.cl")
    by_rut = client.post("/registro", data={**VALID, "email": "nueva@ejemplo.cl"})
    by_email = client.post("/registro", data={**VALID, "rut": "9432867-5"})
    assert by_rut.status_code == by_email.status_code
    assert _page(by_rut) == _page(by_email)
    html = by_rut.get_data(as_text=True)
    assert "Ya existe una cuenta" not in html
    assert "Revisa tu correo" in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 2
    # The owners (not the person at the form) are told someone used their data.
    for owner in (owner_by_rut, owner_by_email):
        notices = db.session.scalars(select(Notification).where(Notification.user_id == owner.id))
        assert any("intentó crear una cuenta" in n.text for n in notices)


def test_registrations_from_one_address_are_limited_before_hashing(make_app, monkeypatch):
    app = make_app(REGISTRATION_LIMIT_PER_IP="3 per hour")
    hashes = []
    real = passwords.hash_password
    monkeypatch.setattr(services, "hash_password", lambda p: hashes.append(1) or real(p))
    client = app.test_client()
    codes = []
    for i in range(6):
        data = {**VALID, "email": f"p{i}@ejemplo.cl"}
        data["rut"] = make_rut(20_500_000 + i)
        codes.append(client.post("/registro", data=data).status_code)
        client.post("/salir")
    assert codes[:3] == [302, 302, 302]
    assert codes[3:] == [429, 429, 429]
    assert len(hashes) == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 3
