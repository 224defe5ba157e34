"""Static files and page weight: hashed immutable URLs, precompressed variants, the CSS
subset covering every Bootstrap class the pages use, compressed HTML, no blocking script."""

import gzip
import re
from pathlib import Path

import brotli
import pytest

from sv_platform import assets

STATIC = Path(assets.__file__).parent / "static"
SOURCES = Path(assets.__file__).parent.parent / "assets/js"
TEMPLATES = Path(assets.__file__).parent / "templates"
BOOTSTRAP = STATIC / "vendor/bootstrap/css/bootstrap.min.css"
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _strip(css: str) -> str:
    return re.sub(r"url\([^)]*\)|/\*.*?\*/", "", css, flags=re.S)


def _classes(css: str) -> set[str]:
    return set(CLASS.findall(_strip(css)))


def _selectors(css: str) -> list[set[str]]:
    """The classes of each selector of each rule (at-rule preludes left out)."""
    preludes = re.findall(r"([^{}]+)\{", _strip(css))
    return [
        set(CLASS.findall(selector))
        for prelude in preludes
        if not prelude.lstrip().startswith("@")
        for selector in prelude.split(",")
    ]


def _static(client, url, **kwargs):
    """A static file read whole (the file is closed before the test goes on)."""
    return client.get(url, buffered=True, **kwargs)


def _linked(client, path="/") -> list[str]:
    return LINK.findall(client.get(path).get_data(as_text=True))


def test_pages_link_content_hashed_names_served_immutable(client):
    links = _linked(client)
    css = next(u for u in links if u.endswith(".css"))
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", css)
    assert all(re.search(r"\.[0-9a-f]{12}\.\w+$", u) for u in links), links
    response = _static(client, css)
    assert response.status_code == 200
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data == (STATIC / "css/site.css").read_bytes()


def test_changed_content_gets_a_new_name(tmp_path):
    (tmp_path / "css").mkdir()
    (tmp_path / "css/site.css").write_text("a{}")
    before = assets.manifest(tmp_path)["css/site.css"]
    (tmp_path / "css/site.css").write_text("a{color:red}")
    after = assets.manifest(tmp_path)["css/site.css"]
    assert before != after and after.startswith("css/site.") and after.endswith(".css")


def test_plain_names_still_served_with_a_short_lifetime(client):
    response = _static(client, "/static/css/site.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]
    assert f"max-age={assets.PLAIN_MAX_AGE}" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [("br, gzip", "br", brotli.decompress), ("gzip", "gzip", gzip.decompress)],
)
def test_static_files_sent_precompressed(client, accept, encoding, decode):
    url = next(u for u in _linked(client) if u.endswith(".css"))
    response = _static(client, url, headers={"Accept-Encoding": accept})
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert decode(response.data) == (STATIC / "css/site.css").read_bytes()


def test_precompressed_variants_match_their_sources():
    """`make assets` was run after the last change to any linked file."""
    files = assets.precompressed(STATIC)
    assert STATIC / "css/site.css" in files and STATIC / "js/chat.js" in files
    for path in files:
        data = path.read_bytes()
        br, gz = path.with_name(path.name + ".br"), path.with_name(path.name + ".gz")
        assert br.exists() and gz.exists(), f"{path.name}: run make assets"
        assert brotli.decompress(br.read_bytes()) == data, f"{br.name} is stale: make assets"
        assert gzip.decompress(gz.read_bytes()) == data, f"{gz.name} is stale: make assets"


def test_css_subset_covers_every_bootstrap_class_the_pages_use():
    """Every Bootstrap selector whose classes all appear as words in a template, script or
    module is in site.css (PurgeCSS's rule): a page using a new class needs `make assets`."""
    site_css = (STATIC / "css/site.css").read_text()
    shipped = _classes(site_css)
    sources = [*TEMPLATES.rglob("*.html"), *SOURCES.glob("*.js")]
    sources += Path(assets.__file__).parent.rglob("*.py")
    words = set()
    for source in sources:
        words |= set(re.findall(r"[\w-]+", source.read_text()))
    used = [c for c in _selectors(BOOTSTRAP.read_text()) if c and c <= words]
    missing = sorted(set().union(*used) - shipped)
    assert not missing, f"not in site.css (run make assets): {missing}"
    assert len(site_css) < len(BOOTSTRAP.read_text()) / 4
    app_css = (STATIC / "css/app.css").read_text()
    assert _classes(app_css) <= shipped, "app.css changed: make assets"


LITERAL = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""")
# Imports and comments: what a minified file need not keep.
NOT_TEXT = re.compile(r"^import [^\n]*|^\s*//[^\n]*|\s{2}//[^\n]*|/\*.*?\*/", re.M | re.S)


@pytest.mark.parametrize("source", sorted(SOURCES.glob("*.js")), ids=lambda p: p.name)
def test_scripts_are_built_from_their_sources(source):
    """static/js/NAME.js is assets/js/NAME.js minified (`make assets`): every text of the
    source is in it."""
    built = (STATIC / "js" / source.name).read_text()
    code = NOT_TEXT.sub("", source.read_text())
    texts = [a or b for a, b in LITERAL.findall(code)]
    missing = [t for t in texts if len(t) >= 12 and "\\" not in t and t not in built]
    assert not missing, f"{source.name} changed: make assets ({missing[:3]})"
    assert "\n  " not in built, f"{source.name}: the built file is not minified"


def test_html_is_compressed(client):
    response = client.get("/cursos", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert "<h1" in gzip.decompress(response.data).decode()


def test_no_script_blocks_rendering(client):
    html = client.get("/").get_data(as_text=True)
    head = html.split("</head>")[0]
    assert "<script" not in head
    for tag in re.findall(r"<script[^>]*>", html):
        assert " defer" in tag, tag
    assert "bootstrap.bundle" not in html and "bootstrap.min.css" not in html
