"""The notifications that matter: what each event emails, to whom, and what it never does."""

from datetime import timedelta

from sqlalchemy import func, select

from sv_platform.advisory import chat as chat_service
from sv_platform.advisory import lifecycle
from sv_platform.advisory.signals import consultation_changed
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from sv_platform.jobs import JOBS
from sv_platform.notifications import receivers
from sv_platform.notifications.models import OutboxMail, SlaWarning
from tests.notifications.conftest import NOW, deliver, link_in


def _kinds(user) -> list[str]:
    return list(
        db.session.scalars(
            select(OutboxMail.kind).where(OutboxMail.user_id == user.id).order_by(OutboxMail.id)
        )
    )


def _take_and_answer(consultation, advisor, body="Hola, te ayudo.", n=1, now=NOW):
    lifecycle.take(consultation.id, advisor, now=now)
    for i in range(n):
        chat_service.post_message(consultation.id, advisor, body, f"m-{i}", now=now)


def test_advisor_answer_emails_her_once_per_15_minutes_summarizing_unread(
    person, make_consultation, inbox
):
    owner, advisor = person(), person("advisor", specialty="legal")
    consultation = make_consultation(owner)
    _take_and_answer(consultation, advisor, n=3)
    rows = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "respuesta_asesor")).all()
    assert len(rows) == 1 and "3 mensajes nuevos" in rows[0].subject
    deliver(NOW)
    assert len(inbox.to(owner.email)) == 1
    chat_service.post_message(consultation.id, advisor, "¿Sigues ahí?", "m-9", now=NOW)
    later = db.session.scalars(
        select(OutboxMail).where(
            OutboxMail.kind == "respuesta_asesor", OutboxMail.status == "pending"
        )
    ).one()
    assert later.next_attempt_at == rows[0].created_at + timedelta(minutes=15)
    assert deliver(NOW + timedelta(minutes=5)) == 0
    assert deliver(NOW + timedelta(minutes=15)) == 1
    assert len(inbox.to(owner.email)) == 2
    (first, second) = inbox.to(owner.email)
    assert "1 mensaje nuevo" in second["Subject"]
    text = first.get_body(("plain",)).get_content()
    assert f"https://sv.example.cl/consultas/{consultation.id}" in text
    # Nothing about the advisor beyond their role, nothing from the messages themselves.
    assert advisor.email not in text and advisor.rut not in text and "te ayudo" not in text


def test_no_email_while_she_is_in_the_consulta(person, make_consultation, chat, inbox):
    owner, advisor = person(), person("advisor", specialty="legal")
    consultation = make_consultation(owner)
    lifecycle.take(consultation.id, advisor, now=NOW)
    _http, sock = chat(owner)
    ack = sock.emit("join", {"consultation_id": consultation.id}, namespace="/chat", callback=True)
    assert ack["ok"]
    chat_service.post_message(consultation.id, advisor, "Te leo en vivo.", "live-1", now=NOW)
    assert "respuesta_asesor" not in _kinds(owner)
    sock.disconnect(namespace="/chat")
    chat_service.post_message(consultation.id, advisor, "¿Sigues?", "live-2", now=NOW)
    assert _kinds(owner).count("respuesta_asesor") == 1


def test_waiting_resolved_and_reply_emails(person, make_consultation, inbox):
    owner, advisor = person(), person("advisor", specialty="legal")
    consultation = make_consultation(owner)
    _take_and_answer(consultation, advisor)
    lifecycle.ask(consultation.id, advisor, now=NOW)
    chat_service.post_message(consultation.id, owner, "Aquí va mi respuesta.", "o-1", now=NOW)
    lifecycle.resolve(consultation.id, advisor, now=NOW)
    assert _kinds(owner) == ["respuesta_asesor", "esperando_respuesta", "consulta_resuelta"]
    assert "respuesta_emprendedor" in _kinds(advisor)
    deliver(NOW)
    resolved = [m for m in inbox.to(owner.email) if "resuelta" in m["Subject"]][0]
    assert "Calificar la consulta" in resolved.get_body(("plain",)).get_content()
    to_advisor = inbox.to(advisor.email)[-1].get_body(("plain",)).get_content()
    assert owner.name not in to_advisor and owner.email not in to_advisor


def test_a_rolled_back_event_sends_nothing(person, make_consultation, inbox):
    owner, advisor = person(), person("advisor", specialty="legal")
    consultation = make_consultation(owner)
    _take_and_answer(consultation, advisor)
    deliver(NOW)
    before = len(inbox.messages)

    def explode(*_args, **_kwargs):
        raise RuntimeError("a later step of the same transaction fails")

    consultation_changed.connect(explode)
    try:
        try:
            lifecycle.resolve(consultation.id, advisor, now=NOW)
        except RuntimeError:
            pass
    finally:
        consultation_changed.disconnect(explode)
    db.session.rollback()
    assert "consulta_resuelta" not in _kinds(owner)
    assert deliver(NOW) == 0 and len(inbox.messages) == before


def test_new_consulta_goes_to_advisors_of_the_area_now_or_as_a_digest(
    person, make_consultation, client, auth, inbox
):
    quick = person("advisor", specialty="legal")
    patient = person("advisor", specialty="legal")
    other_area = person("advisor", specialty="sustainability")
    auth.login(patient)
    response = client.post(
        "/perfil/correos",
        data={"kinds": ["nueva_consulta", "respuesta_emprendedor", "plazo"], "digest": "30"},
    )
    assert response.status_code == 302
    owner_a, owner_b = person(name="Marta Secreta"), person()
    first = make_consultation(owner_a)
    second = make_consultation(owner_b)
    assert deliver(NOW) == 2  # the immediate advisor's two mails; the digest waits
    assert len(inbox.to(quick.email)) == 2 and inbox.to(other_area.email) == []
    assert deliver(NOW + timedelta(minutes=30)) == 1
    (digest,) = inbox.to(patient.email)
    assert "2 consultas nuevas" in digest["Subject"]
    text = digest.get_body(("plain",)).get_content()
    assert f"#{first.id}" in text and f"#{second.id}" in text
    assert "Marta" not in text and owner_a.email not in text


def test_leaving_the_waitlist_and_egreso_are_emailed(person, make_window, app, inbox):
    from sv_platform.enrollment.models import Offering

    offering = enrollment.ensure_offering("course", "curso-x", "curso-x", "Curso X")
    make_window(1, slug="curso-x")
    first, second = person(), person()
    seat = enrollment.enroll(first, offering, now=NOW)
    enrollment.enroll(second, offering, now=NOW)
    enrollment.cancel(seat.id, actor=first, now=NOW)
    assert "cupo_asignado" in _kinds(second)
    promoted = enrollment.open_enrollment(second.id, db.session.get(Offering, offering.id).id)
    enrollment.graduate(promoted.id, now=NOW)
    assert "egreso" in _kinds(second)
    deliver(NOW)
    egreso = [m for m in inbox.to(second.email) if "certificado" in m["Subject"]][0]
    assert "/cursos/curso-x/certificado" in egreso.get_body(("plain",)).get_content()


def test_deadline_warnings_once_to_advisor_and_admins(person, make_consultation, inbox):
    advisor, admin = person("advisor", specialty="legal"), person("admin")
    consultation = make_consultation(person())
    assert "avisos_de_plazo" in JOBS and "correo" in JOBS
    due = consultation.first_response_due_at
    assert receivers.warn_deadlines(due - timedelta(days=3)) == 0  # far: nothing
    assert receivers.warn_deadlines(due - timedelta(hours=2)) == 1
    assert receivers.warn_deadlines(due - timedelta(hours=1)) == 0  # already warned
    assert receivers.warn_deadlines(due + timedelta(hours=1)) == 1  # passed: one more
    assert db.session.scalar(select(func.count()).select_from(SlaWarning)) == 2
    deliver(due + timedelta(hours=1))
    warned = [m for m in inbox.to(advisor.email) if "plazo" in m.get_body(("plain",)).get_content()]
    assert len(warned) == 2 and len(inbox.to(admin.email)) == 2
    assert "venció" in inbox.to(admin.email)[-1]["Subject"]


def test_business_hours_skip_weekends_and_holidays():
    from datetime import UTC, datetime

    # Friday 19 September 2025 is a holiday in Chile; due Monday 22 at 23:59:59 local.
    due = datetime(2025, 9, 23, 2, 59, 59, tzinfo=UTC)
    thursday_evening = datetime(2025, 9, 19, 1, 0, tzinfo=UTC)  # Thu 18, 22:00 local (holiday)
    assert receivers.business_time_left(thursday_evening, due) > timedelta(hours=4)
    sunday_night = datetime(2025, 9, 22, 2, 0, tzinfo=UTC)  # Sun 21, 23:00 local
    assert receivers.business_time_left(sunday_night, due) > timedelta(hours=4)
    monday_evening = datetime(2025, 9, 23, 0, 0, tzinfo=UTC)  # Mon 22, 21:00 local
    assert receivers.business_time_left(monday_evening, due) < timedelta(hours=4)


def test_unsubscribe_without_login_stops_that_kind_only(app, person, make_consultation, inbox):
    owner, advisor = person(), person("advisor", specialty="legal")
    consultation = make_consultation(owner)
    _take_and_answer(consultation, advisor)
    deliver(NOW)
    (message,) = inbox.to(owner.email)
    link = message["List-Unsubscribe"].strip("<>")
    assert link == link_in(message, "https://sv.example.cl/correos/baja/")
    path = link.removeprefix("https://sv.example.cl")
    app.config["WTF_CSRF_ENABLED"] = True  # the one-click POST carries no CSRF token
    strict = app.test_client()  # anonymous
    page = strict.get(path).get_data(as_text=True)
    assert "Tu asesor/a respondió en tu consulta" in page
    response = strict.post(path, data="List-Unsubscribe=One-Click")  # RFC 8058 one-click
    assert response.status_code == 200
    assert "ya no te enviaremos correos" in response.get_data(as_text=True)
    assert strict.post(path[:-4] + "abcd").status_code == 400
    app.config["WTF_CSRF_ENABLED"] = False
    chat_service.post_message(consultation.id, advisor, "Otra cosa.", "m-2", now=NOW)
    lifecycle.ask(consultation.id, advisor, now=NOW)
    deliver(NOW + timedelta(hours=1))
    assert [m["Subject"].split(" · ")[0] for m in inbox.to(owner.email)][1:] == [
        "Tu asesor/a espera tu respuesta"
    ]


def test_preferences_in_the_profile_are_respected(person, client, auth, make_consultation):
    owner, advisor = person(), person("advisor", specialty="legal")
    auth.login(owner)
    page = client.get("/perfil").get_data(as_text=True)
    assert "Correos que quiero recibir" in page and 'for="correo-consulta_resuelta"' in page
    client.post("/perfil/correos", data={"kinds": ["respuesta_asesor", "esperando_respuesta"]})
    consultation = make_consultation(owner)
    _take_and_answer(consultation, advisor)
    lifecycle.resolve(consultation.id, advisor, now=NOW)
    assert _kinds(owner) == ["respuesta_asesor"]
    bad = client.post("/perfil/correos", data={"kinds": ["plazo"]}, follow_redirects=True)
    assert "Elige solo tipos de correo de la lista." in bad.get_data(as_text=True)
