"""Every main page fits a 360 px phone screen, for each role (no sideways scrolling)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Servicios-Demo-2026"
PAGES = {
    None: [
        "/",
        "/registro",
        "/ingresar",
        "/privacidad",
        "/cursos",
        "/cursos/formaliza-tu-negocio",
        "/preguntas-frecuentes",
        "/preguntas-frecuentes?q=boleta+electronica",
        "/certificados/NOEXISTE",
    ],
    "emprendedora@demo.serviciosvirtuales.cl": [
        "/perfil",
        "/mis-datos",
        "/mis-cursos",
        "/mis-inscripciones",
        "/consultas",
        "/consultas/nueva",
        "/notificaciones",
    ],
    "legal@demo.serviciosvirtuales.cl": ["/asesor/consultas", "/perfil"],
    "admin@demo.serviciosvirtuales.cl": [
        "/admin/servicios",
        "/admin/asesores",
        "/admin/auditoria",
        "/admin/preguntas-frecuentes",
        "/admin/niveles-de-servicio",
        "/asesor/consultas",
        "/admin/servicios/asesoria-legal/ventanas/nueva",
        "/admin/personas",
        "/admin/personas?q=emprendedora",
        "/admin/personas/4",
        "/admin/ventanas/1",
        "/admin/asesoria",
        "/admin/reportes",
        "/admin/reportes/encuesta-anual",
    ],
}


@pytest.fixture(scope="module")
def opened_windows(live_server):
    flask = str(Path(sys.executable).parent / "flask")
    for slug in ("asesoria-legal", "formaliza-tu-negocio"):
        subprocess.run(
            [flask, "sv", "window", "create", "--offering", slug, "--capacity", "5"],
            cwd=ROOT,
            env=live_server.env,
            check=True,
            capture_output=True,
        )


@pytest.mark.parametrize("email", list(PAGES))
def test_pages_fit_a_phone(live_server, opened_windows, page, email):
    page.set_viewport_size({"width": 360, "height": 800})
    if email:
        page.goto(live_server.url + "/ingresar")
        page.get_by_label("RUT o correo electrónico").fill(email)
        page.get_by_label("Contraseña").fill(PASSWORD)
        page.get_by_role("button", name="Ingresar").click()
        page.wait_for_load_state()
    for path in PAGES[email]:
        response = page.goto(live_server.url + path)
        assert response.status in (200, 404), (path, response.status)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width}px wide on a 360px screen"
        assert page.locator("main h1").count() >= 1, path
