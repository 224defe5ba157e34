"""What people read: form fields announce only what applies, counts agree with their noun,
and no developer word (slug, FAQ, Markdown) reaches a page."""

import re
from pathlib import Path

import pytest

from sv_platform.core.formatting import plural
from sv_platform.extensions import db
from sv_platform.faq import services as faq

TEMPLATES = Path(__file__).resolve().parents[1] / "sv_platform" / "templates"


def test_pristine_fields_are_not_announced_as_invalid(client):
    html = client.get("/registro").get_data(as_text=True)
    assert '"None"' not in html
    assert "aria-invalid" not in html
    # Fields with a help text point at it; the others carry no aria-describedby at all.
    assert re.search(r'<input aria-describedby="rut-ayuda"[^>]*id="rut"', html)
    assert not re.search(r'<input[^>]*aria-describedby="[^"]*"[^>]*id="name"', html)


def test_a_field_with_an_error_is_invalid_and_points_at_its_message(client):
    response = client.post("/ingresar", data={"identifier": "", "password": ""})
    html = response.get_data(as_text=True)
    assert '"None"' not in html
    field = re.search(r'<input[^>]*id="identifier"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="identifier-error"' in field
    assert 'id="identifier-error"' in html


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 cupos"), (1, "1 cupo"), (2, "2 cupos"), (1250, "1.250 cupos")]
)
def test_plural_agrees_with_the_count(app, count, expected):
    with app.test_request_context():
        assert plural(count, "cupo", "cupos") == expected


def test_one_vote_reads_in_singular(client, app):
    entry = faq.create_entry(
        question="¿Cómo emito una boleta?",
        answer="En sii.cl.",
        area="legal",
        tags=(),
        published=True,
    )
    entry.helpful_count = 1
    db.session.commit()
    html = client.get(f"/preguntas-frecuentes/{entry.id}-{entry.slug}").get_data(as_text=True)
    assert "1 de 1 persona dice que le sirvió." in html
    entry.not_helpful_count = 2
    db.session.commit()
    html = client.get(f"/preguntas-frecuentes/{entry.id}-{entry.slug}").get_data(as_text=True)
    assert "1 de 3 personas dicen que les sirvió." in html


# Words of the code, not of the people who use the platform. The consulta templates
# (advisory/) are checked by their own tests.
JARGON = re.compile(r"\b(Slug|slug:|FAQ|Markdown)\b")


def _visible_text(source: str) -> str:
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}", "", source, flags=re.S)
    return re.sub(r"<[^>]+>", " ", source)


def test_no_developer_words_on_the_pages():
    found = [
        f"{path.relative_to(TEMPLATES)}: {m.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        if "advisory" not in path.parts
        for m in JARGON.finditer(_visible_text(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_faq_editor_explains_the_format_in_plain_words(client, auth, admin_user):
    auth.login(admin_user)
    html = client.get("/admin/preguntas-frecuentes/nueva").get_data(as_text=True)
    assert "Formato: negritas con **así**" in html
    assert "Markdown" not in html
    assert "Editar preguntas frecuentes" in html
