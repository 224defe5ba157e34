"""Two browsers chat in real time: the demo entrepreneur opens a legal consulta, the demo
legal advisor takes it, and messages, typing and read marks cross without reloading."""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, shot

PASSWORD = "Servicios-Demo-2026"


def _login(context, base, email):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()
    return page


def test_entrepreneur_and_advisor_chat_in_real_time(live_server, browser):
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run(
        [flask, "sv", "window", "create", "--offering", "asesoria-legal", "--capacity", "10"],
        cwd=ROOT,
        env=live_server.env,
        check=True,
        capture_output=True,
    )
    base = live_server.url
    ctx_a = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    ctx_b = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    try:
        owner = _login(ctx_a, base, "emprendedora@demo.serviciosvirtuales.cl")
        owner.goto(base + "/consultas/nueva")
        owner.get_by_label("Área de la consulta").select_option("legal")
        owner.get_by_label("Asunto").fill("¿Necesito registrar la marca de mis mermeladas?")
        owner.get_by_label("Describe tu consulta").fill(
            "Vendo mermeladas por Instagram y quiero saber si debo registrar el nombre."
        )
        owner.get_by_role("button", name="Enviar consulta").click()
        owner.wait_for_url("**/consultas/*")
        consulta_url = owner.url
        expect(owner.get_by_text("Te responderemos a más tardar el")).to_be_visible()

        advisor = _login(ctx_b, base, "legal@demo.serviciosvirtuales.cl")
        advisor.goto(base + "/asesor/consultas")
        expect(
            advisor.get_by_text("¿Necesito registrar la marca de mis mermeladas?")
        ).to_be_visible()
        advisor.goto(consulta_url)
        advisor.get_by_role("button", name="Tomar consulta").click()
        expect(advisor.get_by_text("Tomaste la consulta.")).to_be_visible()

        chat_a, chat_b = owner.locator("#chat"), advisor.locator("#chat")
        owner.reload()
        expect(chat_a).to_have_attribute("data-live", "true")
        expect(chat_b).to_have_attribute("data-live", "true")

        advisor.get_by_label("Tu mensaje").fill("Hola Carolina, **sí**: te conviene registrarla.")
        advisor.get_by_role("button", name="Enviar mensaje").click()
        expect(owner.locator("#mensajes")).to_contain_text("te conviene registrarla")
        expect(owner.locator("#mensajes strong", has_text="sí")).to_be_visible()

        owner.get_by_label("Tu mensaje").press_sequentially("¿Cuánto cuesta?")
        expect(advisor.locator("#escribiendo")).to_contain_text("está escribiendo")
        owner.get_by_role("button", name="Enviar mensaje").click()
        expect(advisor.locator("#mensajes")).to_contain_text("¿Cuánto cuesta?")
        # The entrepreneur's page had the advisor's message in view: the advisor sees it read.
        expect(advisor.locator("li.mine .read-mark").first).to_be_visible()

        # Script in a message stays text.
        owner.get_by_label("Tu mensaje").fill("<img src=x onerror=alert(1)> prueba")
        owner.get_by_role("button", name="Enviar mensaje").click()
        expect(advisor.locator("#mensajes")).to_contain_text("prueba")
        assert advisor.locator("#mensajes img[onerror]").count() == 0

        # No message was duplicated on either side.
        for page in (owner, advisor):
            assert page.locator("#mensajes li[data-id]").count() == 3
        shot(owner, "consulta-chat", 360)
        shot(advisor, "consulta-chat-asesor", 1280)
    finally:
        ctx_a.close()
        ctx_b.close()
