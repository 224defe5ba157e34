"""Course rules called directly: sanitizing, access, progress, quiz, egreso, certificates."""

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sv_platform.accounts import services as accounts
from sv_platform.core.domain import InvalidInput, NotFound
from sv_platform.core.rut import mask_rut
from sv_platform.courses import services
from sv_platform.courses.models import Certificate, LessonProgress, QuizAttempt
from sv_platform.enrollment import services as enrollment
from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db
from tests.courses.conftest import RIGHT_ANSWERS, SLUG, finish_course, lesson_text

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert('x')</script>",
        '<img src="x.png" onerror="alert(1)">',
        "[pincha aquí](javascript:alert(1))",
        '<a href="javascript:alert(1)">enlace</a>',
        '<svg onload="alert(1)"><script>alert(2)</script></svg>',
        '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        '<iframe src="https://malo.example"></iframe>',
        '<p style="background:url(javascript:alert(1))" onclick="alert(1)">hola</p>',
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        "![x](javascript:alert(1))",
    ],
)
def test_xss_vectors_in_lesson_markdown_come_out_inert(content_root, course, payload):
    folder = content_root / "courses" / SLUG
    (folder / "01-bienvenida.md").write_text(
        lesson_text("Bienvenida al curso", 10, f"Texto normal.\n\n{payload}\n"), encoding="utf-8"
    )
    services.load_content(content_root)
    lesson = services.lesson_page(None, SLUG, "bienvenida").lesson
    html = str(services.lesson_html(lesson)).lower()
    for bad in (
        "<script",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<iframe",
        "<svg",
        "<math",
        "style=",
    ):
        assert bad not in html, (payload, html)
    assert "texto normal." in html


def test_safe_markdown_keeps_tables_links_images_and_code(content_root, course):
    folder = content_root / "courses" / SLUG
    body = (
        "| A | B |\n|---|---|\n| 1 | 2 |\n\n[SII](https://www.sii.cl)\n\n"
        "![Foto](https://example.cl/foto.png)\n\n```\ncodigo()\n```\n"
    )
    (folder / "01-bienvenida.md").write_text(lesson_text("Bienvenida", 10, body))
    services.load_content(content_root)
    html = str(services.lesson_html(services.lesson_page(None, SLUG, "bienvenida").lesson))
    assert "<table>" in html and 'href="https://www.sii.cl"' in html
    assert '<img alt="Foto" src="https://example.cl/foto.png">' in html
    assert "<pre><code>codigo()" in html


def test_rendered_html_cache_follows_the_content_version(content_root, course):
    lesson = services.lesson_page(None, SLUG, "bienvenida").lesson
    assert "vista previa" in services.lesson_html(lesson)
    folder = content_root / "courses" / SLUG
    (folder / "01-bienvenida.md").write_text(lesson_text("Bienvenida", 10, "Versión nueva."))
    services.load_content(content_root)
    db.session.expire_all()
    fresh = services.lesson_page(None, SLUG, "bienvenida").lesson
    assert fresh.id == lesson.id and "Versión nueva." in services.lesson_html(fresh)


def test_cached_course_structure_follows_the_content_version(
    content_root, course, make_user, enrol
):
    person = make_user()
    enrol(person)
    page = services.lesson_page(person, SLUG, "tu-cliente")
    assert [x.slug for x in page.lessons] == ["bienvenida", "tu-cliente", "despedida"]
    folder = content_root / "courses" / SLUG
    (folder / "02-tu-cliente.md").write_text(lesson_text("Quién te compra", 15, "Nuevo."))
    (folder / "03-despedida.md").unlink()
    yml = folder / "course.yml"
    yml.write_text(
        yml.read_text()
        .replace("[bienvenida, tu-cliente]", "[bienvenida, tu-cliente, adios]")
        .replace("lessons: [despedida]", "lessons: [cierre]")
    )
    (folder / "03-adios.md").write_text(lesson_text("Adiós", 5, "Chao."))
    (folder / "04-cierre.md").write_text(lesson_text("Cierre", 5, "Fin."))
    services.load_content(content_root)
    db.session.expire_all()
    fresh = services.lesson_page(person, SLUG, "tu-cliente")
    assert [x.slug for x in fresh.lessons] == ["bienvenida", "tu-cliente", "adios", "cierre"]
    assert fresh.lesson.title == "Quién te compra" and fresh.lesson.id == page.lesson.id
    assert "Nuevo." in fresh.html and fresh.next.slug == "adios"
    with pytest.raises(NotFound):
        services.lesson_page(person, SLUG, "despedida")


def test_lesson_page_takes_one_query_once_cached(course, make_user, enrol):
    from sqlalchemy import event

    person = make_user()
    enrol(person)
    services.lesson_page(person, SLUG, "tu-cliente")
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = services.lesson_page(person, SLUG, "tu-cliente")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert page.has_seat and "Tu cliente" in page.html
    # The content version, the person's progress and their seat come in one statement.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


def test_first_lesson_is_a_free_preview_and_the_rest_need_a_seat(course, make_user, window, enrol):
    preview = services.lesson_page(None, SLUG, "bienvenida")
    assert preview.is_preview and not preview.has_seat and preview.state.code == "open"
    with pytest.raises(services.LoginRequired):
        services.lesson_page(None, SLUG, "tu-cliente")
    outsider = make_user()
    with pytest.raises(services.NotEnrolled) as caught:
        services.lesson_page(outsider, SLUG, "tu-cliente")
    assert caught.value.status == 403 and "inscrito/a" in caught.value.message
    enrol(outsider)
    assert services.lesson_page(outsider, SLUG, "tu-cliente").has_seat


def test_waitlisted_person_cannot_open_lessons_nor_mark_progress(course, make_user):
    enrollment.create_window(offering_slug=SLUG, capacity=1)
    first, second = make_user(), make_user()
    offering = enrollment.get_offering(SLUG)
    enrollment.enroll(first, offering)
    assert enrollment.enroll(second, offering).status == "waitlisted"
    with pytest.raises(services.NotEnrolled):
        services.lesson_page(second, SLUG, "tu-cliente")
    with pytest.raises(services.NotEnrolled):
        services.complete_lesson(second, SLUG, "bienvenida")
    assert _count(LessonProgress) == 0


def test_unknown_course_and_lesson_are_not_found(course):
    with pytest.raises(NotFound):
        services.course_page(None, "no-existe")
    with pytest.raises(NotFound):
        services.lesson_page(None, SLUG, "no-existe")


def test_progress_and_resume_at_the_first_unfinished_lesson(course, student):
    page = services.course_page(student, SLUG)
    assert (page.progress.done, page.progress.total, page.resume.slug) == (0, 3, "bienvenida")
    following = services.complete_lesson(student, SLUG, "bienvenida", now=NOW)
    assert following.slug == "tu-cliente"
    services.complete_lesson(student, SLUG, "despedida", now=NOW)
    services.complete_lesson(student, SLUG, "despedida", now=NOW)  # a double submit
    page = services.course_page(student, SLUG)
    assert (page.progress.done, page.progress.percent) == (2, 66)
    assert page.resume.slug == "tu-cliente"
    assert _count(LessonProgress) == 2


def test_not_enrolled_person_cannot_mark_progress(course, make_user, window):
    with pytest.raises(services.NotEnrolled):
        services.complete_lesson(make_user(), SLUG, "bienvenida")
    assert _count(LessonProgress) == 0


def test_quiz_is_graded_on_the_server(course, student):
    questions = services.quiz_questions(course)
    assert all(set(q) == {"text", "options"} for q in questions)
    failed = services.submit_quiz(student, SLUG, [0, 1, 1], now=NOW)
    assert (failed.score, failed.passed, failed.answers["wrong"]) == (33, False, [0, 2])
    assert services.quiz_page(student, SLUG).retry_choices == [0, 1, 1]
    passed = services.submit_quiz(student, SLUG, RIGHT_ANSWERS, now=NOW)
    assert (passed.score, passed.passed, passed.answers["wrong"]) == (100, True, [])
    assert services.quiz_passed(student.id, course.id)
    assert services.quiz_page(student, SLUG).retry_choices == []
    assert _count(QuizAttempt) == 2


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ([1, None, 0], "Responde todas las preguntas antes de enviar la evaluación."),
        ([1, 1], "Responde todas las preguntas antes de enviar la evaluación."),
        ([1, 7, 0], "Una de las respuestas no es válida. Vuelve a elegirla."),
        ([1, "x", 0], "Una de las respuestas no es válida. Vuelve a elegirla."),
    ],
)
def test_invalid_quiz_submission_changes_nothing(course, student, chosen, message):
    with pytest.raises(InvalidInput) as caught:
        services.submit_quiz(student, SLUG, chosen)
    assert caught.value.message == message
    assert _count(QuizAttempt) == 0


def test_passing_score_is_the_threshold(course, student):
    # 2 of 3 right = 67 % ≥ 60 % passes; 1 of 3 = 33 % does not.
    two_right = services.submit_quiz(student, SLUG, [1, 1, 1])
    assert (two_right.score, two_right.passed) == (67, True)
    one_right = services.submit_quiz(student, SLUG, [0, 1, 1])
    assert (one_right.score, one_right.passed) == (33, False)


def test_egreso_needs_every_lesson_and_the_quiz(course, student):
    services.submit_quiz(student, SLUG, RIGHT_ANSWERS, now=NOW)
    services.complete_lesson(student, SLUG, "bienvenida", now=NOW)
    services.complete_lesson(student, SLUG, "tu-cliente", now=NOW)
    current = enrollment.latest_enrollment(student.id, course.offering_id)
    assert current.status == "active" and _count(Certificate) == 0
    services.complete_lesson(student, SLUG, "despedida", now=NOW)
    db.session.refresh(current)
    assert current.status == "graduated" and current.graduated_at == NOW
    assert _count(Certificate) == 1


def test_egreso_happens_exactly_once(course, student):
    finish_course(student)
    current = enrollment.latest_enrollment(student.id, course.offering_id)
    graduated_at = current.graduated_at
    certificate = services.certificate_for(student.id, course.id)
    # Repeated submissions and checks later on change nothing.
    later = datetime(2027, 1, 5, tzinfo=UTC)
    services.submit_quiz(student, SLUG, RIGHT_ANSWERS, now=later)
    services.complete_lesson(student, SLUG, "despedida", now=later)
    assert services.check_completion(student, course, now=later).id == certificate.id
    db.session.refresh(current)
    assert current.graduated_at == graduated_at
    assert _count(Certificate) == 1
    assert (
        db.session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.status == "graduated")
        )
        == 1
    )
    notices = [n.text for n in accounts.notifications_for(student.id)]
    assert sum("Egresaste" in text for text in notices) == 1


def test_certificate_snapshot_and_unguessable_code(course, student):
    finish_course(student)
    certificate = services.certificate_for(student.id, course.id)
    assert certificate.name == "Marta Estudiante Rojas" and certificate.rut == student.rut
    assert certificate.hours == 3 and certificate.course_title == course.title
    assert len(certificate.code) == 16 and certificate.code.isalnum()
    assert services.get_certificate(certificate.code.lower()).id == certificate.id
    with pytest.raises(NotFound):
        services.get_certificate("AAAAAAAAAAAAAAAA")


@pytest.mark.parametrize(
    ("rut", "masked"),
    [
        ("12345678-5", "**.***.678-5"),
        ("7654321-6", "*.***.321-6"),
        ("16666666-K", "**.***.666-K"),
        (None, "no informado"),
    ],
)
def test_mask_rut(rut, masked):
    assert mask_rut(rut) == masked


def test_catalog_filters_by_area_and_text(app, course, make_user):
    assert [c.course.slug for c in services.catalog(None, query="confianza")] == [SLUG]
    assert [c.course.slug for c in services.catalog(None, query="PLATAFORMA formacion")] == [SLUG]
    assert services.catalog(None, query="cocina") == []
    assert services.catalog(None, area="legal") == []
    assert [c.course.slug for c in services.catalog(None, area="digital")] == [SLUG]
    assert services.catalog(None)[0].state.code == "none"


def test_my_courses_and_personal_data(course, student):
    services.complete_lesson(student, SLUG, "bienvenida", now=NOW)
    rows = services.my_courses(student)
    assert len(rows) == 1
    assert rows[0].progress.done == 1 and rows[0].last_activity == NOW
    assert rows[0].resume.slug == "tu-cliente" and rows[0].certificate is None
    finish_course(student)
    data = services.export_user_data(student.id)["cursos"]
    assert len(data["lecciones_completadas"]) == 3
    assert data["evaluaciones"][0]["aprobada"] is True
    assert data["certificados"][0]["curso"] == course.title
    services.anonymize_user(student.id)
    certificate = services.certificate_for(student.id, course.id)
    assert certificate.name == "Persona eliminada" and certificate.rut is None


def test_concurrent_double_submit_graduates_once(app, course, student):
    from sv_platform.accounts.models import User

    services.complete_lesson(student, SLUG, "bienvenida")
    services.complete_lesson(student, SLUG, "tu-cliente")
    services.submit_quiz(student, SLUG, RIGHT_ANSWERS)
    user_id = student.id
    db.session.commit()
    barrier, errors = threading.Barrier(2, timeout=60), []

    def submit():
        with app.app_context():
            person = db.session.get(User, user_id)
            db.session.commit()  # release the lock the read took before both go at once
            barrier.wait()
            try:
                services.complete_lesson(person, SLUG, "despedida")
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.expire_all()
    assert _count(Certificate) == 1 and _count(LessonProgress) == 3
    assert enrollment.latest_enrollment(user_id, course.offering_id).status == "graduated"
    notices = [n.text for n in accounts.notifications_for(user_id)]
    assert sum("Egresaste" in text for text in notices) == 1


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("ventas en linea", "vende-en-linea"),
        ("formalizar", "formaliza-tu-negocio"),
        ("reciclaje", "pyme-sustentable"),
        ("boletas electronicas", "formaliza-tu-negocio"),
        ("energia", "pyme-sustentable"),
    ],
)
def test_catalog_search_ranks_by_spanish_words(app, query, slug):
    services.load_content(Path(__file__).resolve().parents[2])
    found = [c.course.slug for c in services.catalog(None, query=query)]
    assert found and found[0].startswith(slug)
