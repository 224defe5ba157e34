"""A person registers and logs in through the real pages; screenshots for docs/."""

import json

from tests.e2e.conftest import shot


def test_register_login_profile_and_data_download(live_server, page):
    base = live_server.url
    page.goto(base + "/")
    shot(page, "inicio", 360)
    shot(page, "inicio", 1280)

    page.goto(base + "/registro")
    shot(page, "registro", 360)
    shot(page, "registro", 1280)
    page.get_by_label("RUT", exact=True).fill("7.654.321-6")
    page.get_by_label("Nombre completo").fill("Rosa Emprendedora Díaz")
    page.get_by_label("Correo electrónico").fill("rosa@ejemplo.cl")
    page.get_by_label("Teléfono").fill("+56 9 4444 5555")
    page.get_by_label("Contraseña").fill("mis-empanadas-2026")
    page.get_by_label("Región", exact=True).select_option(label="Ñuble")
    comuna = page.get_by_label("Comuna", exact=True)
    # The comuna list follows the region: only Ñuble's comunas remain selectable.
    assert comuna.locator("optgroup:not([hidden])").count() == 1
    comuna.select_option(label="Chillán")
    page.get_by_label("Sexo").select_option(label="Femenino")
    page.get_by_label("Fecha de nacimiento").fill("1982-11-05")
    page.get_by_label("Nivel educacional").select_option(label="Educación media")
    page.get_by_label("Acepto el uso de mis datos personales").check()
    page.get_by_role("button", name="Crear mi cuenta").click()
    page.wait_for_url(base + "/")
    assert "Rosa" in page.content()

    page.get_by_role("button", name="Salir").click()
    page.wait_for_url(base + "/")
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill("76543216")
    page.get_by_label("Contraseña").fill("mis-empanadas-2026")
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()

    page.goto(base + "/perfil")
    page.get_by_label("Teléfono").fill("+56 9 7777 8888")
    page.get_by_role("button", name="Guardar mis datos").click()
    assert "Tus datos fueron actualizados." in page.content()
    page.get_by_label("Razón social").fill("Empanadas Rosa SpA")
    page.get_by_label("Tamaño").select_option(label="Microempresa")
    page.get_by_role("button", name="Guardar datos de la empresa").click()
    assert "Los datos de tu empresa fueron guardados." in page.content()
    shot(page, "perfil", 360)
    shot(page, "perfil", 1280)

    page.goto(base + "/mis-datos")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Descargar mis datos").click()
    with open(download_info.value.path(), encoding="utf-8") as saved:
        data = json.load(saved)
    assert data["cuenta"]["rut"] == "7654321-6"
    assert data["cuenta"]["telefono"] == "+56 9 7777 8888"
    assert data["empresa"]["razon_social"] == "Empanadas Rosa SpA"
