"""Consent keeps a history and can be withdrawn from /mis-datos, with its consequence."""

from sqlalchemy import select

from sv_platform.enrollment.models import Enrollment
from sv_platform.extensions import db
from tests.accounts.test_registration import VALID


def test_consent_history_withdrawal_and_its_consequence(client, make_window):
    make_window(10, area="legal")
    assert client.post("/registro", data=VALID).status_code == 302
    page = client.get("/mis-datos").get_data(as_text=True)
    assert "no podrás inscribirte en nuevos cursos ni asesorías" in page
    assert client.post("/mis-datos/consentimiento", data={"action": "retirar"}).status_code == 302
    page = client.get("/mis-datos").get_data(as_text=True)
    assert "No tienes un consentimiento vigente" in page
    assert "Dado el" in page and "Retirado el" in page
    # Without consent, no new enrolment.
    client.post("/inscripciones/asesoria-legal")
    assert db.session.scalar(select(Enrollment)) is None
    export = client.get("/mis-datos/descargar").get_json()
    assert [e["accion"] for e in export["historial_consentimiento"]] == ["given", "withdrawn"]
    # Given again: enrolment works again, and the history has three steps.
    client.post("/mis-datos/consentimiento", data={"action": "dar"})
    assert client.post("/inscripciones/asesoria-legal").status_code == 302
    assert db.session.scalar(select(Enrollment)) is not None
    export = client.get("/mis-datos/descargar").get_json()
    assert [e["accion"] for e in export["historial_consentimiento"]] == [
        "given",
        "withdrawn",
        "given",
    ]
