"""The home page: a landing page for visitors, what to do next for each entrepreneur, and
staff sent to their own starting page."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from sv_platform.accounts import services as accounts
from sv_platform.advisory import chat, lifecycle
from sv_platform.courses import services as courses
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from sv_platform.reports import surveys
from tests.courses.conftest import SLUG, finish_course, write_course
from tests.reports.conftest import SURVEY_FORM

EXTRA_SLUGS = ("curso-dos", "curso-tres", "curso-cuatro")


@pytest.fixture
def catalog(app, tmp_path):
    """Four small courses loaded for real, each with an open window of 10 cupos."""
    root = tmp_path / "contenido"
    for slug in (SLUG, *EXTRA_SLUGS):
        write_course(root, slug)
    courses.load_content(root)
    for slug in (SLUG, *EXTRA_SLUGS):
        enrollment.create_window(offering_slug=slug, capacity=10)
    return root


def text_of(response) -> str:
    html = response.get_data(as_text=True)
    main = html[html.index("<main") : html.index("</main>")]
    main = re.sub(r"</?(?:a|strong|span|em)\b[^>]*>", "", main)  # inline: no word break
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@contextmanager
def counted_queries():
    """Count the SQL statements run inside the block."""
    statements = []

    def count(*_args, **_kwargs):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_visitors_get_the_landing_page(client):
    page = text_of(client.get("/"))
    assert "Herramientas gratuitas para hacer crecer tu negocio" in page
    assert "Crear mi cuenta" in page and "Continúa" not in page


@pytest.mark.parametrize(
    ("role", "target"), [("advisor", "/asesor/consultas"), ("admin", "/admin/reportes")]
)
def test_staff_land_on_their_own_page_from_login_and_from_home(
    client, auth, make_user, role, target
):
    staff = make_user(role)
    assert auth.login(staff).headers["Location"] == target
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == target


def test_a_new_entrepreneur_is_shown_where_to_start(client, auth, user):
    auth.login(user)
    response = client.get("/")
    assert response.status_code == 200
    page = text_of(response)
    assert f"Hola, {user.first_name}" in page
    assert "Aún no tienes cursos ni consultas en curso" in page
    html = response.get_data(as_text=True)
    for link in ('href="/cursos"', 'href="/preguntas-frecuentes"', 'href="/consultas/nueva"'):
        assert link in html
    assert "Continúa" not in page and "lista de espera" not in page


def test_home_continues_the_course_where_she_left_it(client, auth, make_user, catalog):
    student = make_user()
    enrollment.enroll(student, enrollment.get_offering(SLUG))
    courses.complete_lesson(student, SLUG, "bienvenida")
    auth.login(student)
    response = client.get("/")
    page = text_of(response)
    assert "Continúa tu curso" in page
    assert "Curso de prueba: vender con confianza" in page
    assert "1 de 3 lecciones · 33 %" in page
    assert "Siguiente lección: Conoce a tu cliente (15 min)" in page
    assert f'href="/cursos/{SLUG}/tu-cliente"' in response.get_data(as_text=True)
    assert "Por dónde empezar" not in page and "Algo más" in page


def test_all_lessons_done_sends_her_to_the_quiz(client, auth, make_user, catalog):
    student = make_user()
    enrollment.enroll(student, enrollment.get_offering(SLUG))
    for lesson in ("bienvenida", "tu-cliente", "despedida"):
        courses.complete_lesson(student, SLUG, lesson)
    auth.login(student)
    response = client.get("/")
    page = text_of(response)
    assert "3 de 3 lecciones · 100 %" in page
    assert "te falta aprobar la evaluación para egresar" in page
    assert f'href="/cursos/{SLUG}/evaluacion"' in response.get_data(as_text=True)


def test_home_offers_the_exit_survey_until_it_is_answered(client, auth, make_user, catalog):
    student = make_user()
    seat = enrollment.enroll(student, enrollment.get_offering(SLUG))
    finish_course(student)
    auth.login(student)
    response = client.get("/")
    page = text_of(response)
    assert "Encuesta de egreso pendiente" in page
    assert "Terminaste «Curso de prueba: vender con confianza»" in page
    assert f'href="/encuestas/egreso/{seat.id}"' in response.get_data(as_text=True)
    assert "Continúa tu curso" not in page  # graduated: nothing left to continue
    surveys.answer_exit_survey(student, seat.id, **SURVEY_FORM)
    assert "Encuesta de egreso" not in text_of(client.get("/"))


def test_home_says_the_place_on_each_waitlist(client, auth, make_user, app, tmp_path):
    root = tmp_path / "contenido"
    write_course(root)
    courses.load_content(root)
    enrollment.create_window(offering_slug=SLUG, capacity=1)
    offering = enrollment.get_offering(SLUG)
    for _ in range(3):  # one seat, then two people waiting ahead of her
        enrollment.enroll(make_user(), offering)
    waiting = make_user()
    assert enrollment.enroll(waiting, offering).status == "waitlisted"
    auth.login(waiting)
    page = text_of(client.get("/"))
    assert (
        "Estás en el lugar 3 de la lista de espera de «Curso de prueba: vender con confianza»."
        in page
    )
    assert "Continúa tu curso" not in page


def test_home_lists_open_consultas_with_their_state(client, auth, make_user, make_window):
    make_window(area="legal")
    owner, advisor = make_user(), make_user("advisor", specialty="legal")
    asked = lifecycle.open_consultation(
        owner,
        area="legal",
        subject="¿Cómo registro mi marca?",
        description="Tengo una pyme de alimentos y quiero proteger el nombre.",
    )
    lifecycle.take(asked.id, advisor)
    chat.post_message(asked.id, advisor, "¿Tu marca ya está en uso?", "m-1")
    lifecycle.ask(asked.id, advisor)
    auth.login(owner)
    response = client.get("/")
    page = text_of(response)
    assert "Tu consulta" in page
    assert "¿Cómo registro mi marca?" in page
    assert "Esperando tu respuesta" in page
    assert "La persona asesora espera tu respuesta." in page
    assert f'href="/consultas/{asked.id}"' in response.get_data(as_text=True)
    # Someone else sees none of it.
    auth.logout()
    auth.login(make_user())
    assert "¿Cómo registro mi marca?" not in text_of(client.get("/"))


def test_home_shows_unread_notices_only(client, auth, user):
    accounts.notify(user.id, "Se liberó un cupo en «Asesoría Legal Virtual».", "/consultas")
    auth.login(user)
    page = text_of(client.get("/"))
    assert "Aviso sin leer" in page and "Se liberó un cupo" in page
    accounts.mark_notifications_read(user.id)
    assert "Se liberó un cupo" not in text_of(client.get("/"))


def test_the_home_runs_the_same_few_queries_however_much_she_has(
    client, auth, make_user, make_window, catalog
):
    """No query per course, enrolment or consulta: one course and one egreso cost what
    three courses, an egreso, a waitlist place and consultas cost."""
    light = make_user()
    enrollment.enroll(light, enrollment.get_offering(SLUG))
    enrollment.enroll(light, enrollment.get_offering(EXTRA_SLUGS[0]))
    finish_course(light, EXTRA_SLUGS[0])
    auth.login(light)
    client.get("/")
    with counted_queries() as few:
        page = text_of(client.get("/"))
    assert "Continúa tu curso" in page and "Encuesta de egreso pendiente" in page
    auth.logout()

    heavy = make_user()
    for slug in (SLUG, *EXTRA_SLUGS):
        enrollment.enroll(heavy, enrollment.get_offering(slug))
        courses.complete_lesson(heavy, slug, "bienvenida")
    courses.submit_quiz(heavy, EXTRA_SLUGS[1], [0, 0, 1])  # a failed try
    finish_course(heavy, EXTRA_SLUGS[0])  # an egreso: its exit survey is pending
    make_window(area="legal", capacity=1)
    make_window(area="sustainability", capacity=5)
    lifecycle.open_consultation(
        make_user(), area="legal", subject="Otra consulta", description="x" * 30
    )
    lifecycle.open_consultation(
        heavy, area="legal", subject="Mi consulta en espera", description="y" * 30
    )
    lifecycle.open_consultation(
        heavy, area="sustainability", subject="Mi consulta de reciclaje", description="z" * 30
    )
    auth.login(heavy)
    client.get("/")
    with counted_queries() as many:
        page = text_of(client.get("/"))
    assert "Continúa tus cursos" in page and "Encuesta de egreso pendiente" in page
    assert "Mi consulta en espera" in page and "Mi consulta de reciclaje" in page
    assert "Estás en el lugar 1 de la lista de espera de «Asesoría Legal Virtual»." in page
    print(f"home queries: light={len(few)} heavy={len(many)}")
    assert len(many) == len(few), (len(few), len(many))
    assert len(many) <= 12


def _nav(html: str) -> str:
    return html[html.index("<header>") : html.index("</header>")]


def test_reused_navigation_follows_role_page_unread_count_and_session(
    client, auth, user, admin_user
):
    """The navigation is rendered once per role, page and badge state and reused: each
    request still gets its own unread count, active link and logout token."""
    auth.login(user)
    plain = _nav(client.get("/privacidad").get_data(as_text=True))
    assert "Mis cursos" in plain and "sin leer" not in plain and "<sv-" not in plain
    accounts.notify(user.id, "Primer aviso.", "/consultas")
    one = _nav(client.get("/privacidad").get_data(as_text=True))
    assert '>1<span class="visually-hidden"> sin leer</span>' in one
    accounts.notify(user.id, "Segundo aviso.", "/consultas")
    two = client.get("/privacidad").get_data(as_text=True)
    assert '>2<span class="visually-hidden"> sin leer</span>' in _nav(two)
    token = re.search(r'name="csrf_token" value="([^"]+)"', _nav(two)).group(1)
    assert token == re.search(r'name="csrf-token" content="([^"]+)"', two).group(1)
    courses = _nav(client.get("/mis-cursos").get_data(as_text=True))
    assert 'aria-current="page"\n     href="/mis-cursos"' in courses
    assert 'aria-current="page"' not in _nav(client.get("/privacidad").get_data(as_text=True))
    auth.logout()
    anonymous = _nav(client.get("/privacidad").get_data(as_text=True))
    assert "Ingresar" in anonymous and "Salir" not in anonymous and "Mis cursos" not in anonymous
    auth.login(admin_user)
    admin = _nav(client.get("/privacidad").get_data(as_text=True))
    assert "Reportes" in admin and "Mis cursos" not in admin and "sin leer" not in admin
