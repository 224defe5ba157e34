"""Advisory pages: opening a consulta (with and without JavaScript), the no-JS chat form,
attachments, who may see what, the advisor queue and the admin service levels."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sv_platform.advisory import attachments, lifecycle, sla
from sv_platform.advisory.models import Consultation, Message
from sv_platform.extensions import db
from tests.advisory.conftest import NOW, PDF

FORM = {
    "area": "legal",
    "subject": "¿Cómo registro mi marca?",
    "description": "Vendo mermeladas y quiero proteger el nombre de mi marca.",
}


def _multipart(client, url, fields):
    """POST a multipart body built in memory (big test bodies otherwise go through a
    temporary file the test client never closes)."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    data = {
        k: FileStorage(v[0], filename=v[1]) if isinstance(v, tuple) else v
        for k, v in fields.items()
    }
    boundary, body = encode_multipart(data)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def _text(response):
    return response.get_data(as_text=True)


def test_new_consulta_form_has_labels_and_preselects_the_area(windows, login, user):
    page = _text(login(user).get("/consultas/nueva?area=sustainability"))
    for label in (
        "Área de la consulta",
        "Asunto",
        "Describe tu consulta",
        "Archivos adjuntos (opcional)",
    ):
        assert re.search(
            rf'<label class="form-label" for="\w+">{re.escape(label)}</label>', page
        ), label
    assert '<option selected value="sustainability">' in page
    assert "Quedan 10 cupos" in page
    assert "js/consulta-form." in page  # content-hashed name


def test_similar_questions_without_javascript_keep_what_was_typed(windows, login, user, admin_user):
    from sv_platform.faq import services as faq

    faq.create_entry(
        question="¿Cómo registro una marca en INAPI?",
        answer="Se solicita en línea en el sitio de INAPI.",
        area="legal",
        published=True,
        actor=admin_user,
    )
    response = login(user).post("/consultas/nueva", data={**FORM, "suggest": "1"})
    page = _text(response)
    assert response.status_code == 200
    assert "¿Cómo registro una marca en INAPI?" in page
    assert "Vendo mermeladas y quiero proteger el nombre de mi marca." in page
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


def test_opening_a_consulta_shows_when_to_expect_an_answer(windows, login, user):
    client = login(user)
    response = client.post("/consultas/nueva", data=FORM)
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert "Recibimos tu consulta." in page
    assert "Te responderemos a más tardar el" in page
    assert "¿Cómo registro mi marca?" in _text(client.get("/consultas"))


def test_a_waitlisted_consulta_shows_its_position(make_window, login, make_user):
    make_window(area="legal", capacity=0)
    client = login(make_user())
    response = client.post("/consultas/nueva", data=FORM, follow_redirects=True)
    assert "lista de espera (posición 1)" in _text(response)
    assert "En lista de espera (posición 1)" in _text(client.get("/consultas"))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("subject", "Hola", "Escribe el asunto de tu consulta (al menos 8 caracteres)."),
        ("area", "otra", "Opción inválida."),
    ],
)
def test_bad_input_keeps_the_text(windows, login, user, field, value, message):
    response = login(user).post("/consultas/nueva", data={**FORM, field: value})
    assert response.status_code == 422
    page = _text(response)
    assert f'<div id="{field}-error" class="invalid-feedback d-block">{message}</div>' in page
    assert "Vendo mermeladas" in page
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


def test_a_pdf_name_with_html_inside_is_refused(windows, login, user):
    data = {**FORM, "attachments": (io.BytesIO(b"<html><script>alert(1)</script>"), "contrato.pdf")}
    response = login(user).post("/consultas/nueva", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "«contrato.pdf» no es un PDF, JPG ni PNG válido" in _text(response)
    assert "Vendo mermeladas" in _text(response)
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


def test_an_oversized_upload_is_refused_in_spanish(make_app, make_user, tmp_path):
    from datetime import date

    from sv_platform.enrollment import services as enrollment
    from tests.conftest import PASSWORD

    app = make_app(MAX_UPLOAD_MB=1)
    with app.app_context():
        enrollment.create_window(
            offering_slug="asesoria-legal",
            capacity=5,
            opens_on=date(2020, 1, 1),
            closes_on=date(2035, 12, 31),
        )
        owner = make_user()
        client = app.test_client()
        client.post("/ingresar", data={"identifier": owner.email, "password": PASSWORD})
        big = PDF + b"0" * (1024 * 1024 + 10)
        response = _multipart(
            client, "/consultas/nueva", {**FORM, "attachments": (io.BytesIO(big), "grande.pdf")}
        )
        assert response.status_code == 422
        assert "«grande.pdf» pesa más de 1 MB, el máximo permitido" in _text(response)
        huge = _multipart(
            client,
            "/consultas/nueva",
            {**FORM, "attachments": (io.BytesIO(b"0" * (6 * 1024 * 1024)), "enorme.pdf")},
        )
        assert huge.status_code == 413
        assert "Archivo demasiado grande" in _text(huge)
        db.session.remove()


def test_attachments_are_downloads_only_for_those_allowed(
    make_consultation, login, user, legal_advisor, green_advisor, make_user, admin_user
):
    c = make_consultation(user, files=[("contrato.pdf", PDF)])
    attachment = attachments.attachments_for(c)[0]
    url = f"/consultas/{c.id}/adjuntos/{attachment.id}"
    for allowed in (user, legal_advisor, admin_user):
        with login(allowed).get(url) as response:
            assert response.status_code == 200
            assert response.data == PDF
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.mimetype == "application/pdf"
    for outsider in (make_user(), green_advisor):
        assert login(outsider).get(url).status_code == 403
    assert login(user).get(f"/consultas/{c.id}/adjuntos/999").status_code == 404


def test_outsiders_get_403_on_every_consulta_route(in_progress, login, make_user, green_advisor):
    for outsider in (make_user(), green_advisor):
        client = login(outsider)
        base = f"/consultas/{in_progress.id}"
        assert client.get(base).status_code == 403
        assert client.post(base, data={"body": "hola", "client_msg_id": "x"}).status_code == 403
        assert client.post(f"{base}/acciones/resolve").status_code == 403
        assert client.post(f"{base}/cerrar", data={"rating": "5"}).status_code == 403
    assert login(make_user()).get("/consultas/9999").status_code == 404
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == "x")
        )
        == 0
    )


def test_no_js_chat_posts_through_the_same_service(in_progress, login):
    client = login(in_progress.user)
    page = _text(client.get(f"/consultas/{in_progress.id}"))
    assert "Hola, te ayudo." in page and 'id="chat-form"' in page
    client_msg_id = re.search(r'name="client_msg_id" type="hidden" value="(\w+)"', page)[1]
    data = {
        "body": "Gracias, <b>muy</b> útil\n<script>alert(1)</script>",
        "client_msg_id": client_msg_id,
    }
    first = client.post(f"/consultas/{in_progress.id}", data=data)
    again = client.post(f"/consultas/{in_progress.id}", data=data)  # double submit
    assert first.status_code == again.status_code == 302
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == client_msg_id)
        )
        == 1
    )
    page = _text(client.get(f"/consultas/{in_progress.id}"))
    assert "<script>alert(1)</script>" not in page
    assert "<b>muy</b> útil" in page


def test_no_js_rate_limit_keeps_the_text(limited_chat):
    _app, client, c = limited_chat("1 per 10 seconds")
    client.post(f"/consultas/{c.id}", data={"body": "uno", "client_msg_id": "h1"})
    response = client.post(
        f"/consultas/{c.id}", data={"body": "mi texto largo", "client_msg_id": "h2"}
    )
    assert response.status_code == 429
    assert "Estás enviando mensajes muy seguido" in _text(response)
    assert "mi texto largo" in _text(response)
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == "h2")
        )
        == 0
    )


def test_internal_notes_are_only_for_staff(in_progress, login, legal_advisor):
    advisor = login(legal_advisor)
    response = advisor.post(
        f"/consultas/{in_progress.id}/notas",
        data={"nota-body": "Revisar si la marca es descriptiva."},
    )
    assert response.status_code == 302
    assert "Revisar si la marca es descriptiva." in _text(
        advisor.get(f"/consultas/{in_progress.id}")
    )
    owner = login(in_progress.user)
    assert "Revisar si la marca" not in _text(owner.get(f"/consultas/{in_progress.id}"))
    assert (
        owner.post(
            f"/consultas/{in_progress.id}/notas", data={"nota-body": "Nota de la emprendedora"}
        ).status_code
        == 403
    )
    assert "Nota de la emprendedora" not in _text(advisor.get(f"/consultas/{in_progress.id}"))


def test_resolve_close_with_rating_from_the_pages(in_progress, login, legal_advisor):
    advisor = login(legal_advisor)
    advisor.post(f"/consultas/{in_progress.id}/acciones/resolve")
    owner = login(in_progress.user)
    page = _text(owner.get(f"/consultas/{in_progress.id}"))
    # One form per egreso: the page offers the exit survey, which closes with its grade;
    # the closing form itself still accepts a rating.
    assert "Responder la encuesta y cerrar la consulta" in page
    assert "¿Cómo evalúas la asesoría?" not in page
    missing = owner.post(f"/consultas/{in_progress.id}/cerrar", data={"rating": ""})
    assert missing.status_code == 422
    assert "Elige una calificación de 1 a 5 para cerrar la consulta." in _text(missing)
    owner.post(f"/consultas/{in_progress.id}/cerrar", data={"rating": "4", "comment": "Útil"})
    page = _text(owner.get(f"/consultas/{in_progress.id}"))
    assert "Calificación: <strong>4 de 5</strong>" in page
    assert "Esta consulta está cerrada: ya no recibe mensajes." in page


def test_queue_lists_unassigned_first_oldest_first_and_marks_overdue(
    make_consultation, login, legal_advisor, make_user, admin_user
):
    old = make_consultation(subject="Consulta antigua sin tomar", now=NOW)
    taken = make_consultation(subject="Consulta ya tomada", now=NOW - timedelta(days=3))
    lifecycle.take(taken.id, legal_advisor, now=NOW)
    newer = make_consultation(subject="Consulta reciente sin tomar", now=datetime.now(UTC))
    green = make_consultation(area="sustainability", subject="Consulta de reciclaje")
    page = _text(login(legal_advisor).get("/asesor/consultas"))
    order = [page.index(c.subject) for c in (old, newer, taken)]
    assert order == sorted(order)
    assert green.subject not in page
    assert re.search(
        rf'<tr class="overdue">\s*<td class="sv-wrap-anywhere"><a href="/consultas/{old.id}">', page
    )
    assert "Primera respuesta: atrasada" in page
    admin_page = _text(login(admin_user).get("/asesor/consultas"))
    assert green.subject in admin_page
    mine = _text(login(legal_advisor).get("/asesor/consultas?estado=mias"))
    assert taken.subject in mine and old.subject not in mine


def test_advisor_takes_from_the_queue(make_consultation, login, legal_advisor):
    c = make_consultation()
    client = login(legal_advisor)
    response = client.post(f"/consultas/{c.id}/acciones/take", follow_redirects=True)
    assert "Tomaste la consulta." in _text(response)
    db.session.expire_all()
    assert db.session.get(Consultation, c.id).advisor_id == legal_advisor.id


def test_admin_sets_service_levels(login, admin_user, legal_advisor):
    client = login(admin_user)
    page = _text(client.get("/admin/niveles-de-servicio"))
    assert "Primera respuesta (días hábiles)" in page
    response = client.post(
        "/admin/niveles-de-servicio",
        data={"area": "legal", "legal-first_response_days": "1", "legal-resolution_days": "5"},
    )
    assert response.status_code == 302
    assert sla.service_level("legal") == (1, 5)
    bad = client.post(
        "/admin/niveles-de-servicio",
        data={"area": "legal", "legal-first_response_days": "0", "legal-resolution_days": "5"},
    )
    assert bad.status_code == 422 and "Entre 1 y 30 días hábiles." in _text(bad)
    assert login(legal_advisor).get("/admin/niveles-de-servicio").status_code == 403


def test_faq_entry_from_a_resolved_consulta(in_progress, login, legal_advisor):
    from sv_platform.faq.models import FaqEntry

    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    client = login(legal_advisor)
    page = _text(client.get(f"/consultas/{in_progress.id}/pregunta-frecuente"))
    assert "¿Cómo registro mi marca?" in page and "Te ayudo." in page
    response = client.post(
        f"/consultas/{in_progress.id}/pregunta-frecuente",
        data={
            "question": "¿Cómo registro la marca de mi pyme?",
            "answer": "Se pide en INAPI, en línea, y cuesta unas UTM.",
            "tags": "marcas, inapi",
            "published": "y",
        },
    )
    assert response.status_code == 302
    entry = db.session.scalar(
        select(FaqEntry).where(FaqEntry.source_consultation_id == in_progress.id)
    )
    assert not entry.published and entry.area == "legal"
