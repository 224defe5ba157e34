"""Importing course content: idempotent, identity by slug, retire instead of delete, and
invalid files rejected with file and line while nothing changes."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from sv_platform.courses import services
from sv_platform.courses.models import Course, Lesson, LessonProgress
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from tests.courses.conftest import SLUG, lesson_text, write_course

ROOT = Path(__file__).resolve().parents[2]


def _snapshot():
    return sorted(
        db.session.execute(
            select(Lesson.id, Lesson.slug, Lesson.content_hash, Lesson.retired_at)
        ).all()
    ), sorted(db.session.execute(select(Course.slug, Course.content_hash)).all())


def test_real_courses_load_and_reload_idempotently(app):
    summary = services.load_content(ROOT)
    assert "3 nuevos" in summary
    slugs = {c.slug for c in services.list_courses()}
    assert slugs == {"vende-en-linea", "formaliza-tu-negocio", "pyme-sustentable"}
    for slug in slugs:  # each course has its enrolment offering (slug = course slug)
        offering = enrollment.get_offering(slug)
        assert offering.kind == "course" and offering.reference == slug
    before = _snapshot()
    again = services.load_content(ROOT)
    assert "3 sin cambios" in again and "0 nuevas, 0 actualizadas, 0 retiradas" in again
    assert _snapshot() == before


def test_edit_keeps_lesson_identity_and_progress(content_root, course, student):
    lessons = services.course_lessons(course.id)
    services.complete_lesson(student, SLUG, "tu-cliente")
    folder = content_root / "courses" / SLUG
    (folder / "02-tu-cliente.md").write_text(
        lesson_text("Conoce a tu cliente (versión 2)", 20, "Contenido nuevo y mejorado."),
        encoding="utf-8",
    )
    summary = services.load_content(content_root)
    assert "1 actualizado," in summary and "1 actualizada," in summary
    edited = db.session.scalar(select(Lesson).where(Lesson.slug == "tu-cliente"))
    assert edited.id == lessons[1].id
    assert edited.title == "Conoce a tu cliente (versión 2)" and edited.minutes == 20
    assert "Contenido nuevo" in services.lesson_html(edited)
    assert services.completed_lesson_ids(student.id, course.id) == {edited.id}


def test_removed_lesson_is_retired_and_comes_back_with_its_id(content_root, course, student):
    services.complete_lesson(student, SLUG, "despedida")
    folder = content_root / "courses" / SLUG
    original_yml = (folder / "course.yml").read_text(encoding="utf-8")
    removed = folder / "03-despedida.md"
    saved = removed.read_text(encoding="utf-8")
    removed.unlink()
    (folder / "course.yml").write_text(
        original_yml.replace('  - title: "Cierre"\n    lessons: [despedida]\n', ""),
        encoding="utf-8",
    )
    assert "1 retirada." in services.load_content(content_root)
    retired = db.session.scalar(select(Lesson).where(Lesson.slug == "despedida"))
    assert retired.retired_at is not None
    assert [x.slug for x in services.course_lessons(course.id)] == ["bienvenida", "tu-cliente"]
    assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 1
    page = services.course_page(student, SLUG)
    assert (page.progress.done, page.progress.total) == (0, 2)

    removed.write_text(saved, encoding="utf-8")
    (folder / "course.yml").write_text(original_yml, encoding="utf-8")
    services.load_content(content_root)
    back = db.session.scalar(select(Lesson).where(Lesson.slug == "despedida"))
    assert back.id == retired.id and back.retired_at is None
    assert services.course_page(student, SLUG).progress.done == 1


def _break_quiz_answer(folder):
    quiz = folder / "quiz.yml"
    quiz.write_text(
        quiz.read_text(encoding="utf-8").replace('answer: "10 días"', 'answer: "15 días"')
    )


def _break_lesson_title(folder):
    (folder / "02-tu-cliente.md").write_text("---\nminutes: 15\n---\nSin título.\n")


def _break_course_yaml(folder):
    path = folder / "course.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("hours: 3", "hours: [3"), encoding="utf-8"
    )


def _unlisted_lesson(folder):
    (folder / "04-extra.md").write_text(lesson_text("Extra", 5, "Texto."), encoding="utf-8")


def _bad_area(folder):
    path = folder / "course.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("area: digital", "area: cocina"), encoding="utf-8"
    )


def _missing_lesson_file(folder):
    (folder / "03-despedida.md").unlink()


@pytest.mark.parametrize(
    ("breaker", "where", "message"),
    [
        (
            _break_quiz_answer,
            "courses/curso-prueba/quiz.yml, línea 4",
            "la respuesta «15 días» de la pregunta 1 no está entre sus opciones",
        ),
        (
            _break_lesson_title,
            "courses/curso-prueba/02-tu-cliente.md, línea 2",
            "falta el título (title)",
        ),
        (_break_course_yaml, "courses/curso-prueba/course.yml, línea 5", "YAML no válido"),
        (
            _unlisted_lesson,
            "courses/curso-prueba/04-extra.md",
            "esta lección no aparece en ningún módulo",
        ),
        (_bad_area, "courses/curso-prueba/course.yml, línea 3", "el área debe ser una de"),
        (
            _missing_lesson_file,
            "courses/curso-prueba/course.yml, línea 10",
            "no existe el archivo de la lección «despedida»",
        ),
    ],
)
def test_invalid_content_is_rejected_with_file_and_line(
    content_root, course, breaker, where, message
):
    write_course(content_root, "segundo-curso")  # a valid new course is not loaded either
    before = _snapshot()
    breaker(content_root / "courses" / SLUG)
    with pytest.raises(services.ContentError) as caught:
        services.load_content(content_root)
    assert f"{where}: {message}" in caught.value.message
    db.session.rollback()
    assert _snapshot() == before


def test_cli_load_reports_problems_and_exits_with_error(app, runner, content_root):
    _break_quiz_answer(content_root / "courses" / SLUG)
    result = runner.invoke(args=["sv", "content", "load", str(content_root)])
    assert result.exit_code != 0
    assert "quiz.yml, línea 4" in result.output
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0
    write_course(content_root)
    result = runner.invoke(args=["sv", "content", "load", str(content_root)])
    assert result.exit_code == 0, result.output
    assert "Cursos: 1 (1 nuevo," in result.output
