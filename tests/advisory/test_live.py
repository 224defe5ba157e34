"""Live consulta state (the `status` event and the viewer's state endpoint), files in the
conversation, answering that takes a consulta, advisor availability and the page details
a newcomer reads (unique field ids, hints, no "Esperando" on finished consultas)."""

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sv_platform.accounts import services as accounts
from sv_platform.advisory import attachments, availability, lifecycle, services
from sv_platform.advisory import chat as chat_service
from sv_platform.advisory.models import Attachment, Consultation, Message
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed
from sv_platform.extensions import db
from tests.advisory.conftest import NOW, PDF, PNG, send_message
from tests.conftest import PASSWORD


def _text(response):
    return response.get_data(as_text=True)


def _events(sock, name):
    return [e["args"][0] for e in sock.get_received("/chat") if e["name"] == name]


def _join(sock, consultation_id):
    ack = sock.emit("join", {"consultation_id": consultation_id}, namespace="/chat", callback=True)
    assert ack["ok"], ack


# --- the status event and each viewer's actions ---------------------------------------


def test_the_advisors_first_message_announces_the_new_state_to_both_sides(
    chat, make_consultation, legal_advisor
):
    c = make_consultation()
    http_owner, owner = chat(c.user)
    http_advisor, advisor = chat(legal_advisor)
    _join(owner, c.id)
    _join(advisor, c.id)
    assert send_message(advisor, c.id, "Hola, tomo tu consulta.", "s-1")["ok"]
    statuses = _events(owner, "status")
    assert statuses[-1] == {
        "consultation_id": c.id,
        "status": "en_curso",
        "status_label": "En curso",
        "staff_status_label": "En curso",
        "state_url": f"/consultas/{c.id}/estado",
    }
    assert _events(advisor, "status")[-1]["status"] == "en_curso"
    # Each page fetches its own viewer's actions.
    mine = http_advisor.get(f"/consultas/{c.id}/estado").get_json()
    assert {a["label"] for a in mine["actions"]} >= {"Marcar como resuelta"}
    assert "Marcar como resuelta" in mine["regions"]["acciones"]
    assert mine["can_post"] is True
    hers = http_owner.get(f"/consultas/{c.id}/estado").get_json()
    assert hers["status_label"] == "En curso"
    assert [a["name"] for a in hers["actions"]] == []
    assert "Marcar como resuelta" not in str(hers["regions"])
    # Who attends her and the history follow too (the page showed "Sin asesor/a").
    assert f"Asesor/a: {legal_advisor.name}" in hers["regions"]["asignacion"]
    assert "Sin asesor/a" not in hers["regions"]["asignacion"]
    assert "Asignada" in hers["regions"]["historial"]
    assert "En curso" in hers["regions"]["historial"]


def test_asking_and_resolving_reach_the_entrepreneur_in_her_words(
    chat, in_progress, legal_advisor, login
):
    http_owner, owner = chat(in_progress.user)
    _join(owner, in_progress.id)
    advisor = login(legal_advisor)
    advisor.post(f"/consultas/{in_progress.id}/acciones/ask")
    assert _events(owner, "status")[-1]["status_label"] == "Esperando tu respuesta"
    state = http_owner.get(f"/consultas/{in_progress.id}/estado").get_json()
    assert "Esperando tu respuesta" in state["regions"]["estado"]
    advisor.post(f"/consultas/{in_progress.id}/acciones/resolve")
    assert _events(owner, "status")[-1]["status_label"] == "Resuelta"
    state = http_owner.get(f"/consultas/{in_progress.id}/estado").get_json()
    assert state["can_post"] is False and "reábrela" in state["post_notice"]
    assert {a["name"] for a in state["actions"]} == {"close", "reopen"}
    assert "¿Quedó resuelta tu consulta?" in state["regions"]["cierre"]
    assert "reabrir la consulta" in state["regions"]["cierre"]


def test_a_message_from_a_stale_page_is_refused_with_a_clear_reason(
    chat, in_progress, legal_advisor
):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    _h, owner = chat(in_progress.user)  # the page was loaded before the resolution
    ack = send_message(owner, in_progress.id, "¿Y el costo?", "stale-1")
    assert ack["ok"] is False and ack["error"] == "closed"
    assert "resuelta" in ack["message"] and "reábrela" in ack["message"]


def test_the_no_js_page_shows_the_same_after_its_post(in_progress, login):
    owner = login(in_progress.user)
    page = _text(owner.get(f"/consultas/{in_progress.id}"))
    assert "En curso" in page
    lifecycle.ask(in_progress.id, in_progress.advisor, now=NOW)
    response = owner.post(
        f"/consultas/{in_progress.id}", data={"body": "Aquí va el dato.", "client_msg_id": "nj-1"}
    )
    assert response.status_code == 302
    page = _text(owner.get(response.headers["Location"]))
    assert re.search(r'<span id="estado">\s*<span class="badge[^"]*">En curso</span>', page)


def test_a_stale_no_js_post_keeps_the_text_and_says_why(in_progress, login, legal_advisor):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    owner = login(in_progress.user)
    response = owner.post(
        f"/consultas/{in_progress.id}", data={"body": "Mi texto largo", "client_msg_id": "nj-2"}
    )
    page = _text(response)
    assert response.status_code == 409
    assert "reábrela" in page and "Mi texto largo" in page
    # Her text stays in a visible box (the form is not hidden this time).
    assert re.search(r'<form[^>]*id="chat-form"[^>]*novalidate>', page)


def test_a_rolled_back_change_announces_nothing(chat, make_consultation, legal_advisor):
    c = make_consultation()
    _h, owner = chat(c.user)
    _join(owner, c.id)
    owner.get_received("/chat")
    with pytest.raises(DomainError):
        lifecycle.resolve(c.id, legal_advisor, now=NOW)  # nueva cannot be resolved
    assert _events(owner, "status") == []


def test_the_state_endpoint_refuses_who_may_not_see_the_consulta(
    in_progress, login, make_user, green_advisor
):
    for outsider in (make_user(), green_advisor):
        assert login(outsider).get(f"/consultas/{in_progress.id}/estado").status_code == 403
    assert login(make_user()).get("/consultas/9999/estado").status_code == 404


def test_outsiders_get_no_status_event(chat, make_consultation, legal_advisor, make_user):
    c = make_consultation()
    _h, outsider = chat(make_user())
    ack = outsider.emit("join", {"consultation_id": c.id}, namespace="/chat", callback=True)
    assert ack["error"] == "forbidden"
    chat_service.post_message(c.id, legal_advisor, "Hola", "o-1")
    assert _events(outsider, "status") == []


# --- answering takes an unassigned consulta (page) --------------------------------------


def test_answering_from_the_page_takes_the_consulta(make_consultation, login, legal_advisor):
    c = make_consultation()
    advisor = login(legal_advisor)
    page = _text(advisor.get(f"/consultas/{c.id}"))
    assert "al enviar tu mensaje la tomas tú" in page and 'id="chat-form"' in page
    response = advisor.post(f"/consultas/{c.id}", data={"body": "Hola", "client_msg_id": "t-1"})
    assert response.status_code == 302
    db.session.expire_all()
    c = db.session.get(Consultation, c.id)
    assert (c.status, c.advisor_id) == ("en_curso", legal_advisor.id)
    assert "Marcar como resuelta" in _text(advisor.get(f"/consultas/{c.id}"))


def test_an_advisor_of_the_other_area_cannot_answer(make_consultation, login, green_advisor):
    c = make_consultation()
    response = login(green_advisor).post(
        f"/consultas/{c.id}", data={"body": "Hola", "client_msg_id": "g-1"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Consultation, c.id).advisor_id is None


# --- files in the conversation ----------------------------------------------------------


def test_both_sides_attach_files_later_and_the_message_carries_them(in_progress, legal_advisor):
    owner = in_progress.user
    posted = chat_service.post_message(
        in_progress.id, owner, "", "f-1", files=[("boleta.pdf.exe", PDF)], now=NOW
    )
    payload = chat_service.message_payload(posted.message)
    assert payload["body_html"] == ""
    [item] = payload["attachments"]
    assert item["name"] == "boleta.pdf" and item["content_type"] == "application/pdf"
    assert item["url"] == f"/consultas/{in_progress.id}/adjuntos/{item['id']}"
    reply = chat_service.post_message(
        in_progress.id, legal_advisor, "Mira este esquema", "f-2", files=[("plano.png", PNG)]
    )
    assert [a["name"] for a in chat_service.message_payload(reply.message)["attachments"]] == [
        "plano.png"
    ]
    # The opening's list keeps only the opening's files.
    assert attachments.attachments_for(in_progress) == []


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ([("virus.pdf", b"MZ\x90\x00 not a pdf")], "no es un PDF, JPG ni PNG válido"),
        ([("vacio.pdf", b"")], "está vacío"),
        ([(f"a{i}.pdf", PDF) for i in range(4)], "hasta 3 archivos"),
    ],
)
def test_bad_files_in_a_message_store_nothing(in_progress, app, files, error):
    with pytest.raises(InvalidInput, match=error):
        chat_service.post_message(in_progress.id, in_progress.user, "Adjunto", "bad-1", files=files)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    folder = Path(app.config["UPLOAD_DIR"])
    assert not folder.exists() or not list(folder.glob("*"))


def test_a_consulta_holds_at_most_twenty_files(in_progress, monkeypatch):
    monkeypatch.setattr(chat_service, "_hit_rate_limit", lambda _user_id: None)
    for i in range(6):
        chat_service.post_message(
            in_progress.id, in_progress.user, "", f"many-{i}", files=[("a.pdf", PDF)] * 3
        )
    consultation_id = in_progress.id
    last_message_at = db.session.get(Consultation, consultation_id).last_message_at
    messages = db.session.scalar(select(func.count()).select_from(Message))
    later = last_message_at + timedelta(minutes=5)
    with pytest.raises(InvalidInput, match="hasta 20 archivos en total; puedes adjuntar 2 más"):
        chat_service.post_message(
            consultation_id, in_progress.user, "", "many-x", files=[("a.pdf", PDF)] * 3, now=later
        )
    # refused after the consulta's row was locked and touched: all of it rolled back
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 18
    assert db.session.scalar(select(func.count()).select_from(Message)) == messages
    assert db.session.get(Consultation, consultation_id).last_message_at == last_message_at


def test_a_retry_of_a_message_with_files_stores_them_once(in_progress):
    for _ in range(2):
        chat_service.post_message(
            in_progress.id, in_progress.user, "x", "again-1", files=[("a.pdf", PDF)]
        )
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 1


def _multipart(client, url, fields, headers=None):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    data = {
        k: FileStorage(io.BytesIO(v[0]), filename=v[1]) if isinstance(v, tuple) else v
        for k, v in fields.items()
    }
    boundary, body = encode_multipart(data)
    return client.post(
        url,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers or {},
    )


def test_no_js_form_attaches_a_file_served_only_to_those_allowed(
    in_progress, login, legal_advisor, green_advisor, make_user
):
    owner = login(in_progress.user)
    response = _multipart(
        owner,
        f"/consultas/{in_progress.id}",
        {"body": "Te mando la boleta", "client_msg_id": "nf-1", "attachments": (PDF, "bol.pdf")},
    )
    assert response.status_code == 302
    item = db.session.scalar(select(Attachment))
    url = f"/consultas/{in_progress.id}/adjuntos/{item.id}"
    assert url in _text(login(legal_advisor).get(f"/consultas/{in_progress.id}"))
    with login(legal_advisor).get(url) as download:
        assert download.status_code == 200 and download.data == PDF
        assert "filename=bol.pdf" in download.headers["Content-Disposition"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"
    for outsider in (make_user(), green_advisor):
        assert login(outsider).get(url).status_code == 403


def test_the_chat_upload_answers_json_and_broadcasts_the_message(chat, in_progress, legal_advisor):
    http_owner, _owner = chat(in_progress.user)
    _h, advisor = chat(legal_advisor)
    _join(advisor, in_progress.id)
    response = _multipart(
        http_owner,
        f"/consultas/{in_progress.id}",
        {"body": "", "client_msg_id": "js-1", "attachments": (PNG, "foto.png")},
        headers={"Accept": "application/json"},
    )
    data = response.get_json()
    assert response.status_code == 200 and data["ok"]
    assert [a["name"] for a in data["message"]["attachments"]] == ["foto.png"]
    [live] = [e["args"] for e in advisor.get_received("/chat") if e["name"] == "message"]
    assert live["attachments"] == data["message"]["attachments"]
    bad = _multipart(
        http_owner,
        f"/consultas/{in_progress.id}",
        {"body": "", "client_msg_id": "js-2", "attachments": (b"GIF89a", "x.png")},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "invalid" and "x.png" in bad.get_json()["message"]


def test_chat_uploads_need_the_csrf_token(app, in_progress, login):
    owner = login(in_progress.user)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = _multipart(
            owner,
            f"/consultas/{in_progress.id}",
            {"body": "x", "client_msg_id": "csrf-1", "attachments": (PDF, "a.pdf")},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        ok = _multipart(
            owner,
            f"/consultas/{in_progress.id}",
            {
                "csrf_token": owner.csrf,
                "body": "x",
                "client_msg_id": "csrf-2",
                "attachments": (PDF, "a.pdf"),
            },
            headers={"Accept": "application/json"},
        )
        assert ok.status_code == 200, ok.get_data(as_text=True)[:300]
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 1


# --- advisor availability ---------------------------------------------------------------


def test_availability_tells_the_entrepreneur_whether_to_wait(make_consultation, legal_advisor):
    c = make_consultation()
    told = availability.for_entrepreneur(c, now=NOW)
    assert not told.available and "No necesitas esperar en esta página" in told.text
    availability.set_available(legal_advisor, True, now=NOW)
    told = availability.for_entrepreneur(c, now=NOW + timedelta(hours=1))
    assert told.available and "una persona asesora" in told.text
    # A forgotten mark does not promise a live answer the next day.
    assert not availability.for_entrepreneur(c, now=NOW + timedelta(hours=11)).available
    assert availability.available_in("sustainability", now=NOW) == 0


def test_the_mail_promise_names_the_address_only_when_mail_will_go(make_consultation, make_user):
    from sv_platform.core.timeutil import utcnow

    confirmed = make_user(email_confirmed_at=utcnow())
    c = make_consultation(confirmed)
    assert f"por correo a {confirmed.email}" in availability.for_entrepreneur(c).text
    other = make_consultation(make_user(email_confirmed_at=None), area="sustainability")
    text = availability.for_entrepreneur(other).text
    assert "por correo" not in text and "«Avisos»" in text


def test_logging_out_ends_the_mark(login, legal_advisor):
    client = login(legal_advisor)
    client.post("/asesor/disponibilidad", data={"available": "1"})
    assert availability.is_available(legal_advisor.id)
    client.post("/salir")
    db.session.expire_all()
    assert not availability.is_available(legal_advisor.id)


@pytest.mark.parametrize("cause", ["logout", "password change", "disabled", "deleted"])
def test_every_end_of_the_sessions_ends_the_mark_with_it(cause, legal_advisor, make_user):
    availability.set_available(legal_advisor, True)
    advisor_id = legal_advisor.id
    if cause == "logout":
        accounts.end_sessions(legal_advisor)
    elif cause == "password change":
        accounts.change_password(legal_advisor, PASSWORD, "Otra-Clave-Para-Asesorar-2026")
    elif cause == "disabled":
        accounts.set_active(advisor_id, False, actor=make_user("admin"), reason="salió")
    else:
        accounts.delete_account(legal_advisor, PASSWORD)
    db.session.remove()
    assert not availability.is_available(advisor_id)


def test_a_password_change_ends_the_mark_in_its_own_commit(login, legal_advisor, transactions):
    """The mark is what a session kept: it ends in the transaction that ends the
    sessions, not in one of its own after it (nothing half-done if that one failed)."""
    client = login(legal_advisor)
    client.post("/asesor/disponibilidad", data={"available": "1"})
    db.session.remove()  # the request starts with nothing open, as in production
    transactions.clear()
    form = {"w-current_password": PASSWORD, "w-new_password": "Otra-Clave-Para-Asesorar-2026"}
    assert client.post("/perfil/contrasena", data=form).status_code == 302
    writes = [sql for kind, sql in transactions if kind == "BEGIN IMMEDIATE"]
    assert len(writes) == 1, transactions
    assert any(s.startswith("UPDATE USER") for s in writes[0]), writes
    assert any(s.startswith("UPDATE ADVISOR_AVAILABILITY") for s in writes[0]), writes
    db.session.remove()
    assert not availability.is_available(legal_advisor.id)


def test_only_advisors_mark_availability(login, make_user):
    assert (
        login(make_user()).post("/asesor/disponibilidad", data={"available": "1"}).status_code
        == 403
    )
    with pytest.raises(NotAllowed):
        availability.set_available(make_user("admin"), True)


def test_pages_show_availability(make_consultation, login, legal_advisor):
    c = make_consultation()
    owner = login(c.user)
    assert "no hay personas asesoras del área atendiendo" in _text(owner.get(f"/consultas/{c.id}"))
    assert "Ahora no hay personas asesoras disponibles" in _text(owner.get("/consultas/nueva"))
    advisor = login(legal_advisor)
    queue = _text(advisor.get("/asesor/consultas"))
    assert "No disponible" in queue and "Marcarme «Disponible»" in queue
    advisor.post("/asesor/disponibilidad", data={"available": "1"})
    assert "Marcarme «No disponible»" in _text(advisor.get("/asesor/consultas"))
    assert "Ahora hay una persona asesora del área atendiendo" in _text(
        owner.get(f"/consultas/{c.id}")
    )
    assert "Ahora hay 1 persona asesora disponible." in _text(owner.get("/consultas/nueva"))


# --- what the page says ----------------------------------------------------------------


def test_the_note_and_the_chat_have_their_own_fields_and_labels(in_progress, login, legal_advisor):
    page = _text(login(legal_advisor).get(f"/consultas/{in_progress.id}"))
    assert len(re.findall(r'id="body"', page)) == 1
    assert re.search(r'<label class="form-label" for="nota-body">Nota interna', page)
    assert re.search(r'<textarea[^>]*id="nota-body"', page)


def test_finished_consultas_say_nothing_about_waiting(in_progress, legal_advisor, login):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    db.session.expire_all()
    c = db.session.get(Consultation, in_progress.id)
    assert services.waiting_time(c, NOW + timedelta(minutes=1)) is None
    advisor = login(legal_advisor)
    assert "Esperando desde" not in _text(advisor.get(f"/consultas/{c.id}"))
    queue = _text(advisor.get("/asesor/consultas?estado=resuelta"))
    assert "hace" not in queue


def test_the_description_minimum_is_said_before_an_error(login, make_user, windows):
    page = _text(login(make_user()).get("/consultas/nueva"))
    hint = re.search(r'<div id="description-ayuda" class="form-text">([^<]*)</div>', page)
    assert hint and "Al menos 20 caracteres" in hint[1]
    assert re.search(r'<textarea[^>]*aria-describedby="description-ayuda"', page)


def test_notices_of_a_chat_message_with_files_only(in_progress):
    before = accounts.unread_notifications(in_progress.advisor_id)
    chat_service.post_message(in_progress.id, in_progress.user, "", "n-1", files=[("a.pdf", PDF)])
    assert accounts.unread_notifications(in_progress.advisor_id) == before + 1
