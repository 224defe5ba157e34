"""A new entrepreneur registers, enrols in a course, finishes it and downloads the
certificate, all through the real pages in Chromium against gunicorn."""

import io
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from tests.e2e.conftest import ROOT, register, shot

SLUG = "vende-en-linea"
NAME = "Javiera Emprendedora Muñoz"


def _open_window(live_server) -> None:
    flask = Path(sys.executable).parent / "flask"
    subprocess.run(
        [str(flask), "sv", "window", "create", "--offering", SLUG, "--capacity", "10"],
        cwd=ROOT,
        env=live_server.env,
        check=True,
        capture_output=True,
    )


def _right_answers() -> list[str]:
    import yaml

    quiz = yaml.safe_load((ROOT / "courses" / SLUG / "quiz.yml").read_text(encoding="utf-8"))
    return [q["answer"] for q in quiz["questions"]]


def test_register_enrol_finish_and_download_certificate(live_server, page):
    base = live_server.url
    _open_window(live_server)

    register(
        page,
        base,
        rut="9.123.456-4",
        name=NAME,
        email="javiera@ejemplo.cl",
        phone="+56 9 3333 2222",
        password="tortas-de-la-abuela-2026",
        region="Metropolitana de Santiago",
        comuna="Maipú",
        birth_date="1990-06-15",
        education="Universitaria",
    )

    page.goto(base + "/cursos")
    shot(page, "cursos", 360)
    shot(page, "cursos", 1280)
    page.get_by_role(
        "link", name="Vende en línea: de las redes sociales al marketplace", exact=True
    ).click()
    page.wait_for_url(f"{base}/cursos/{SLUG}")
    page.get_by_role("button", name="Inscribirme").click()
    page.wait_for_url(f"{base}/cursos/{SLUG}")
    assert "Quedaste inscrito/a" in page.content()
    page.get_by_role("link", name="Comenzar el curso").click()

    lessons = 0
    while True:
        page.wait_for_load_state()
        if lessons == 1:
            shot(page, "leccion", 360)
            shot(page, "leccion", 1280)
        button = page.get_by_role("button", name="Marcar como completada")
        if button.count() == 0:
            break
        button.click()
        page.wait_for_load_state()
        lessons += 1
        if page.url.rstrip("/").endswith(f"/cursos/{SLUG}"):
            break
    assert lessons == 8
    progress = page.locator("progress#avance")
    assert progress.get_attribute("value") == "100"

    page.get_by_role("link", name="Rendir la evaluación").first.click()
    page.wait_for_url(f"{base}/cursos/{SLUG}/evaluacion")
    for index, answer in enumerate(_right_answers(), start=1):
        page.locator(f"#pregunta-{index}").get_by_label(answer, exact=True).check()
    shot(page, "evaluacion", 1280)
    page.get_by_role("button", name="Enviar respuestas").click()
    page.wait_for_load_state()
    assert "Aprobaste la evaluación con 100 %" in page.content()

    page.get_by_role("link", name="Ver mi certificado").click()
    page.wait_for_url(f"{base}/cursos/{SLUG}/certificado")
    shot(page, "certificado", 360)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Descargar certificado (PDF)").click()
    data = Path(download_info.value.path()).read_bytes()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert NAME in text and "Vende en línea" in text

    code = page.locator("dd code").inner_text()
    page.goto(f"{base}/certificados/{code}")
    assert "Certificado auténtico" in page.content() and "**.***.456-4" not in page.content()
    assert "*.***.456-4" in page.content()
