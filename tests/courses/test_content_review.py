"""Content that stays true: every file says when it was reviewed and on which sources;
stale content is warned about at load, listed for admins, and pages show the review."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from sv_platform.core import content_review
from sv_platform.courses import content, review, services
from sv_platform.faq.services import _read_content
from tests.courses.conftest import SLUG, lesson_text

ROOT = Path(__file__).resolve().parents[2]
DEC_2026 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SOURCES = (
    "fuentes:\n"
    '  - nombre: "Ley 21.133 (BCN)"\n'
    '    url: "https://www.bcn.cl/leychile/navegar?idLey=21133"\n'
)


def _folder(root: Path) -> Path:
    return root / "courses" / SLUG


def _write_lesson(root: Path, text: str, name: str = "02-tu-cliente.md") -> None:
    (_folder(root) / name).write_text(text, encoding="utf-8")


def _load_error(root: Path) -> str:
    with pytest.raises(services.ContentError) as caught:
        services.load_content(root, now=DEC_2026)
    return caught.value.message


def test_lesson_without_review_date_is_refused_with_file_and_line(app, content_root):
    _write_lesson(content_root, '---\ntitle: "Conoce a tu cliente"\nminutes: 15\n---\nTexto.\n')
    message = _load_error(content_root)
    assert (
        "courses/curso-prueba/02-tu-cliente.md, línea 2: falta la fecha de revisión "
        "(revisado: AAAA-MM-DD)" in message
    )
    assert services.list_courses() == []


@pytest.mark.parametrize("name", ["quiz.yml", "course.yml"])
def test_quiz_and_course_without_review_date_are_refused(app, content_root, name):
    path = _folder(content_root) / name
    path.write_text(
        path.read_text(encoding="utf-8").replace("revisado: 2026-12-01\n", ""), encoding="utf-8"
    )
    assert f"courses/curso-prueba/{name}, línea 1: falta la fecha de revisión" in _load_error(
        content_root
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "la fecha de revisión (revisado) debe ser una fecha AAAA-MM-DD."),
        ('fuentes:\n  - url: "https://www.sii.cl"\n', "(no a la portada del sitio)"),
        ('fuentes:\n  - url: "http://www.sii.cl/servicios_online/1040-.html"\n', "enlaces https"),
        ("fuentes: https://www.sii.cl/servicios_online/1040-.html\n", "deben ser una lista"),
    ],
)
def test_malformed_review_fields_are_refused(app, content_root, header, message):
    text = lesson_text("Conoce a tu cliente", 15, "Texto.", header=header)
    if not header:
        text = text.replace("revisado: 2026-12-01", "revisado: diciembre")
    _write_lesson(content_root, text)
    assert "courses/curso-prueba/02-tu-cliente.md, línea " in _load_error(content_root)
    assert message in _load_error(content_root)


def test_lesson_naming_a_past_year_as_current_is_warned_about_with_a_2026_clock(app, content_root):
    body = "## La tasa\n\nEn 2025 la tasa es 14,5 %.\n"
    _write_lesson(content_root, lesson_text("Conoce a tu cliente", 15, body))
    summary = services.load_content(content_root, now=DEC_2026)
    assert "Contenido por revisar:" in summary
    # header is 5 lines, the body starts on line 6 and the sentence is on its third line
    assert (
        "- courses/curso-prueba/02-tu-cliente.md, línea 8: habla de 2025 como si fuera el "
        "presente: «En 2025 la tasa es 14,5 %.»" in summary
    )
    assert "01-bienvenida.md" not in summary  # only the stale lesson is named
    # the same text read in 2025 states the present: no warning about it
    courses, _problems = content.read_courses(content_root)
    warnings = content.review_warnings(courses, content_root, date(2025, 12, 15))
    assert not any("habla de 2025" in w for w in warnings)


def test_review_older_than_twelve_months_is_warned_about(app, content_root):
    text = lesson_text("Conoce a tu cliente", 15, "Texto.").replace("2026-12-01", "2025-11-30")
    _write_lesson(content_root, text)
    summary = services.load_content(content_root, now=DEC_2026)
    assert (
        "courses/curso-prueba/02-tu-cliente.md: se revisó el 30 de noviembre de 2025, hace más "
        "de 12 meses" in summary
    )
    courses, _problems = content.read_courses(content_root)
    a_day_earlier = content.review_warnings(courses, content_root, date(2026, 11, 30))
    assert not [w for w in a_day_earlier if "02-tu-cliente.md" in w]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("En 2025 la tasa es 14,5 %.", True),
        ("para 2024 la meta es", True),
        ("En 2026 la tasa es 15,25 %.", False),
        ("La Ley 20.920, publicada en 2016, es la ley marco.", False),
        ("Rige a partir de enero de 2025.", True),
        ("a partir del 1 de agosto de 2026 pagas 3,5 %", True),
        ("a partir del 1 de enero de 2027 la tasa es 16 %", False),
        ("a partir del 2025-05-01 debes entregar", True),
        ("La ley entrará en vigencia el 1 de diciembre de 2026.", True),
        ("La ley entrará en vigencia el 1 de marzo de 2027.", False),
        ("El decreto entrará en vigor próximamente.", True),
        ("Fue publicada en diciembre de 2024 y rige hoy.", False),
    ],
)
def test_dated_phrases_with_a_pinned_2026_clock(text, flagged):
    assert bool(content_review.dated_phrases(text, date(2026, 12, 1))) is flagged


def test_lesson_page_shows_review_date_and_sources(client, content_root):
    text = lesson_text("Bienvenida al curso", 10, "Hola.", header=SOURCES)
    _write_lesson(content_root, text, "01-bienvenida.md")
    services.load_content(content_root, now=DEC_2026)
    html = client.get(f"/cursos/{SLUG}/bienvenida").get_data(as_text=True)
    assert "Revisado en diciembre de 2026." in html
    assert '<a href="https://www.bcn.cl/leychile/navegar?idLey=21133"' in html
    assert "Ley 21.133 (BCN)</a>" in html


def test_admin_page_lists_stale_content_and_searches_it(client, auth, admin_user, content_root):
    body = "En 2025 la tasa es 14,5 %."
    _write_lesson(content_root, lesson_text("Conoce a tu cliente", 15, body))
    quiz = _folder(content_root) / "quiz.yml"
    quiz.write_text(
        quiz.read_text(encoding="utf-8").replace("2026-12-01", "2024-03-01"), encoding="utf-8"
    )
    services.load_content(content_root, now=DEC_2026)
    auth.login(admin_user)
    html = client.get("/admin/contenido").get_data(as_text=True)
    assert "2 elementos por revisar" in html
    assert f'href="/cursos/{SLUG}/tu-cliente">Conoce a tu cliente</a>' in html
    assert "habla de 2025 como si fuera el presente" in html
    assert "se revisó el 1 de marzo de 2024" in html and "Evaluación" in html
    html = client.get("/admin/contenido?q=evaluacion").get_data(as_text=True)
    assert "1 elemento por revisar" in html and "Conoce a tu cliente" not in html


def test_admin_page_paginates(app, content_root):
    text = lesson_text("Conoce a tu cliente", 15, "Texto.").replace("2026-12-01", "2020-01-01")
    folder = _folder(content_root)
    slugs = [f"tema-{n:02d}" for n in range(review.PAGE_SIZE + 2)]
    for n, slug in enumerate(slugs, start=4):
        (folder / f"{n:02d}-{slug}.md").write_text(text, encoding="utf-8")
    course_yml = folder / "course.yml"
    course_yml.write_text(
        course_yml.read_text(encoding="utf-8").replace(
            "lessons: [despedida]", f"lessons: [despedida, {', '.join(slugs)}]"
        ),
        encoding="utf-8",
    )
    services.load_content(content_root, now=DEC_2026)
    with app.test_request_context():
        first = review.review_page(date(2026, 12, 1))
        second = review.review_page(date(2026, 12, 1), page=2)
        beyond = review.review_page(date(2026, 12, 1), page=99)
    assert (first.total, first.pages, len(first.items)) == (len(slugs), 2, review.PAGE_SIZE)
    assert len(second.items) == len(slugs) - review.PAGE_SIZE
    assert beyond.page == 2


@pytest.mark.parametrize("role", ["entrepreneur", "advisor"])
def test_admin_page_is_refused_to_other_roles(client, auth, make_user, content_root, role):
    auth.login(make_user(role, specialty="legal" if role == "advisor" else None))
    response = client.get("/admin/contenido")
    assert response.status_code == 403
    assert "Acceso no permitido" in response.get_data(as_text=True)


def test_every_real_file_is_reviewed_within_a_year_and_names_its_sources():
    """The repository's courses and FAQ: a review date on every lesson, quiz, course and
    entry, no wording that treats a past date as current, and deep https sources."""
    today = DEC_2026.date()
    courses, problems = content.read_courses(ROOT)
    assert problems == []
    assert content.review_warnings(courses, ROOT, today) == []
    entries = _read_content(ROOT / "faq")
    sources = []
    for course in courses:
        assert course.reviewed_on and course.quiz_reviewed_on
        sources += course.sources + course.quiz_sources
        for lesson in course.lessons:
            assert lesson.reviewed_on, lesson.slug
            sources += lesson.sources
    for entry in entries:
        assert entry["reviewed_on"], entry["slug"]
        sources += entry["sources"]
        assert not content_review.review_problems(
            f"{entry['question']}\n{entry['answer']}", entry["reviewed_on"], today
        ), entry["slug"]
    assert len(sources) >= 40
    assert all(content_review.is_deep_link(s["url"]) for s in sources)
    # the law texts: BCN pages of one norm, never the search page or the home page
    laws = [s["url"] for s in sources if "bcn.cl" in s["url"]]
    assert laws and all("navegar?id" in url for url in laws)


def test_lessons_and_faq_agree_on_the_honorarios_schedule():
    """The retention rate by year is stated the same way in the lesson and the FAQ."""
    lesson = (ROOT / "courses/formaliza-tu-negocio/08-boletas-de-honorarios.md").read_text(
        encoding="utf-8"
    )
    faq = {e["slug"]: e["answer"] for e in _read_content(ROOT / "faq")}
    for text in (lesson, faq["boleta-honorarios-retencion-2025"]):
        assert "15,25 %" in text and "16 %" in text and "17 %" in text
        assert "14,5 % en 2025" not in text
    quiz = yaml.safe_load(
        (ROOT / "courses/formaliza-tu-negocio/quiz.yml").read_text(encoding="utf-8")
    )
    honorarios = next(q for q in quiz["questions"] if "honorarios" in q["text"])
    assert honorarios["answer"] == f"${200_000 * 1525 // 10_000:,}".replace(",", ".")


def test_quiz_page_shows_the_quiz_review_and_sources(client, auth, student):
    auth.login(student)
    html = client.get(f"/cursos/{SLUG}/evaluacion").get_data(as_text=True)
    assert "Revisado en diciembre de 2026." in html
    assert "Ley 19.496 sobre protección de los derechos de los consumidores</a>" in html


def test_cli_prints_the_review_warnings_and_still_loads(app, runner, content_root):
    text = lesson_text("Conoce a tu cliente", 15, "Texto.").replace("2026-12-01", "2019-05-02")
    _write_lesson(content_root, text)
    result = runner.invoke(args=["sv", "content", "load", str(content_root)])
    assert result.exit_code == 0, result.output
    assert "Cursos: 1 (1 nuevo," in result.output
    assert "Contenido por revisar:" in result.output
    assert "02-tu-cliente.md: se revisó el 2 de mayo de 2019" in result.output


def test_cli_refuses_a_lesson_without_review_date(app, runner, content_root):
    _write_lesson(content_root, '---\ntitle: "Conoce a tu cliente"\nminutes: 15\n---\nTexto.\n')
    result = runner.invoke(args=["sv", "content", "load", str(content_root)])
    assert result.exit_code != 0
    assert "02-tu-cliente.md, línea 2: falta la fecha de revisión" in result.output
    assert services.list_courses() == []
