"""A person registers and logs in through the real pages; screenshots for docs/."""

import json

from tests.e2e.conftest import register, shot


def test_register_login_profile_and_data_download(live_server, page):
    base = live_server.url
    page.goto(base + "/")
    shot(page, "inicio", 360)
    shot(page, "inicio", 1280)

    page.goto(base + "/registro")
    shot(page, "registro", 360)
    shot(page, "registro", 1280)
    # The comuna list follows the region: only Ñuble's comunas remain selectable.
    page.get_by_label("Región", exact=True).select_option(label="Ñuble")
    visible = page.get_by_label("Comuna", exact=True).locator("optgroup:not([hidden])")
    assert visible.count() == 1 and visible.get_attribute("label") == "Ñuble"
    register(
        page,
        base,
        rut="7.654.321-6",
        name="Rosa Emprendedora Díaz",
        email="rosa@ejemplo.cl",
        phone="+56 9 4444 5555",
        password="mis-empanadas-2026",
        region="Ñuble",
        comuna="Chillán",
        birth_date="1982-11-05",
        education="Educación media",
    )
    assert "¡Bienvenida/o, Rosa! Tu cuenta fue creada." in page.content()

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
