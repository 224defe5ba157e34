"""In Chromium against gunicorn: registration reports every error at once, the home says
what to do next, and cancelling an enrolment asks first (also without JavaScript)."""

from tests.e2e.conftest import shot

SLUG = "vende-en-linea"
TITLE = "Vende en línea: de las redes sociales al marketplace"
PASSWORD = "quesos-del-sur-2026"


def _fill_registration(page, *, rut: str, password: str, consent: bool) -> None:
    page.get_by_label("RUT", exact=True).fill(rut)
    page.get_by_label("Nombre completo").fill("Carla Quesera Paredes")
    page.get_by_label("Correo electrónico").fill("carla@ejemplo.cl")
    page.get_by_label("Teléfono").fill("+56 9 4321 8765")
    page.get_by_label("Contraseña").fill(password)
    page.get_by_label("Región", exact=True).select_option(label="Los Lagos")
    page.get_by_label("Comuna", exact=True).select_option(label="Osorno")
    page.get_by_label("Sexo").select_option(label="Femenino")
    page.get_by_label("Fecha de nacimiento").fill("1988-03-09")
    page.get_by_label("Nivel educacional").select_option(label="Técnico de nivel superior")
    page.get_by_label("WhatsApp").check()
    if consent:
        page.get_by_label("Acepto el uso de mis datos personales").check()


def test_errors_at_once_then_home_then_cancel_with_confirmation(live_server, page, browser):
    base = live_server.url
    page.goto(base + "/registro")
    _fill_registration(page, rut="8.765.432-1", password="password1", consent=False)
    page.get_by_role("button", name="Crear mi cuenta").click()
    page.wait_for_load_state()

    summary = page.get_by_role("alert").filter(has_text="datos por corregir")
    assert "Hay 3 datos por corregir" in summary.inner_text()
    for name in ("RUT", "Contraseña", "Consentimiento"):
        assert summary.get_by_role("link", name=name, exact=True).count() == 1
    assert page.get_by_label("Nombre completo").input_value() == "Carla Quesera Paredes"
    assert page.get_by_label("Comuna", exact=True).input_value() == "10301"
    assert page.get_by_label("Contraseña").input_value() == ""
    summary.get_by_role("link", name="RUT", exact=True).click()
    assert page.evaluate("document.activeElement.id") == "rut"
    shot(page, "registro-errores", 360)

    page.get_by_label("RUT", exact=True).fill("8.765.432-K")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_label("Acepto el uso de mis datos personales").check()
    page.get_by_role("button", name="Crear mi cuenta").click()
    # The browser keeps the "#rut" the summary link added, across the redirect.
    page.wait_for_url(lambda url: url.split("#")[0] == base + "/")
    assert "Por dónde empezar" in page.content()
    assert page.get_by_role("link", name="Hacer una consulta").count() == 1

    page.goto(f"{base}/cursos/{SLUG}")
    page.get_by_role("button", name="Inscribirme").click()
    page.wait_for_url(f"{base}/cursos/{SLUG}")
    page.get_by_role("link", name="Comenzar el curso").click()
    page.get_by_role("button", name="Marcar como completada").click()
    page.wait_for_load_state()

    page.goto(base + "/")
    assert page.get_by_role("heading", name="Continúa tu curso").count() == 1
    assert "1 de 8 lecciones · 12 %" in page.inner_text("main")
    shot(page, "mi-inicio", 360)
    shot(page, "mi-inicio", 1280)
    page.get_by_role("link", name=f"Continuar {TITLE}").click()
    page.wait_for_url(f"{base}/cursos/{SLUG}/catalogo-y-fotos")

    # Cancelling, without JavaScript: a page says what happens and asks first.
    context = browser.new_context(
        locale="es-CL", viewport={"width": 360, "height": 800}, java_script_enabled=False
    )
    try:
        plain = context.new_page()
        plain.goto(base + "/ingresar")
        plain.get_by_label("RUT o correo electrónico").fill("8765432-k")
        plain.get_by_label("Contraseña").fill(PASSWORD)
        plain.get_by_role("button", name="Ingresar").click()
        plain.wait_for_url(base + "/")
        plain.goto(base + "/mis-inscripciones")
        plain.get_by_role("link", name=f"Cancelar inscripción en {TITLE}").click()
        plain.wait_for_load_state()
        assert f"¿Cancelar tu inscripción en «{TITLE}»?" in plain.inner_text("h1")
        body = plain.inner_text("main")
        assert "Tu avance en el curso (lecciones completadas y evaluaciones) se conserva" in body
        shot(plain, "cancelar-inscripcion", 360)
        plain.get_by_role("link", name="No, mantener mi inscripción").click()
        plain.wait_for_url(base + "/mis-inscripciones")
        assert "Inscrito/a" in plain.inner_text("main")
        plain.get_by_role("link", name=f"Cancelar inscripción en {TITLE}").click()
        plain.get_by_role("button", name="Sí, cancelar mi inscripción").click()
        plain.wait_for_url(base + "/mis-inscripciones")
        assert f"Cancelaste la inscripción en «{TITLE}»." in plain.inner_text("main")
        assert "Cancelada" in plain.inner_text("main")
        plain.goto(base + "/")
        assert "Continúa tu curso" not in plain.inner_text("main")
    finally:
        context.close()
