"""A FAQ drafted from a consulta carries no personal data, and its author alone cannot
publish it."""

import pytest

from sv_platform.advisory import chat, lifecycle, services
from sv_platform.faq import services as faq
from tests.advisory.conftest import NOW

CHAT = [
    (
        "person",
        "Hola, buenas tardes. Soy Javiera Muñoz Tapia, RUT 15.432.876-3. Quiero saber "
        "cómo emitir boletas de honorarios. Mi correo es javi.munoz88@gmail.com y mi celular "
        "+56 9 8765 4321.",
    ),
    (
        "advisor",
        "Hola Javiera, buenas tardes.\nPara emitir una boleta de honorarios entra a "
        "sii.cl con tu RUT 15432876-3 y tu clave tributaria, y elige «Boletas de honorarios "
        "electrónicas». La retención de 2026 es 15,25 %.\n\nSaludos cordiales,\nRodrigo Fuentes",
    ),
    ("person", "Muchas gracias Rodrigo!"),
    (
        "advisor",
        "Estimada señora Muñoz: si prefieres, llámanos al 22 123 4567 o escríbeme a "
        "rodrigo.fuentes@asesorias.cl. Recuerda que la boleta se emite el mismo día del pago.",
    ),
]


@pytest.fixture
def resolved(make_consultation, make_user):
    person = make_user(name="Javiera Muñoz Tapia")
    advisor = make_user("advisor", specialty="legal", name="Rodrigo Fuentes Álvarez")
    consultation = make_consultation(person)
    lifecycle.take(consultation.id, advisor, now=NOW)
    for i, (who, body) in enumerate(CHAT):
        chat.post_message(
            consultation.id,
            advisor if who == "advisor" else person,
            body,
            f"m-{i}",
            now=NOW,
        )
    lifecycle.resolve(consultation.id, advisor, now=NOW)
    return consultation, advisor


def test_the_draft_has_no_rut_email_phone_name_or_greeting(resolved):
    consultation, advisor = resolved
    draft = services.faq_draft(consultation.id, advisor)
    text = draft["question"] + "\n" + draft["answer"]
    for personal in (
        "15.432.876-3",
        "15432876-3",
        "javi.munoz88",
        "8765 4321",
        "22 123 4567",
        "rodrigo.fuentes@",
        "Javiera",
        "Muñoz",
        "Rodrigo",
        "Fuentes",
        "Hola",
        "Estimada",
        "Saludos",
    ):
        assert personal not in text, personal
    # What answers the question stays.
    assert "sii.cl" in draft["answer"] and "15,25 %" in draft["answer"]
    assert "la boleta se emite el mismo día del pago" in draft["answer"]


def test_publishing_needs_a_second_person(resolved, make_user):
    consultation, advisor = resolved
    entry = services.publish_to_faq(
        consultation.id,
        advisor,
        question="¿Cómo emito una boleta de honorarios?",
        answer="En sii.cl, con tu clave tributaria.",
        published=True,
    )
    assert not entry.published
    with pytest.raises(faq.ApprovalNeeded):
        faq.approve_entry(entry.id, advisor)
    with pytest.raises(faq.ApprovalNeeded):
        faq.set_published(entry.id, True, actor=advisor)
    with pytest.raises(faq.ApprovalNeeded):  # an advisor of another area
        faq.approve_entry(entry.id, make_user("advisor", specialty="sustainability"))
    colleague = make_user("advisor", specialty="legal")
    assert [e.id for e in faq.pending_approval(colleague)] == [entry.id]
    assert faq.pending_approval(advisor) == []
    approved = faq.approve_entry(entry.id, colleague)
    assert approved.published and approved.approved_by_id == colleague.id


def test_approval_page_and_button(resolved, make_user, login):
    consultation, advisor = resolved
    entry = services.publish_to_faq(
        consultation.id,
        advisor,
        question="¿Cómo emito una boleta de honorarios?",
        answer="En sii.cl, con tu clave tributaria.",
    )
    own = login(advisor)
    assert "No hay preguntas pendientes" in own.get("/asesor/preguntas-frecuentes").get_data(
        as_text=True
    )
    assert own.post(f"/asesor/preguntas-frecuentes/{entry.id}/aprobar").status_code == 403
    admin = login(make_user("admin"))
    page = admin.get("/asesor/preguntas-frecuentes").get_data(as_text=True)
    assert "¿Cómo emito una boleta de honorarios?" in page
    assert admin.post(f"/asesor/preguntas-frecuentes/{entry.id}/aprobar").status_code == 302
    assert faq.get_entry(entry.id).published
    assert login(make_user()).get("/asesor/preguntas-frecuentes").status_code == 403
