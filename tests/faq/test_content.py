"""Importing faq/*.yml, the services advisors use, and personal data."""

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from sv_platform.accounts.models import AuditEntry
from sv_platform.core.domain import InvalidInput
from sv_platform.extensions import db
from sv_platform.faq import services
from sv_platform.faq.models import FaqEntry, FaqVote
from tests.faq.conftest import REPO

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def entry_count() -> int:
    return db.session.scalar(select(func.count()).select_from(FaqEntry))


def test_real_content_loads_idempotently(app):
    # on the day the content was last reviewed: no "por revisar" warnings in the summary
    reviewed = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    first = services.load_content(REPO, now=reviewed)
    total = entry_count()
    assert total >= 80
    assert first == f"Preguntas frecuentes: {total} nuevas, 0 actualizadas, 0 sin cambios."
    assert services.load_content(REPO, now=reviewed) == (
        f"Preguntas frecuentes: 0 nuevas, 0 actualizadas, {total} sin cambios."
    )
    assert entry_count() == total
    assert {e.area for e in db.session.scalars(select(FaqEntry))} == {
        "legal",
        "sustainability",
        "general",
    }


def test_cli_content_load(runner):
    result = runner.invoke(args=["sv", "content", "load", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "Preguntas frecuentes:" in result.output
    assert entry_count() >= 80


@pytest.fixture
def content_dir(tmp_path):
    (tmp_path / "faq").mkdir()
    return tmp_path


def write(folder, name, text):
    (folder / "faq" / name).write_text(text, encoding="utf-8")


GOOD = """
- slug: pregunta-uno
  question: "¿Cómo inicio actividades en el SII?"
  area: legal
  tags: [sii, inicio de actividades]
  revisado: 2026-12-01
  answer: |
    En **sii.cl**, con tu Clave Tributaria.
"""


def test_reload_updates_changed_entries_and_keeps_the_published_flag(app, content_dir):
    write(content_dir, "a.yml", GOOD)
    services.load_content(content_dir)
    entry = db.session.scalar(select(FaqEntry).where(FaqEntry.slug == "pregunta-uno"))
    services.set_published(entry.id, False)
    write(content_dir, "a.yml", GOOD.replace("Clave Tributaria", "Clave Única"))
    assert "1 actualizada," in services.load_content(content_dir)
    db.session.refresh(entry)
    assert "Clave Única" in entry.answer and entry.published is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- slug: [roto", "faq/b.yml (línea 1): el archivo no es YAML válido."),
        ("slug: suelto", "faq/b.yml: debe ser una lista de preguntas."),
        (
            "- slug: otra\n  question: '¿Una pregunta válida?'\n  area: legal\n  tags: []",
            "faq/b.yml, entrada 1: falta answer.",
        ),
        (
            "- slug: Con Espacios\n  question: '¿Una pregunta válida?'\n  area: legal\n  tags: []\n"
            "  answer: Sí.",
            "faq/b.yml, entrada 1: el slug 'Con Espacios' solo puede tener",
        ),
        (
            "- slug: otra\n  question: '¿Una pregunta válida?'\n  area: cocina\n  tags: []\n"
            "  answer: Sí.",
            "faq/b.yml, entrada 1 (otra): Elige un área",
        ),
        (
            "- slug: otra\n  question: '¿Una pregunta válida?'\n  area: legal\n  tags: sii\n"
            "  answer: Sí.",
            "faq/b.yml, entrada 1 (otra): tags debe ser una lista.",
        ),
        (
            "- slug: otra\n  question: '¿?'\n  area: legal\n  tags: []\n  answer: Sí.",
            "faq/b.yml, entrada 1 (otra): Escribe la pregunta",
        ),
        (GOOD, "faq/b.yml, entrada 1 (pregunta-uno): el slug ya se usa en faq/a.yml."),
    ],
)
def test_invalid_files_fail_with_file_and_message_and_change_nothing(
    app, content_dir, text, message
):
    write(content_dir, "a.yml", GOOD)
    write(content_dir, "b.yml", text)
    with pytest.raises(services.InvalidContent) as caught:
        services.load_content(content_dir)
    assert message in caught.value.message
    assert entry_count() == 0


def test_cli_reports_invalid_content(runner, content_dir):
    shutil.copy(REPO / "faq" / "general.yml", content_dir / "faq" / "general.yml")
    write(content_dir, "z.yml", "- slug: x\n  question: 1")
    result = runner.invoke(args=["sv", "content", "load", str(content_dir)])
    assert result.exit_code != 0
    assert "faq/z.yml, entrada 1: falta area, tags, answer." in result.output
    assert entry_count() == 0


def test_advisor_drafts_an_entry_from_a_consultation(app, advisor_user):
    entry = services.create_entry(
        question="¿Puedo pagar a un trabajador con boleta?",
        answer="Depende del vínculo.",
        area="legal",
        tags=["honorarios", " honorarios ", ""],
        source_consultation_id=42,
        actor=advisor_user,
        now=NOW,
    )
    assert (entry.published, entry.source_consultation_id, entry.tags) == (
        False,
        42,
        ["honorarios"],
    )
    assert entry.created_at == NOW
    assert entry.slug == "puedo-pagar-a-un-trabajador-con-boleta"
    audit = db.session.scalar(select(AuditEntry))
    assert (audit.action, audit.actor_id, audit.target_id) == (
        "faq.create",
        advisor_user.id,
        str(entry.id),
    )
    again = services.create_entry(question=entry.question, answer="Otra.", area="legal")
    assert again.slug == "puedo-pagar-a-un-trabajador-con-boleta-2"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"question": "corta"}, "question", "Escribe la pregunta (al menos 8 caracteres)."),
        ({"question": "x" * 301}, "question", "La pregunta puede tener hasta 300 caracteres."),
        ({"answer": "   "}, "answer", "Escribe la respuesta."),
        ({"area": "cocina"}, "area", "Elige un área: legal, sustentabilidad o general."),
        ({"tags": ["x" * 61]}, "tags", "Cada etiqueta puede tener hasta 60 caracteres."),
    ],
)
def test_invalid_entries_are_refused(app, fields, field, message):
    values = {"question": "¿Una pregunta válida?", "answer": "Sí.", "area": "legal", **fields}
    with pytest.raises(InvalidInput) as caught:
        services.create_entry(**values)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert entry_count() == 0


def test_update_keeps_unchanged_fields_and_audits_before_and_after(app, admin_user):
    entry = services.create_entry(question="¿Una pregunta válida?", answer="Sí.", area="legal")
    services.update_entry(entry.id, answer="No.", actor=admin_user, now=NOW)
    db.session.refresh(entry)
    assert (entry.question, entry.answer, entry.updated_at) == ("¿Una pregunta válida?", "No.", NOW)
    audit = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (audit.before["answer"], audit.after["answer"]) == ("Sí.", "No.")
    with pytest.raises(services.EntryNotFound):
        services.update_entry(9999, answer="x")


def test_votes_are_exported_and_anonymized(app, make_entry, make_user):
    entry = make_entry()
    voter, other = make_user(), make_user()
    services.vote(entry.id, True, user_id=voter.id, now=NOW)
    services.vote(entry.id, False, user_id=other.id, now=NOW)
    assert services.export_user_data(voter.id) == {
        "votos_preguntas_frecuentes": [
            {"pregunta": entry.question, "me_sirvio": True, "fecha": NOW.isoformat()}
        ]
    }
    services.anonymize_user(voter.id)
    db.session.commit()
    assert services.export_user_data(voter.id) == {"votos_preguntas_frecuentes": []}
    assert db.session.scalar(select(func.count()).select_from(FaqVote)) == 2
    db.session.refresh(entry)
    assert (entry.helpful_count, entry.not_helpful_count) == (1, 1)


def test_vote_needs_a_voter(app, make_entry):
    entry = make_entry()
    with pytest.raises(InvalidInput):
        services.vote(entry.id, True)
    db.session.refresh(entry)
    assert (entry.helpful_count, entry.not_helpful_count) == (0, 0)
    assert db.session.scalar(select(func.count()).select_from(FaqVote)) == 0


@pytest.mark.parametrize("slug", ["Con Espacios", "guion-al-final-", "x" * 121, "ya-existe"])
def test_a_given_slug_must_be_valid_and_free(app, slug):
    services.create_entry(
        question="¿Una pregunta válida?", answer="Sí.", area="legal", slug="ya-existe"
    )
    with pytest.raises(InvalidInput) as caught:
        services.create_entry(
            question="¿Otra pregunta válida?", answer="Sí.", area="legal", slug=slug
        )
    assert caught.value.field == "slug"
    assert entry_count() == 1
