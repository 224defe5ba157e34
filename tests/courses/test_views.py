"""Course pages over HTTP: catalog, course, lessons, progress, quiz, certificates."""

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from sv_platform.courses import services
from sv_platform.courses.models import LessonProgress, QuizAttempt
from sv_platform.extensions import db
from tests.conftest import csrf_from, login_with_csrf
from tests.courses.conftest import SLUG, finish_course


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_catalog_lists_courses_with_cupos_and_filters(client, course, window):
    page = client.get("/cursos").get_data(as_text=True)
    assert "Curso de prueba: vender con confianza" in page
    assert "Comercio digital" in page and "3 horas" in page and "Quedan 10 cupos" in page
    assert 'for="q"' in page and 'for="area"' in page
    assert "Curso de prueba" in client.get("/cursos?q=confianza").get_data(as_text=True)
    empty = client.get("/cursos?area=legal").get_data(as_text=True)
    assert "No encontramos cursos con esos filtros" in empty
    assert "Curso de prueba" not in client.get("/cursos?q=panaderia").get_data(as_text=True)


def test_catalog_shows_the_persons_progress(client, auth, course, student):
    services.complete_lesson(student, SLUG, "bienvenida")
    auth.login(student)
    page = client.get("/cursos").get_data(as_text=True)
    assert "Tu avance" in page and "1 de 3 lecciones · 33 %" in page
    assert '<progress id="avance-curso-prueba"' in page


def test_course_page_resumes_at_the_first_unfinished_lesson(client, auth, course, student):
    auth.login(student)
    page = client.get(f"/cursos/{SLUG}").get_data(as_text=True)
    assert "Comenzar el curso" in page and f'href="/cursos/{SLUG}/bienvenida"' in page
    services.complete_lesson(student, SLUG, "bienvenida")
    page = client.get(f"/cursos/{SLUG}").get_data(as_text=True)
    assert re.search(rf'href="/cursos/{SLUG}/tu-cliente">\s*Continuar', page)
    assert 'max="100" value="33"' in page and "Inscrito/a" in page


def test_anonymous_reads_the_preview_but_must_log_in_for_more(client, course, window):
    preview = client.get(f"/cursos/{SLUG}/bienvenida")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<strong>vista previa</strong>" in html
    assert "Ingresa para inscribirte" in html and "Marcar como completada" not in html
    response = client.get(f"/cursos/{SLUG}/tu-cliente")
    assert response.status_code == 302
    assert "/ingresar" in response.headers["Location"]
    assert "tu-cliente" in response.headers["Location"]


def test_logged_in_without_enrolment_gets_a_clear_403(client, auth, make_user, course, window):
    auth.login(make_user())
    response = client.get(f"/cursos/{SLUG}/tu-cliente")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Inscríbete para continuar" in html and "debes estar inscrito/a" in html
    assert f'action="/inscripciones/{SLUG}"' in html
    quiz = client.get(f"/cursos/{SLUG}/evaluacion")
    assert quiz.status_code == 403
    quiz_html = quiz.get_data(as_text=True)
    assert "Inscríbete para continuar" in quiz_html and "¿Cuántos días" not in quiz_html


def test_enrol_from_the_course_page_then_read_every_lesson(client, auth, user, course, window):
    auth.login(user)
    response = client.post(f"/inscripciones/{SLUG}", data={"next": f"/cursos/{SLUG}"})
    assert response.headers["Location"].endswith(f"/cursos/{SLUG}")
    lesson = client.get(f"/cursos/{SLUG}/tu-cliente")
    html = lesson.get_data(as_text=True)
    assert lesson.status_code == 200
    assert "<table>" in html and "Marcar como completada" in html
    assert '<progress id="avance"' in html
    assert f'rel="prev" href="/cursos/{SLUG}/bienvenida"' in html
    assert f'rel="next" href="/cursos/{SLUG}/despedida"' in html


def test_mark_lesson_completed_moves_to_the_next(client, auth, course, student):
    auth.login(student)
    response = client.post(f"/cursos/{SLUG}/bienvenida/completar")
    assert response.headers["Location"].endswith(f"/cursos/{SLUG}/tu-cliente")
    page = client.get(f"/cursos/{SLUG}/bienvenida").get_data(as_text=True)
    assert "Completaste esta lección" in page
    last = client.post(f"/cursos/{SLUG}/despedida/completar")
    assert last.headers["Location"].endswith(f"/cursos/{SLUG}")


def test_mark_completed_needs_the_csrf_token(make_app, course, student):
    email = student.email
    db.session.commit()  # end the fixture session's transaction: the second app writes
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    login_with_csrf(client, email)
    refused = client.post(f"/cursos/{SLUG}/bienvenida/completar")
    assert refused.status_code == 400
    assert "código de seguridad" in refused.get_data(as_text=True)
    token = csrf_from(client.get(f"/cursos/{SLUG}/bienvenida").get_data(as_text=True))
    ok = client.post(f"/cursos/{SLUG}/bienvenida/completar", data={"csrf_token": token})
    assert ok.status_code == 302
    with app.app_context():
        assert _count(LessonProgress) == 1


def test_someone_not_enrolled_cannot_mark_progress(client, auth, make_user, course, student):
    auth.login(make_user())
    response = client.post(f"/cursos/{SLUG}/bienvenida/completar")
    assert response.status_code == 403
    assert "Inscríbete para continuar" in response.get_data(as_text=True)
    assert _count(LessonProgress) == 0


def test_quiz_page_never_contains_the_answers(client, auth, course, student):
    auth.login(student)
    html = client.get(f"/cursos/{SLUG}/evaluacion").get_data(as_text=True)
    assert "¿Cuántos días tiene el derecho a retracto" in html
    radios = re.findall(r"<input[^>]*type=\"radio\"[^>]*>", html)
    assert len(radios) == 7
    # Options differ only by their id, name and index value: nothing marks the right one.
    shapes = {re.sub(r'(id|name|value)="[^"]*"', "", tag) for tag in radios}
    assert len(shapes) == 1 and "checked" not in html
    for word in ("answer", "correct", "respuesta-correcta", "data-"):
        assert word not in html.split("<main", 1)[1]


def test_quiz_submission_shows_score_and_wrong_questions(client, auth, course, student):
    auth.login(student)
    response = client.post(
        f"/cursos/{SLUG}/evaluacion", data={"q0": "0", "q1": "1", "q2": "1"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Obtuviste 33 %. Necesitas 60 %" in html
    assert "Resultado de tu último intento: 33 %" in html
    assert 'href="#pregunta-1">Pregunta 1' in html and 'href="#pregunta-3">Pregunta 3' in html
    assert 'href="#pregunta-2"' not in html
    # The retry keeps the previous choices selected.
    assert re.search(r'<input checked[^>]*id="q1-1"', html)


def test_quiz_with_missing_answers_keeps_choices_and_stores_nothing(client, auth, course, student):
    auth.login(student)
    html = client.post(f"/cursos/{SLUG}/evaluacion", data={"q0": "1"}).get_data(as_text=True)
    assert "Responde todas las preguntas antes de enviar la evaluación." in html
    assert "Elige una respuesta para esta pregunta." in html
    assert re.search(r'<input checked[^>]*id="q0-1"', html)
    assert _count(QuizAttempt) == 0


def test_passing_the_quiz_after_all_lessons_graduates(client, auth, course, student):
    auth.login(student)
    for slug in ("bienvenida", "tu-cliente", "despedida"):
        client.post(f"/cursos/{SLUG}/{slug}/completar")
    html = client.post(
        f"/cursos/{SLUG}/evaluacion", data={"q0": "1", "q1": "1", "q2": "0"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "¡Aprobaste la evaluación con 100 %!" in html and "Egresaste del curso" in html
    mine = client.get("/mis-cursos").get_data(as_text=True)
    assert "Egresado/a" in mine and f"/cursos/{SLUG}/certificado" in mine


@pytest.fixture
def certificate(course, student):
    finish_course(student)
    return services.certificate_for(student.id, course.id)


def test_owner_downloads_the_certificate_pdf(client, auth, student, certificate):
    body, dv = student.rut.split("-")
    auth.login(student)
    page = client.get(f"/cursos/{SLUG}/certificado").get_data(as_text=True)
    assert certificate.code in page and "data:image/png;base64," in page
    response = client.get(f"/certificados/{certificate.code}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Marta Estudiante Rojas" in text
    assert f"RUT {int(body):,}-{dv}".replace(",", ".") in text
    assert certificate.code in text and "3 horas" in text
    assert f"/certificados/{certificate.code}" in text


def test_another_person_cannot_download_someone_elses_certificate(
    client, auth, make_user, certificate
):
    auth.login(make_user())
    response = client.get(f"/certificados/{certificate.code}/pdf")
    assert response.status_code == 403
    assert b"%PDF" not in response.data
    page = client.get(f"/cursos/{SLUG}/certificado")
    assert page.status_code == 404
    assert "Página no encontrada" in page.get_data(as_text=True)
    assert certificate.code not in page.get_data(as_text=True)


def test_verification_page_for_a_valid_code(client, student, certificate):
    response = client.get(f"/certificados/{certificate.code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Certificado auténtico" in html
    assert "Marta Estudiante Rojas" in html and "Curso de prueba" in html
    body, dv = student.rut.split("-")
    assert f"*.***.{body[-3:]}-{dv}</dd>" in html
    assert body not in html and f"{int(body):,}".replace(",", ".") not in html


@pytest.mark.parametrize("code", ["AAAAAAAAAAAAAAAA", "corto", "<script>x"])
def test_verification_page_for_an_invalid_code(client, course, code):
    response = client.get(f"/certificados/{code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "No encontramos este certificado" in html and "<script>x" not in html


def test_my_courses_lists_progress_and_last_activity(client, auth, course, student):
    auth.login(student)
    client.post(f"/cursos/{SLUG}/bienvenida/completar")
    html = client.get("/mis-cursos").get_data(as_text=True)
    assert "Curso de prueba" in html and "1 de 3 lecciones" in html
    assert "Última actividad:" in html and "aún no comienzas" not in html
    assert f'href="/cursos/{SLUG}/tu-cliente">Continuar' in html


def test_reused_lesson_body_follows_progress_and_carries_this_sessions_token(
    make_app, course, student, make_user, enrol
):
    """The lesson's body is rendered once per content version and completed lessons: a
    second person, or the same one after completing the lesson, never sees another state,
    and the complete form carries the token of the session that asks."""
    other = make_user(name="Rosa Otra Pérez")
    enrol(other)
    people = [(student.email, student.id), (other.email, other.id)]
    student_id, other_id = student.id, other.id
    db.session.commit()  # end the fixture session's transaction: the second app writes
    app = make_app(WTF_CSRF_ENABLED=True)
    pages = {}
    clients = {}
    for email, person_id in people:
        c = app.test_client()
        login_with_csrf(c, email)
        clients[person_id] = c
        pages[person_id] = c.get(f"/cursos/{SLUG}/tu-cliente").get_data(as_text=True)
    for page in pages.values():
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert form_token == csrf_from(page)  # the meta tag's token: this session's
        assert "Marcar como completada" in page and "<sv-" not in page
    first = clients[student_id]
    done = first.post(
        f"/cursos/{SLUG}/tu-cliente/completar",
        data={"csrf_token": csrf_from(pages[student_id])},
    )
    assert done.status_code == 302
    after = first.get(f"/cursos/{SLUG}/tu-cliente").get_data(as_text=True)
    assert "Completaste esta lección" in after and "1 de 3 lecciones" in after
    still = clients[other_id].get(f"/cursos/{SLUG}/tu-cliente").get_data(as_text=True)
    assert "Marcar como completada" in still and "0 de 3 lecciones" in still


def _confirmed(person):
    from sv_platform.core.timeutil import utcnow

    person.email_confirmed_at = utcnow()
    db.session.commit()
    return person


def test_repeat_visit_of_a_lesson_is_not_modified_only_for_the_same_page_and_session(
    client, auth, course, student, make_user, enrol, app
):
    _confirmed(student)
    auth.login(student)
    url = f"/cursos/{SLUG}/tu-cliente"
    client.get("/privacidad")  # shows (and uses up) the login's message
    first = client.get(url)
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    # Completing the lesson changes the page: the kept copy is not confirmed.
    client.post(f"/cursos/{SLUG}/tu-cliente/completar")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Completaste esta lección" in changed.get_data(as_text=True)
    # Another person whose page reads the same gets her own tag (her session's).
    other = _confirmed(make_user(name="Rosa Otra Pérez"))
    enrol(other)
    second = app.test_client()
    second.post("/ingresar", data={"identifier": other.email, "password": "clave-de-prueba-segura"})
    second.get("/privacidad")
    theirs = second.get(url)
    assert theirs.status_code == 200 and theirs.headers["ETag"] != etag
    assert second.get(url, headers={"If-None-Match": etag}).status_code == 200
    # After "Salir" the browser is told to drop what it kept, and the old tag means nothing.
    kept = client.get(url).headers["ETag"]
    out = auth.logout()
    assert out.headers["Clear-Site-Data"] == '"cache"'
    auth.login(student)
    client.get("/privacidad")
    assert client.get(url, headers={"If-None-Match": kept}).status_code == 200


def test_pages_with_the_email_banner_and_private_pages_stay_no_store(client, auth, course, student):
    auth.login(student)  # address not confirmed: the banner shows it on every page
    lesson = client.get(f"/cursos/{SLUG}/tu-cliente")
    assert "Confirma tu correo" in lesson.get_data(as_text=True)
    assert lesson.headers["Cache-Control"] == "no-store" and "ETag" not in lesson.headers
    _confirmed(student)
    assert client.get("/perfil").headers["Cache-Control"] == "no-store"
    assert client.get("/mis-cursos").headers["Cache-Control"] == "no-store"
    assert client.get(f"/cursos/{SLUG}/tu-cliente").headers["Cache-Control"] == (
        "private, no-cache"
    )
