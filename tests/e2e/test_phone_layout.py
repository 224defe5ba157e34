"""Every main page fits a 360 px phone screen, for each role (no sideways scrolling), even
with a 200-letter word in what people wrote; lesson tables keep their words whole; the
navigation opens without JavaScript on a phone and fits one line at 1280 px."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import checked

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


def _login(page, base, email):
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("email", list(PAGES))
def test_navigation_fits_one_line_at_1280(live_server, page, email):
    if email:
        _login(page, live_server.url, email)
    for path in ("/", PAGES[email][-1]):
        page.goto(live_server.url + path)
        tops = page.locator("#menu .navbar-nav > .nav-item").evaluate_all(
            "items => items.map(i => Math.round(i.getBoundingClientRect().top))"
        )
        assert len(set(tops)) == 1, f"{path}: the navigation wraps ({tops})"
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280


@pytest.mark.parametrize("email", [None, "admin@demo.serviciosvirtuales.cl"])
def test_phone_menu_opens_without_javascript(live_server, browser, email):
    context = browser.new_context(
        locale="es-CL", viewport={"width": 360, "height": 800}, java_script_enabled=False
    )
    try:
        page = context.new_page()  # axe needs scripts: the same pages are checked elsewhere
        page.set_default_timeout(15_000)
        if email:
            _login(page, live_server.url, email)
        page.goto(live_server.url + "/preguntas-frecuentes")
        link = page.locator("#menu").get_by_role("link", name="Preguntas frecuentes").first
        assert not link.is_visible()
        page.locator("#menu > summary").press("Enter")
        if email:
            page.locator("#menu summary", has_text="Administración").press("Enter")
            link = page.locator("#menu").get_by_role("link", name="Auditoría")
        assert link.is_visible()
        link.click()
        page.wait_for_load_state()
        assert page.locator("main h1").count() == 1
    finally:
        context.close()


LONG = "x" * 190


def test_a_200_letter_word_does_not_widen_the_pages(live_server, opened_windows, browser):
    base = live_server.url
    context = browser.new_context(locale="es-CL", viewport={"width": 360, "height": 800})
    try:
        page = checked(context.new_page())
        _login(page, base, "emprendedor@demo.serviciosvirtuales.cl")
        page.goto(base + "/consultas/nueva")
        page.get_by_label("Área de la consulta").select_option("legal")
        page.get_by_label("Asunto").fill("Marca " + LONG)
        page.get_by_label("Describe tu consulta").fill("Describo mi caso con " + LONG + " aquí.")
        page.get_by_role("button", name="Enviar consulta").click()
        page.wait_for_load_state()
        consulta = page.url
        page.get_by_label("Tu mensaje").fill("Un mensaje con " + LONG)
        page.get_by_role("button", name="Enviar mensaje").click()
        page.wait_for_load_state()
        visits = [
            (page, consulta),
            (page, base + "/consultas"),
            (page, base + "/preguntas-frecuentes?q=" + LONG),
            (page, base + "/cursos?q=" + LONG),
        ]
        staff = checked(
            context.browser.new_context(viewport={"width": 360, "height": 800}).new_page()
        )
        _login(staff, base, "admin@demo.serviciosvirtuales.cl")
        visits += [
            (staff, base + "/asesor/consultas"),
            (staff, consulta),
            (staff, base + "/admin/personas?q=" + LONG),
        ]
        for p, url in visits:
            p.goto(url)
            width = p.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{url[:80]} is {width}px wide on a 360px screen"
        staff.context.close()
    finally:
        context.close()


def test_lesson_tables_keep_words_whole_and_scroll_in_their_box(live_server, page):
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(live_server.url + "/cursos/formaliza-tu-negocio/tipos-de-empresa")
    table = page.locator(".prose table").first
    split = table.evaluate(
        """t => {
          const broken = [];
          for (const cell of t.querySelectorAll("th, td")) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node; (node = walker.nextNode()); ) {
              for (const m of node.textContent.matchAll(/\\S+/g)) {
                const r = document.createRange();
                r.setStart(node, m.index);
                r.setEnd(node, m.index + m[0].length);
                const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
                if (lines.size > 1) broken.push(m[0]);
              }
            }
          }
          return broken;
        }"""
    )
    assert split == [], f"words split across lines: {split}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    scrolls = table.evaluate("t => t.scrollWidth > t.clientWidth")
    if scrolls:  # reachable by keyboard to scroll it
        assert table.get_attribute("tabindex") == "0"
