"""Every page of every role's journey passes axe-core (WCAG 2.2 AA, text contrast and target
size included) at 360 px and 1280 px, error states and empty states too, and every control
reached by Tab shows a focus indicator of 3:1 against what surrounds it. A person using only
the keyboard registers, opens a course lesson and writes to an advisor."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    ROOT,
    axe_violations,
    checked,
    describe,
    focus_problems,
    focus_state,
)

PASSWORD = "Servicios-Demo-2026"
ENTREPRENEUR = "emprendedora@demo.serviciosvirtuales.cl"
NEWCOMER = "emprendedor@demo.serviciosvirtuales.cl"  # enrolled in nothing: empty states
ADVISOR = "legal@demo.serviciosvirtuales.cl"
ADMIN = "admin@demo.serviciosvirtuales.cl"
COURSE = "vende-en-linea"
WIDTHS = (360, 1280)


def _flask(live_server, *args) -> None:
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "sv", *args],
        cwd=ROOT,
        env=live_server.env,
        check=True,
        capture_output=True,
    )


def _login(page, base, email):
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def site(live_server, browser):
    """Open windows, and give the demo entrepreneur a course seat and an open consulta."""
    for slug in ("asesoria-legal", "asesoria-sustentabilidad", COURSE, "formaliza-tu-negocio"):
        _flask(live_server, "window", "create", "--offering", slug, "--capacity", "20")
    base = live_server.url
    context = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    page = checked(context.new_page())
    _login(page, base, ENTREPRENEUR)
    page.goto(f"{base}/cursos/{COURSE}")
    page.get_by_role("button", name="Inscribirme").click()
    page.wait_for_load_state()
    page.goto(base + "/consultas/nueva")
    page.get_by_label("Área de la consulta").select_option("legal")
    page.get_by_label("Asunto").fill("¿Debo registrar la marca de mis mermeladas?")
    page.get_by_label("Describe tu consulta").fill(
        "Vendo mermeladas por Instagram y quiero saber si debo registrar el nombre."
    )
    page.get_by_role("button", name="Enviar consulta").click()
    page.wait_for_url(re.compile(r"/consultas/\d+$"))
    consulta = page.url.removeprefix(base)
    context.close()
    return type("Site", (), {"url": base, "consulta": consulta})()


def _visit_all(browser, site, email, width, steps):
    """Log in as `email` at `width` px, run each step (a path to open, or a callable that
    brings the page to a state), and collect what axe-core and the focus check find."""
    context = browser.new_context(locale="es-CL", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded machine answers some searches slowly
    findings, problems = [], []
    try:
        if email:
            _login(page, site.url, email)
        for step in steps:
            if callable(step):
                step(page, site.url)
            else:
                page.goto(site.url + step)
            page.wait_for_load_state()
            findings += axe_violations(page)
            problems += focus_problems(page, limit=35)
        if width < 1200:
            # The phone menu and its groups, opened.
            page.locator("#menu > summary").click()
            for group in page.locator("#menu [data-nav-group] > summary").all():
                group.click()
                findings += axe_violations(page)
    finally:
        context.close()
    assert not findings, "axe-core found accessibility violations:" + describe(findings)
    assert not problems, "focus not visible enough:\n" + "\n".join(problems)


def _bad_registration(page, base):
    page.goto(base + "/registro")
    page.get_by_label("RUT", exact=True).fill("12.345.678-0")
    page.get_by_label("Nombre completo").fill("Ana")
    page.get_by_label("Correo electrónico").fill("ana@ejemplo.cl")
    page.get_by_label("Teléfono").fill("123")
    page.get_by_label("Contraseña").fill("corta")
    page.get_by_role("button", name="Crear mi cuenta").click()


def _bad_login(page, base):
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill("nadie@ejemplo.cl")
    page.get_by_label("Contraseña").fill("no-es-la-clave")
    page.get_by_role("button", name="Ingresar").click()


def _without_browser_checks(page):
    """Let the server's validation speak (the browser would stop an empty required field)."""
    page.evaluate("document.querySelectorAll('form').forEach(f => f.noValidate = true)")


def _short_consulta(page, base):
    page.goto(base + "/consultas/nueva")
    _without_browser_checks(page)
    page.get_by_label("Asunto").fill("Hola")
    page.get_by_role("button", name="Enviar consulta").click()


def _wrong_quiz(page, base):
    page.goto(f"{base}/cursos/{COURSE}/evaluacion")
    _without_browser_checks(page)
    page.get_by_role("button", name="Enviar respuestas").click()


def _bad_advisor(page, base):
    page.goto(base + "/admin/asesores")
    _without_browser_checks(page)
    page.get_by_label("RUT", exact=True).fill("1-1")
    page.locator("form").get_by_role("button", name=re.compile("Crear")).click()


def _empty_faq_entry(page, base):
    page.goto(base + "/admin/preguntas-frecuentes/nueva")
    _without_browser_checks(page)
    page.locator("main form").get_by_role("button").last.click()


def _bad_window(page, base):
    page.goto(base + "/admin/servicios/asesoria-legal/ventanas/nueva")
    page.get_by_label("Cupos").fill("-1")
    _without_browser_checks(page)
    page.locator("main form").get_by_role("button").last.click()


VISITOR = [
    "/",
    "/registro",
    _bad_registration,
    "/ingresar",
    _bad_login,
    "/recuperar-contrasena",
    "/privacidad",
    "/cursos",
    "/cursos?q=zzzzqqq",
    f"/cursos/{COURSE}",
    "/cursos/formaliza-tu-negocio/tipos-de-empresa",
    "/preguntas-frecuentes",
    "/preguntas-frecuentes?q=boleta+electronica",
    "/preguntas-frecuentes?q=zzzzqqq",
    "/preguntas-frecuentes/1",
    "/certificados/NOEXISTE",
    "/no-existe",
]
ENTREPRENEUR_PAGES = [
    "/",
    "/perfil",
    "/mis-datos",
    "/mis-cursos",
    "/mis-inscripciones",
    "/notificaciones",
    f"/cursos/{COURSE}",
    f"/cursos/{COURSE}/elige-tus-canales",
    f"/cursos/{COURSE}/evaluacion",
    _wrong_quiz,
    "/admin/personas",  # 403
    "/cursos/no-existe",  # 404
]
NEWCOMER_PAGES = ["/mis-cursos", "/mis-inscripciones", "/notificaciones", "/perfil"]
ADVISOR_PAGES = [
    "/perfil",
    "/asesor/preguntas-frecuentes",
    "/preguntas-frecuentes",
    "/admin/reportes",  # 403
]
ADMIN_PAGES = [
    "/admin/personas",
    "/admin/personas?q=emprendedora",
    "/admin/personas?q=zzzzqqq",
    "/admin/personas/4",
    "/admin/servicios",
    "/admin/servicios/asesoria-legal/ventanas/nueva",
    _bad_window,
    "/admin/ventanas/1",
    "/admin/asesores",
    _bad_advisor,
    "/admin/auditoria",
    "/admin/preguntas-frecuentes",
    "/admin/preguntas-frecuentes/nueva",
    _empty_faq_entry,
    "/admin/preguntas-frecuentes/1",
    "/admin/contenido",
    "/admin/correos",
    "/admin/reportes",
    "/admin/reportes/encuesta-anual",
]
ROLES = {
    "visitante": (None, VISITOR),
    "emprendedora": (ENTREPRENEUR, ENTREPRENEUR_PAGES),
    "emprendedor-sin-actividad": (NEWCOMER, NEWCOMER_PAGES),
    "asesora": (ADVISOR, ADVISOR_PAGES),
    "administradora": (ADMIN, ADMIN_PAGES),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_each_role_passes_axe_and_shows_focus(browser, site, role, width):
    email, steps = ROLES[role]
    _visit_all(browser, site, email, width, steps)


# The consulta pages (templates/advisory/).
@pytest.mark.parametrize("width", WIDTHS)
def test_consulta_pages_of_the_entrepreneur(browser, site, width):
    steps = ["/consultas", "/consultas/nueva", _short_consulta, site.consulta]
    _visit_all(browser, site, ENTREPRENEUR, width, steps)


@pytest.mark.parametrize("width", WIDTHS)
def test_consulta_pages_of_staff(browser, site, width):
    _visit_all(browser, site, ADVISOR, width, ["/asesor/consultas", site.consulta])
    steps = ["/asesor/consultas", "/admin/asesoria", "/admin/niveles-de-servicio", site.consulta]
    _visit_all(browser, site, ADMIN, width, steps)


def test_advisor_note_box_has_its_own_label(browser, site):
    context = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _login(page, site.url, ADVISOR)
        page.goto(site.url + site.consulta)
        take = page.get_by_role("button", name="Tomar consulta")
        if take.count():  # taken, the page shows the chat box beside the note box
            take.click()
            page.wait_for_load_state()
        expect(page.get_by_label("Tu mensaje")).to_be_visible()
        ids = page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")
        duplicated = sorted({i for i in ids if ids.count(i) > 1 and i != "csrf_token"})
        assert duplicated == [], f"ids used twice: {duplicated}"
        note = page.get_by_label("Nota interna (solo la ve el equipo asesor)")
        expect(note).to_have_count(1)
        assert note.evaluate("e => e.closest('#notas') !== null")
        assert axe_violations(page) == []
    finally:
        context.close()


# A person who only uses the keyboard.
def _tab_to(page, predicate_js: str, *, limit: int = 80, shift: bool = False) -> dict:
    """Press Tab until the focused element satisfies `predicate_js` (a JS expression over
    `el`); check on the way that each stop shows a visible focus indicator."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if shift else "Tab")
        state = focus_state(page)
        if state is None:  # past the last control, before the focus wraps to the first
            continue
        assert state["visible"] and state["width"] >= 2 and state["contrast"] >= 3, state
        if page.evaluate(
            f"(() => {{ const el = document.activeElement; return {predicate_js}; }})()"
        ):
            return state
    raise AssertionError(f"Tab never reached {predicate_js}")


def _by_label(text: str) -> str:
    return (
        "el.labels && [...el.labels].some(l => l.textContent.trim().startsWith(" + repr(text) + "))"
    )


def _by_name(text: str) -> str:
    return f"(el.innerText || el.value || '').trim().startsWith({text!r})"


def _follow(page, key: str = "Enter") -> None:
    """Press `key` on the focused link or button and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press(key)
    page.wait_for_load_state()


def test_keyboard_only_register_open_a_lesson_and_write_to_an_advisor(browser, site):
    context = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    page = checked(context.new_page())
    base = site.url
    kb = page.keyboard
    try:
        page.goto(base + "/")
        _tab_to(page, _by_name("Crear cuenta"))
        _follow(page)
        assert page.url == base + "/registro"
        for label, value in [
            ("RUT", "8.765.432-K"),
            ("Nombre completo", "Teclado Valdés Rojas"),
            ("Correo electrónico", "teclado@ejemplo.cl"),
            ("Teléfono", "+56 9 5555 1212"),
            ("Contraseña", "solo-con-el-teclado-2026"),
        ]:
            _tab_to(page, _by_label(label))
            kb.type(value)
        for label, letters, option in [
            ("Región", "Valpara", "Valparaíso"),
            ("Comuna", "Valpara", "Valparaíso"),
            ("Sexo", "Fem", "Femenino"),
        ]:
            _tab_to(page, _by_label(label))
            # Typing the first letters picks an option of a focused <select>.
            kb.type(letters)
            assert (
                page.evaluate("document.activeElement.selectedOptions[0].textContent.trim()")
                == option
            )
        _tab_to(page, _by_label("Fecha de nacimiento"))
        kb.type("15031988")
        assert page.evaluate("document.activeElement.value").startswith("1988-")
        _tab_to(page, _by_label("Nivel educacional"))
        kb.type("Univ")
        _tab_to(page, _by_label("WhatsApp"))
        kb.press("Space")
        _tab_to(page, _by_label("Acepto el uso de mis datos personales"))
        kb.press("Space")
        _tab_to(page, _by_name("Crear mi cuenta"))
        _follow(page)
        assert page.url == base + "/", page.locator(".invalid-feedback, .alert").all_inner_texts()
        expect(page.get_by_text("Tu cuenta fue creada.")).to_be_visible()

        # The course: from the navigation, enrol, open the first lesson.
        _tab_to(page, _by_name("Cursos"))
        _follow(page)
        assert page.url == base + "/cursos"
        _tab_to(page, _by_name("Vende en línea: de las redes sociales al marketplace"))
        _follow(page)
        _tab_to(page, _by_name("Inscribirme"))
        _follow(page)
        expect(page.get_by_text("Quedaste inscrito/a")).to_be_visible()
        _tab_to(page, _by_name("Comenzar el curso"))
        _follow(page)
        assert page.url.startswith(f"{base}/cursos/{COURSE}/")
        expect(page.get_by_role("button", name="Marcar como completada")).to_be_visible()

        # A consulta: from the navigation, open one in the legal area, then write in it.
        _tab_to(page, _by_name("Consultas"))
        _follow(page)
        _tab_to(page, _by_name("Nueva consulta"))
        _follow(page)
        _tab_to(page, _by_label("Área de la consulta"))
        kb.type("Asesor")  # the first area whose name starts so: «Asesoría legal»
        assert page.evaluate("document.activeElement.value") == "legal"
        _tab_to(page, _by_label("Asunto"))
        kb.type("¿Puedo vender por Instagram sin iniciar actividades?")
        _tab_to(page, _by_label("Describe tu consulta"))
        kb.type("Hago tortas en mi casa y quiero venderlas por Instagram. ¿Qué necesito?")
        _tab_to(page, _by_name("Enviar consulta"))
        _follow(page)
        assert re.search(r"/consultas/\d+$", page.url), page.url
        _tab_to(page, _by_label("Tu mensaje"))
        kb.type("Agrego que vendo unas 20 tortas al mes.")
        _tab_to(page, _by_name("Enviar mensaje"))
        kb.press("Enter")
        expect(page.locator("#mensajes")).to_contain_text("Agrego que vendo unas 20 tortas al mes.")
    finally:
        context.close()
