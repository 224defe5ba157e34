"""Two browsers chat in real time: the demo entrepreneur opens a legal consulta, the demo
legal advisor takes it, and messages, typing and read marks cross without reloading."""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, checked, shot

PASSWORD = "Servicios-Demo-2026"


def _login(context, base, email):
    """A logged-in page whose every navigation is checked by axe-core."""
    page = checked(context.new_page())
    page.goto(base + "/ingresar")
    page.get_by_label("RUT o correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()
    return page


def _window(live_server, offering):
    flask = str(Path(sys.executable).parent / "flask")
    subprocess.run(
        [flask, "sv", "window", "create", "--offering", offering, "--capacity", "10"],
        cwd=ROOT,
        env=live_server.env,
        check=True,
        capture_output=True,
    )


def _websocket_handshakes(context, page) -> dict:
    """The page's WebSocket handshakes from here on, as Chromium sent and received them:
    {request id: (request headers, response headers or None)}, names in lower case."""
    seen = {}
    cdp = context.new_cdp_session(page.unwrapped)
    cdp.send("Network.enable")

    def lower(headers):
        return {name.lower(): value for name, value in headers.items()}

    cdp.on(
        "Network.webSocketWillSendHandshakeRequest",
        lambda e: seen.__setitem__(e["requestId"], (lower(e["request"]["headers"]), None)),
    )
    cdp.on(
        "Network.webSocketHandshakeResponseReceived",
        lambda e: seen.__setitem__(
            e["requestId"],
            (seen.get(e["requestId"], ({}, None))[0], lower(e["response"]["headers"])),
        ),
    )
    return seen


def test_entrepreneur_and_advisor_chat_in_real_time(live_server, browser, tmp_path):
    _window(live_server, "asesoria-legal")
    base = live_server.url
    ctx_a = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    ctx_b = browser.new_context(locale="es-CL", viewport={"width": 1280, "height": 900})
    try:
        owner = _login(ctx_a, base, "emprendedora@demo.serviciosvirtuales.cl")
        owner.goto(base + "/consultas/nueva")
        expect(owner.get_by_text("Al menos 20 caracteres.")).to_be_visible()
        owner.get_by_label("Área de la consulta").select_option("legal")
        owner.get_by_label("Asunto").fill("¿Necesito registrar la marca de mis mermeladas?")
        owner.get_by_label("Describe tu consulta").fill(
            "Vendo mermeladas por Instagram y quiero saber si debo registrar el nombre."
        )
        owner.get_by_role("button", name="Enviar consulta").click()
        owner.wait_for_url("**/consultas/*")
        consulta_url = owner.url
        expect(owner.get_by_text("Te responderemos a más tardar el")).to_be_visible()
        # Nobody marked themselves available: she is told she need not wait on the page.
        expect(owner.get_by_text("No necesitas esperar en esta página")).to_be_visible()

        advisor = _login(ctx_b, base, "legal@demo.serviciosvirtuales.cl")
        advisor.goto(base + "/asesor/consultas")
        expect(
            advisor.get_by_text("¿Necesito registrar la marca de mis mermeladas?")
        ).to_be_visible()
        advisor.get_by_role("button", name="Marcarme «Disponible»").click()
        expect(advisor.get_by_text("Quedaste «Disponible»")).to_be_visible()
        advisor.goto(consulta_url)

        # The note has its own field: its label focuses the note, never the chat box.
        advisor.get_by_text("Nota interna (solo la ve el equipo asesor)").click()
        expect(advisor.locator("#nota-body")).to_be_focused()
        expect(advisor.get_by_label("Nota interna (solo la ve el equipo asesor)")).to_have_id(
            "nota-body"
        )

        handshakes = _websocket_handshakes(ctx_a, owner)
        owner.reload()  # someone is attending now
        expect(owner.get_by_text("una persona asesora del área atendiendo")).to_be_visible()
        chat_a, chat_b = owner.locator("#chat"), advisor.locator("#chat")
        expect(chat_a).to_have_attribute("data-live", "true")
        expect(chat_b).to_have_attribute("data-live", "true")
        # Chromium offers WebSocket compression; the server declines it (a compressor and a
        # decompressor of ~130 KB a socket, for frames of a few hundred bytes).
        assert handshakes, "the chat opened no WebSocket"
        for offered, answered in handshakes.values():
            assert "permessage-deflate" in offered.get("sec-websocket-extensions", "")
            assert answered is not None and "sec-websocket-extensions" not in answered

        # Answering a new consulta takes it; both pages follow without reloading.
        expect(advisor.get_by_text("al enviar tu mensaje la tomas tú")).to_be_visible()
        advisor.get_by_label("Tu mensaje").fill("Hola Carolina, **sí**: te conviene registrarla.")
        advisor.get_by_role("button", name="Enviar mensaje").click()
        expect(owner.locator("#mensajes")).to_contain_text("te conviene registrarla")
        expect(owner.locator("#mensajes strong", has_text="sí")).to_be_visible()
        expect(advisor.get_by_role("button", name="Marcar como resuelta")).to_be_visible()
        expect(advisor.locator("#estado")).to_have_text("En curso")
        expect(owner.locator("#estado")).to_have_text("En curso")
        expect(owner.locator("#asignacion")).to_contain_text("Asesor/a: Luis Asesor Legal")
        expect(owner.locator("#historial")).to_contain_text("En curso")
        live_time = owner.locator("#mensajes li[data-id] time").first.inner_text()

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

        # A file later in the conversation reaches the other side live, as a download.
        boleta = tmp_path / "boleta.pdf"
        boleta.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
        owner.get_by_label("Adjuntar archivos (opcional)").set_input_files(str(boleta))
        owner.get_by_label("Tu mensaje").fill("Te mando la boleta")
        owner.get_by_role("button", name="Enviar mensaje").click()
        link = advisor.locator("#mensajes .chat-files a", has_text="boleta.pdf")
        expect(link).to_be_visible()
        with advisor.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "boleta.pdf"

        # No message was duplicated on either side.
        for page in (owner, advisor):
            assert page.locator("#mensajes li[data-id]").count() == 4

        # The advisor waits for her: her badge changes without a reload.
        advisor.get_by_role("button", name="Esperar respuesta del emprendedor/a").click()
        expect(owner.locator("#estado")).to_have_text("Esperando tu respuesta")
        # Resolved: her page offers closing and reopening, the chat box goes away.
        advisor.get_by_role("button", name="Marcar como resuelta").click()
        expect(owner.locator("#estado")).to_have_text("Resuelta")
        expect(owner.get_by_role("heading", name="¿Quedó resuelta tu consulta?")).to_be_visible()
        expect(owner.locator("#chat-form")).to_be_hidden()
        expect(owner.get_by_text("Esta consulta está resuelta.")).to_be_visible()
        shot(owner, "consulta-chat", 360)
        shot(advisor, "consulta-chat-asesor", 1280)

        # The same time before and after a reload (24-hour clock).
        owner.reload()
        assert owner.locator("#mensajes li[data-id] time").first.inner_text() == live_time
        assert "m." not in live_time
    finally:
        ctx_a.close()
        ctx_b.close()


def test_a_long_word_in_a_subject_never_widens_the_pages(live_server, browser):
    _window(live_server, "asesoria-sustentabilidad")
    base = live_server.url
    word = "Reciclaje" + "a" * 191
    ctx = browser.new_context(locale="es-CL", viewport={"width": 360, "height": 800})
    ctx_b = browser.new_context(locale="es-CL", viewport={"width": 360, "height": 800})
    try:
        owner = _login(ctx, base, "emprendedora@demo.serviciosvirtuales.cl")
        owner.goto(base + "/consultas/nueva")
        owner.get_by_label("Área de la consulta").select_option("sustainability")
        owner.get_by_label("Asunto").fill(word)
        owner.get_by_label("Describe tu consulta").fill(word + " y una descripción larga.")
        owner.get_by_role("button", name="Enviar consulta").click()
        owner.wait_for_url("**/consultas/*")
        assert owner.evaluate("document.documentElement.scrollWidth") <= 360
        owner.goto(base + "/consultas")
        assert owner.evaluate("document.documentElement.scrollWidth") <= 360
        advisor = _login(ctx_b, base, "sustentabilidad@demo.serviciosvirtuales.cl")
        advisor.goto(base + "/asesor/consultas")
        expect(advisor.get_by_role("link", name=word)).to_be_visible()
        assert advisor.evaluate("document.documentElement.scrollWidth") <= 360
    finally:
        ctx.close()
        ctx_b.close()
