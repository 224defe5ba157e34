"""FAQ search as you type, in the browser: suggestions follow the text in the box."""

import contextlib
import time

import pytest

from tests.e2e.conftest import browser, live_server, page  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.e2e


def test_a_late_answer_never_brings_back_suggestions_for_an_older_text(live_server, page):  # noqa: F811
    held = []  # the suggestion requests, answered only when the test says so
    page.route("**/api/faq/sugerencias*", lambda route: held.append(route))
    page.goto(live_server.url + "/preguntas-frecuentes")
    field = page.get_by_label("¿Qué quieres saber?")
    box = page.locator("#faq-sugerencias")

    field.fill("boleta")
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "no suggestion request was sent"
    field.fill("bo")  # too short to suggest: the box empties
    page.wait_for_timeout(600)
    with contextlib.suppress(Exception):  # the page may already have given up on it
        held[0].continue_()  # the answer for «boleta» arrives now
    page.wait_for_timeout(800)
    assert box.inner_text().strip() == ""

    page.unroute("**/api/faq/sugerencias*")
    field.fill("boleta electrónica")
    page.wait_for_selector("#faq-sugerencias li a")
    assert "sugerencia" in box.inner_text()
