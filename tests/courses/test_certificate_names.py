"""Certificates print any name people in Chile write, or say clearly what they cannot."""

import io
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from sv_platform.courses import certificate as pdf
from sv_platform.extensions import db
from tests.courses.test_views import certificate  # noqa: F401 - fixture


def _cert(name: str):
    from datetime import UTC, datetime

    return SimpleNamespace(
        name=name,
        rut="12345678-5",
        course_title="Vende en línea",
        hours=3,
        issued_at=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
        code="ABCDEFGHJKLMNPQR",
    )


@pytest.mark.parametrize(
    "name",
    [
        "王小明 김민준 さくら",  # Chinese, Korean, Japanese kana: one PDF (the CJK font is slow)
        "Мария Иванова",  # Cyrillic
        "Ñuñoa Müller Ağaoğlu",  # Latin with diacritics
        "Millaray Ñancupil Huenchumil",  # Mapuche names
        "Jean-Baptiste Pierre-Louis",  # Haitian
    ],
)
def test_every_character_of_the_name_is_in_the_pdf(app, name):
    body = pdf.build_pdf(_cert(name), "http://127.0.0.1/certificados/ABCDEFGHJKLMNPQR")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert name in text.replace("\n", " ")


@pytest.mark.parametrize("name", ["Camila 🌸 Soto", "محمد عبد الله"])
def test_what_cannot_be_printed_is_refused_clearly(app, name):
    with pytest.raises(pdf.NameNotPrintable) as refused:
        pdf.build_pdf(_cert(name), "http://127.0.0.1/certificados/x")
    assert "No podemos imprimir tu nombre" in refused.value.message


def test_the_owner_sees_the_refusal_instead_of_a_broken_pdf(
    client,
    auth,
    student,
    certificate,  # noqa: F811 - the fixture imported above
):
    certificate.name = "Camila 🌸 Soto"
    db.session.commit()
    auth.login(student)
    response = client.get(f"/certificados/{certificate.code}/pdf", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "No podemos imprimir tu nombre" in page and "🌸" in page
    assert not response.data.startswith(b"%PDF")
