"""Egreso follows the content: a retired lesson, a new lesson, a quiz still pending."""

from sv_platform.courses import services
from sv_platform.courses.models import QuizAttempt
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from tests.conftest import csrf_from
from tests.courses.conftest import RIGHT_ANSWERS, SLUG


def test_retiring_the_only_missing_lesson_graduates_at_the_next_load(content_root, course, student):
    lessons = services.course_lessons(course.id)
    for lesson in lessons[:2]:  # all but "despedida"
        services.complete_lesson(student, SLUG, lesson.slug)
    services.submit_quiz(student, SLUG, RIGHT_ANSWERS)
    assert services.certificate_for(student.id, course.id) is None
    (content_root / "courses" / SLUG / "03-despedida.md").unlink()
    text = (content_root / "courses" / SLUG / "course.yml").read_text(encoding="utf-8")
    (content_root / "courses" / SLUG / "course.yml").write_text(
        text.replace("lessons: [bienvenida, tu-cliente]", "lessons: [bienvenida]").replace(
            "lessons: [despedida]", "lessons: [tu-cliente]"
        ),
        encoding="utf-8",
    )
    services.load_content(content_root)
    seat = enrollment.latest_enrollment(student.id, course.offering_id)
    assert seat.status == "graduated"
    assert services.certificate_for(student.id, course.id) is not None


def test_the_egreso_job_heals_what_a_content_load_left(course, student):
    lessons = services.course_lessons(course.id)
    for lesson in lessons:
        services.complete_lesson(student, SLUG, lesson.slug)
    # A passed attempt stored without the completion check that follows it (the process
    # died in between).
    db.session.add(
        QuizAttempt(
            user_id=student.id,
            course_id=course.id,
            score=100,
            passed=True,
            answers={"chosen": RIGHT_ANSWERS, "wrong": []},
            quiz_hash=course.quiz_hash,
        )
    )
    db.session.commit()
    assert services.graduate_completed() == 1
    assert services.graduate_completed() == 0
    assert services.certificate_for(student.id, course.id) is not None


def test_a_lesson_added_after_egreso_keeps_the_graduate_at_100(
    client, auth, content_root, course, student
):
    from tests.courses.conftest import finish_course, lesson_text

    finish_course(student)
    folder = content_root / "courses" / SLUG
    (folder / "04-extra.md").write_text(lesson_text("Lección extra", 5, "Nueva."), "utf-8")
    text = (folder / "course.yml").read_text(encoding="utf-8")
    (folder / "course.yml").write_text(
        text.replace("lessons: [despedida]", "lessons: [despedida, extra]"), encoding="utf-8"
    )
    services.load_content(content_root)
    auth.login(student)
    html = client.get(f"/cursos/{SLUG}").get_data(as_text=True)
    assert "Egresado/a · 100 %" in html
    assert "1 lección nueva desde tu egreso" in html
    assert "Egresado/a · 100 %" in client.get("/mis-cursos").get_data(as_text=True)


def test_all_lessons_done_with_the_quiz_pending_says_so(client, auth, course, student):
    for lesson in services.course_lessons(course.id):
        services.complete_lesson(student, SLUG, lesson.slug)
    auth.login(student)
    html = client.get(f"/cursos/{SLUG}").get_data(as_text=True)
    assert "te falta aprobar la evaluación para egresar" in html
    assert "te falta aprobar la evaluación" in client.get("/mis-cursos").get_data(as_text=True)


def test_the_quiz_explains_after_an_attempt(client, auth, course, student):
    auth.login(student)
    page = client.get(f"/cursos/{SLUG}/evaluacion").get_data(as_text=True)
    assert "Así lo dice la Ley del Consumidor." not in page
    token = csrf_from(page)
    wrong = {"csrf_token": token, "q0": "0", "q1": "0", "q2": "0"}  # 1 of 3: not passed
    html = client.post(f"/cursos/{SLUG}/evaluacion", data=wrong, follow_redirects=True)
    html = html.get_data(as_text=True)
    assert html.count("Para repasar:") == 2  # only the wrong questions, no option given away
    assert "Respuesta: " not in html
    right = {"csrf_token": token, "q0": "1", "q1": "1", "q2": "0"}
    for lesson in services.course_lessons(course.id):
        services.complete_lesson(student, SLUG, lesson.slug)
    html = client.post(f"/cursos/{SLUG}/evaluacion", data=right, follow_redirects=True)
    html = html.get_data(as_text=True)
    assert "Respuestas correctas" in html
    assert "Respuesta: 10 días. Así lo dice la Ley del Consumidor." in html
