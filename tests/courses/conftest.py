"""Course fixtures: a small course written to a temporary content folder, loaded for real."""

from pathlib import Path

import pytest

from sv_platform.courses import services
from sv_platform.enrollment import services as enrollment

COURSE_YML = """\
title: "Curso de prueba: vender con confianza"
summary: "Un curso corto para probar la plataforma de formación."
area: digital
hours: 3
passing_score: 60
modules:
  - title: "Primeros pasos"
    lessons: [bienvenida, tu-cliente]
  - title: "Cierre"
    lessons: [despedida]
revisado: 2026-12-01
"""
QUIZ_YML = """\
questions:
  - text: "¿Cuántos días tiene el derecho a retracto en compras en línea?"
    options: ["5 días", "10 días", "30 días"]
    answer: "10 días"
    explanation: "Así lo dice la Ley del Consumidor."
  - text: "¿Qué debes mostrar antes del pago?"
    options: ["Solo el precio neto", "El precio total y el despacho"]
    answer: "El precio total y el despacho"
    explanation: "Así lo dice la Ley del Consumidor."
  - text: "¿Dónde se pide permiso para enviar publicidad?"
    options: ["A la persona que la recibe", "A nadie"]
    answer: "A la persona que la recibe"
    explanation: "Así lo dice la Ley del Consumidor."
revisado: 2026-12-01
fuentes:
  - nombre: "Ley 19.496 sobre protección de los derechos de los consumidores"
    url: "https://www.bcn.cl/leychile/navegar?idNorma=61438"
"""
LESSONS = {
    "01-bienvenida.md": ("Bienvenida al curso", 10, "Hola. Esta es la **vista previa**."),
    "02-tu-cliente.md": (
        "Conoce a tu cliente",
        15,
        "## Tu cliente\n\nPregúntale cómo te "
        "encontró.\n\n| Canal | Uso |\n|---|---|\n| WhatsApp | Cerrar |",
    ),
    "03-despedida.md": ("Despedida", 5, "Gracias por participar."),
}
SLUG = "curso-prueba"


REVIEWED = "2026-12-01"


def lesson_text(title: str, minutes: int, body: str, *, header: str = "") -> str:
    """A lesson file: YAML header (title, minutes, revisado, then `header`) and body."""
    return f'---\ntitle: "{title}"\nminutes: {minutes}\nrevisado: {REVIEWED}\n{header}---\n{body}\n'


def write_course(root: Path, slug: str = SLUG) -> Path:
    folder = root / "courses" / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    (folder / "quiz.yml").write_text(QUIZ_YML, encoding="utf-8")
    for name, (title, minutes, body) in LESSONS.items():
        (folder / name).write_text(lesson_text(title, minutes, body), encoding="utf-8")
    return folder


@pytest.fixture
def content_root(tmp_path) -> Path:
    root = tmp_path / "contenido"
    write_course(root)
    return root


@pytest.fixture
def course(app, content_root):
    services.load_content(content_root)
    return services.get_course(SLUG)


@pytest.fixture
def window(course):
    return enrollment.create_window(offering_slug=SLUG, capacity=10)


@pytest.fixture
def enrol(window):
    """enrol(user) → the user's enrolment in the test course (a seat while cupos last)."""

    def factory(user):
        return enrollment.enroll(user, enrollment.get_offering(SLUG))

    return factory


@pytest.fixture
def student(make_user, enrol):
    person = make_user(name="Marta Estudiante Rojas")
    enrol(person)
    return person


RIGHT_ANSWERS = [1, 1, 0]


def finish_course(user, slug: str = SLUG):
    """Complete every lesson and pass the quiz through the services."""
    course = services.get_course(slug)
    for lesson in services.course_lessons(course.id):
        services.complete_lesson(user, slug, lesson.slug)
    return services.submit_quiz(user, slug, RIGHT_ANSWERS)
