"""The admin's register of people: search keys, filters, keyset pages and a person's file."""

from datetime import UTC, datetime

import pytest

from sv_platform.accounts import people
from sv_platform.accounts import services as accounts
from sv_platform.accounts.models import AuditEntry
from sv_platform.extensions import db


def _search(**kwargs):
    return people.search_people(people.people_filters(kwargs), size=kwargs.pop("size", 25))


def _ids(page):
    return [p.id for p in page.items]


@pytest.fixture
def carolina(make_user):
    person = make_user(
        rut="15555555-6",
        name="Carolina Núñez Pérez",
        email="carolina.nunez@ejemplo.cl",
        region_code="08",
        comuna_code="08101",
        sex="femenino",
    )
    accounts.update_company(
        person,
        rut="76.543.210-3",
        legal_name="Panadería La Espiga SpA",
        sector="alimentos",
        region_code="08",
        comuna_code="08101",
        started_on=None,
        size="micro",
    )
    return person


@pytest.mark.parametrize(
    "query",
    [
        "15.555.555-6",  # with dots
        "15555555-6",  # stored form
        "155555556",  # digits only
        "15555",  # a prefix of the digits
        "carolina",
        "NUNEZ",  # accents and case do not matter
        "pérez caro",  # every word, any order, as prefixes
        "carolina.nunez@",
        "carolina.nu",  # the start of the email, without "@"
        "Carolina.Nunez@Ejemplo.cl",
        "76.543.210-3",  # company RUT
        "espiga",  # razón social
        "panaderia",
    ],
)
def test_search_finds_the_person_by_each_key(carolina, make_user, query):
    make_user(name="Otra Persona Distinta", email="otra@ejemplo.cl")
    assert _ids(_search(q=query)) == [carolina.id]


def test_search_without_matches_and_with_a_wrong_check_digit(carolina):
    assert _ids(_search(q="zapata")) == []
    assert _ids(_search(q="15.555.555-1")) == []


def test_keys_follow_profile_changes_and_anonymization(carolina):
    accounts.update_profile(
        carolina,
        name="Carolina Soto",
        email="csoto@ejemplo.cl",
        phone=carolina.phone,
        region_code="08",
        comuna_code="08101",
        sex="femenino",
        birth_date=carolina.birth_date,
        education_level="media",
    )
    assert _ids(_search(q="soto")) == [carolina.id]
    assert _ids(_search(q="nunez")) == []
    assert _ids(_search(q="csoto@")) == [carolina.id]
    accounts.delete_account(carolina, "clave-de-prueba-segura")
    assert _ids(_search(q="15555555-6")) == []
    assert _ids(_search(q="soto")) == []


def test_filters_combine(make_user):
    a = make_user(region_code="08", comuna_code="08101", sex="femenino")
    b = make_user(region_code="08", comuna_code="08102", sex="masculino")
    c = make_user(region_code="13", comuna_code="13101", sex="femenino")
    advisor = make_user("advisor")
    assert set(_ids(_search(region="08"))) == {a.id, b.id}
    assert _ids(_search(region="08", comuna="08102")) == [b.id]
    assert set(_ids(_search(sexo="femenino"))) == {a.id, c.id}
    assert _ids(_search(rol="advisor")) == [advisor.id]


def test_registration_date_filter_uses_chilean_days(make_user):
    early = make_user(created_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))  # 28 Feb in Chile
    late = make_user(created_at=datetime(2026, 3, 1, 15, 0, tzinfo=UTC))
    assert _ids(_search(desde="2026-03-01", hasta="2026-03-01")) == [late.id]
    assert _ids(_search(hasta="2026-02-28")) == [early.id]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"region": "99"}, "Elige una región de la lista."),
        ({"region": "13", "comuna": "08101"}, "Esa comuna no existe o no es de la región elegida."),
        ({"sexo": "x"}, "Elige una opción de sexo de la lista."),
        ({"rol": "root"}, "Elige un rol de la lista."),
        ({"desde": "01/02/2026"}, "Escribe la fecha como AAAA-MM-DD."),
        ({"desde": "2026-02-02", "hasta": "2026-02-01"}, "no puede ser anterior"),
    ],
)
def test_bad_filters_get_a_spanish_message(client, auth, admin_user, args, message):
    auth.login(admin_user)
    response = client.get("/admin/personas", query_string=args)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_pages_stay_stable_while_people_register(make_user):
    for _ in range(12):
        make_user(region_code="05", comuna_code="05101")
    first = _search(region="05", size=5)
    newcomers = [make_user(region_code="05", comuna_code="05101") for _ in range(3)]
    filters = people.people_filters({"region": "05"})
    second = people.search_people(filters, cursor=first.after, size=5)
    third = people.search_people(filters, cursor=second.after, size=5)
    seen = _ids(first) + _ids(second) + _ids(third)
    assert len(seen) == len(set(seen)) == 12
    assert not set(seen) & {n.id for n in newcomers}
    assert third.after is None
    assert seen == sorted(seen, reverse=True)


def test_people_page_lists_searches_and_pages(client, auth, admin_user, carolina, make_user):
    for _ in range(26):
        make_user(region_code="08", comuna_code="08101")
    auth.login(admin_user)
    html = client.get("/admin/personas", query_string={"q": "15.555.555-6"}).get_data(as_text=True)
    assert "Carolina Núñez Pérez" in html and "15.555.555-6" in html
    html = client.get("/admin/personas", query_string={"region": "08"}).get_data(as_text=True)
    assert "Página siguiente" in html
    assert "region=08" in html.split("Página siguiente")[0].rsplit("href=", 1)[1]


def test_person_file_shows_everything_and_the_view_is_audited(
    client, auth, make_user, carolina, make_window
):
    from sv_platform.enrollment import services as enrollment

    admin = make_user("admin", name="Ana Administradora")
    make_window(capacity=5)
    enrollment.enroll(carolina, enrollment.get_offering("asesoria-legal"))
    accounts.notify(carolina.id, "Se liberó un cupo")
    auth.login(admin)
    html = client.get(f"/admin/personas/{carolina.id}").get_data(as_text=True)
    for text in (
        "Carolina Núñez Pérez",
        "15.555.555-6",
        "Panadería La Espiga SpA",
        "76.543.210-3",
        "Asesoría Legal Virtual",
        "Inscrito/a",
        "Se liberó un cupo",
        "versión 2026-11",
        "Ana Administradora vio los datos de Carolina Núñez Pérez (15.555.555-6).",
    ):
        assert text in html, text
    entry = db.session.query(AuditEntry).filter_by(action="view_person").one()
    assert (entry.actor_id, entry.subject_id) == (admin.id, carolina.id)


def test_admin_disables_and_enables_a_person_with_audit(client, auth, make_user, carolina):
    admin = make_user("admin", name="Ana Administradora")
    auth.login(admin)
    response = client.post(
        f"/admin/personas/{carolina.id}/estado",
        data={"active": "0", "reason": "Cuenta duplicada"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "La cuenta de Carolina Núñez Pérez quedó desactivada." in html
    assert (
        "Ana Administradora desactivó la cuenta de Carolina Núñez Pérez (15.555.555-6). "
        "Motivo: Cuenta duplicada." in html
    )
    db.session.refresh(carolina)
    assert not carolina.active
    client.post(f"/admin/personas/{carolina.id}/estado", data={"active": "1"})
    db.session.refresh(carolina)
    assert carolina.active


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_people_pages_refuse_other_roles(client, auth, make_user, carolina, role):
    auth.login(make_user(role))
    for method, url in (
        ("GET", "/admin/personas"),
        ("GET", f"/admin/personas/{carolina.id}"),
        ("POST", f"/admin/personas/{carolina.id}/estado"),
        ("GET", "/admin/auditoria"),
    ):
        assert client.open(url, method=method, data={"active": "0"}).status_code == 403
    db.session.refresh(carolina)
    assert carolina.active
    assert db.session.query(AuditEntry).count() == 0


def test_notices_page_by_fifty_newest_first(client, auth, user):
    for n in range(53):
        accounts.notify(user.id, f"Aviso número {n}")
    auth.login(user)
    html = client.get("/notificaciones").get_data(as_text=True)
    assert "Aviso número 52\n" in html and "Aviso número 3\n" in html
    assert "Aviso número 2\n" not in html
    after = html.split("despues=", 1)[1].split('"', 1)[0]
    rest = client.get("/notificaciones", query_string={"despues": after}).get_data(as_text=True)
    assert all(f"Aviso número {n}\n" in rest for n in (0, 1, 2))
    assert "Aviso número 3\n" not in rest


def test_person_page_shows_the_consent_history(client, auth, admin_user, carolina):
    accounts.withdraw_consent(carolina)
    accounts.give_consent(carolina)
    auth.login(admin_user)
    html = client.get(f"/admin/personas/{carolina.id}").get_data(as_text=True)
    withdrawn, given = html.find("Retiró su consentimiento"), html.rfind("Aceptó el uso")
    assert withdrawn != -1 and given > withdrawn
