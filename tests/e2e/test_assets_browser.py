"""The shell without Bootstrap's JavaScript: the phone menu opens and closes, the CSS subset
styles the page, and static files come from hashed immutable URLs."""

import re


def test_phone_menu_opens_and_closes(live_server, page):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/")
    menu_button = page.locator("#menu > summary", has_text="Menú")
    courses = page.locator("#menu").get_by_role("link", name="Cursos")
    assert not courses.is_visible()
    menu_button.click()
    assert courses.is_visible()
    assert page.locator("#menu").evaluate("d => d.open")
    page.keyboard.press("Escape")
    assert not courses.is_visible()
    menu_button.click()
    menu_button.click()
    assert not courses.is_visible()


def test_wide_screen_shows_the_menu_styled_from_the_hashed_css(live_server, page):
    hashed = []
    page.on(
        "response",
        lambda r: hashed.append(r) if re.search(r"/static/.+\.[0-9a-f]{12}\.", r.url) else None,
    )
    page.goto(live_server.url + "/")
    assert page.locator("#menu").get_by_role("link", name="Cursos").is_visible()
    assert not page.locator("#menu > summary").is_visible()
    brand_color = page.locator(".navbar-brand").evaluate("e => getComputedStyle(e).color")
    assert brand_color == "rgb(11, 79, 138)"
    css = next(r for r in hashed if r.url.endswith(".css"))
    assert "immutable" in css.headers["cache-control"]
    assert css.headers.get("content-encoding") in ("br", "gzip")
