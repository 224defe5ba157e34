"""Advisors' data export carries their own words; deletion replaces a person's name in
what others wrote to them."""

from sqlalchemy import select

from sv_platform.accounts import services as accounts
from sv_platform.advisory import chat
from sv_platform.advisory.models import InternalNote, Message
from sv_platform.extensions import db
from tests.advisory.conftest import NOW
from tests.conftest import PASSWORD


def test_advisor_export_includes_own_messages_and_notes(in_progress, legal_advisor):
    chat.add_note(in_progress.id, legal_advisor, "Revisar boleta de la persona", now=NOW)
    data = accounts.export_user_data(legal_advisor)
    assert [m["texto"] for m in data["mensajes_en_consultas_atendidas"]] == ["Hola, te ayudo."]
    assert [n["texto"] for n in data["notas_internas"]] == ["Revisar boleta de la persona"]
    # The entrepreneur's export has their own words, not the advisor's notes.
    theirs = accounts.export_user_data(in_progress.user)
    assert theirs["notas_internas"] == [] and theirs["mensajes_en_consultas_atendidas"] == []


def test_deletion_replaces_the_persons_name_in_others_messages(
    make_user, make_consultation, legal_advisor
):
    from sv_platform.advisory import lifecycle

    person = make_user(name="Javiera Andrea Muñoz Tapia")
    consultation = make_consultation(person)
    lifecycle.take(consultation.id, legal_advisor, now=NOW)
    chat.post_message(
        consultation.id,
        legal_advisor,
        "Hola Javiera, señora Muñoz: su RUT y su correo javiera.munoz@gmail.com están bien.",
        "a-1",
        now=NOW,
    )
    chat.add_note(consultation.id, legal_advisor, "Javiera Muñoz llamó al +56 9 8765 4321", now=NOW)
    accounts.delete_account(db.session.get(type(person), person.id), PASSWORD)
    bodies = [m.body for m in db.session.scalars(select(Message))] + [
        n.body for n in db.session.scalars(select(InternalNote))
    ]
    text = " ".join(bodies)
    for trace in ("Javiera", "Muñoz", "javiera.munoz@gmail.com", "8765 4321"):
        assert trace not in text
    assert "[persona]" in text
