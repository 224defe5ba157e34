"""FAQ entries say when they were reviewed and on which sources: the import refuses an
entry without `revisado`, warns about stale ones, and the entry page shows both."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from sv_platform.extensions import db
from sv_platform.faq import services
from sv_platform.faq.models import FaqEntry

DEC_2026 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ENTRY = """
- slug: retencion-honorarios
  question: "¿Cuánto me retienen en una boleta de honorarios?"
  area: legal
  tags: [honorarios]
  revisado: {revisado}
  fuentes:
    - nombre: "SII: boletas de honorarios"
      url: "{url}"
  answer: |
    {answer}
"""


def write(
    tmp_path,
    *,
    revisado="2026-12-01",
    answer="Las emitidas en 2026 retienen 15,25 %.",
    url="https://www.sii.cl/servicios_online/1040-.html",
):
    (tmp_path / "faq").mkdir(exist_ok=True)
    text = ENTRY.format(revisado=revisado, answer=answer, url=url)
    if revisado is None:
        text = text.replace("  revisado: None\n", "")
    (tmp_path / "faq" / "a.yml").write_text(text, encoding="utf-8")
    return tmp_path


def count() -> int:
    return len(list(db.session.scalars(select(FaqEntry))))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"revisado": None},
            "faq/a.yml, línea 2: a la entrada 1 (retencion-honorarios) le falta la fecha de "
            "revisión (revisado: AAAA-MM-DD)",
        ),
        (
            {"revisado": "'ayer'"},
            "faq/a.yml, línea 2: la fecha de revisión (revisado) de la entrada 1",
        ),
        (
            {"url": "https://www.sii.cl/"},
            "faq/a.yml, línea 2: en la entrada 1 (retencion-honorarios), las fuentes",
        ),
    ],
)
def test_entry_without_a_valid_review_is_refused_and_nothing_changes(
    app, tmp_path, fields, message
):
    write(tmp_path, **fields)
    with pytest.raises(services.InvalidContent) as caught:
        services.load_content(tmp_path, now=DEC_2026)
    assert message in caught.value.message
    assert count() == 0


def test_review_date_and_sources_are_stored_and_a_new_review_updates_them(app, tmp_path):
    write(tmp_path, revisado="2026-06-01")
    services.load_content(tmp_path, now=DEC_2026)
    entry = db.session.scalar(select(FaqEntry))
    assert entry.reviewed_on == date(2026, 6, 1)
    assert entry.sources == [
        {
            "nombre": "SII: boletas de honorarios",
            "url": "https://www.sii.cl/servicios_online/1040-.html",
        }
    ]
    write(tmp_path)
    assert "1 actualizada," in services.load_content(tmp_path, now=DEC_2026)
    db.session.refresh(entry)
    assert entry.reviewed_on == date(2026, 12, 1)


def test_stale_entries_are_warned_about_at_load_and_listed(app, tmp_path):
    write(tmp_path, revisado="2025-10-01", answer="En 2025 la retención es 14,5 %.")
    summary = services.load_content(tmp_path, now=DEC_2026)
    assert summary.startswith("Preguntas frecuentes: 1 nueva, 0 actualizadas, 0 sin cambios.")
    assert "Preguntas por revisar:" in summary
    assert "faq/a.yml, línea 2: retencion-honorarios se revisó el 1 de octubre de 2025" in summary
    assert "habla de 2025 como si fuera el presente: «En 2025 la retención es 14,5 %.»" in summary
    stale = services.stale_entries(date(2026, 12, 1))
    assert [row["entry"].slug for row in stale] == ["retencion-honorarios"]
    assert len(stale[0]["reasons"]) == 2
    assert services.stale_entries(date(2025, 10, 15)) == []


def test_current_entries_load_without_warnings(app, tmp_path):
    write(tmp_path)
    summary = services.load_content(tmp_path, now=DEC_2026)
    assert summary == "Preguntas frecuentes: 1 nueva, 0 actualizadas, 0 sin cambios."
    assert services.stale_entries(DEC_2026.date()) == []


def test_entry_page_shows_the_review_date_and_sources(client, tmp_path):
    write(tmp_path)
    services.load_content(tmp_path, now=DEC_2026)
    entry = db.session.scalar(select(FaqEntry))
    html = client.get(services.entry_url(entry)).get_data(as_text=True)
    assert "Revisado en diciembre de 2026." in html
    assert (
        '<a href="https://www.sii.cl/servicios_online/1040-.html" rel="noopener noreferrer">'
        "SII: boletas de honorarios</a>" in html
    )


def test_entry_written_in_the_editor_shows_no_review_line(client, make_entry):
    entry = make_entry(answer="Respuesta redactada por un asesor.")
    html = client.get(services.entry_url(entry)).get_data(as_text=True)
    assert "Respuesta redactada" in html and "Revisado en" not in html
