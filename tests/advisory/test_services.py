"""Advisory rules called directly with a pinned `now`: opening, waitlist, lifecycle,
service levels in Chilean business days, messages, notices, uploads and the FAQ."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from sv_platform.accounts import services as accounts
from sv_platform.advisory import attachments, chat, lifecycle, services, sla
from sv_platform.advisory.models import STATUSES, Consultation, ConsultationEvent, Message
from sv_platform.core.domain import DomainError, InvalidInput, NotAllowed
from sv_platform.core.timeutil import as_utc
from sv_platform.enrollment import services as enrollment
from sv_platform.extensions import db
from tests.advisory.conftest import NOW, PDF, PNG


def _status(consultation_id):
    db.session.expire_all()
    return db.session.get(Consultation, consultation_id).status


# --- opening ----------------------------------------------------------------------------


def test_opening_takes_a_cupo_and_sets_due_dates(make_consultation, user):
    consultation = make_consultation(user)
    assert consultation.status == "nueva"
    seat = enrollment.get_enrollment(consultation.enrollment_id)
    assert (seat.status, seat.user_id) == ("active", user.id)
    # Opened Wed 17 Sep 2025: 18 and 19 are holidays, 20–21 a weekend → 2 business days
    # end on Tuesday 23 September.
    assert sla.chile_date(consultation.first_response_due_at) == date(2025, 9, 23)
    assert (
        sla.expected_answer(consultation)
        == "Te responderemos a más tardar el martes 23 de septiembre."
    )
    event = db.session.scalar(select(ConsultationEvent))
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (
        "create",
        None,
        "nueva",
        user.id,
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"area": "otra"}, "Elige el área de tu consulta: legal o sustentabilidad."),
        ({"subject": "Hola"}, "Escribe el asunto de tu consulta (al menos 8 caracteres)."),
        (
            {"description": "Corta"},
            "Cuéntanos un poco más en la descripción (al menos 20 caracteres).",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(make_consultation, fields, message):
    with pytest.raises(InvalidInput) as error:
        make_consultation(**fields)
    assert error.value.message == message
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


def test_a_second_open_consulta_in_the_same_area_is_refused(make_consultation, user):
    make_consultation(user)
    with pytest.raises(lifecycle.AlreadyOpen):
        make_consultation(user)
    assert make_consultation(user, area="sustainability").status == "nueva"


def test_an_open_enrolment_without_consulta_is_reused(windows, make_consultation, user):
    seat = enrollment.enroll(user, enrollment.get_offering("asesoria-legal"), now=NOW)
    consultation = make_consultation(user)
    assert consultation.enrollment_id == seat.id
    assert db.session.get(type(windows[0]), windows[0].id).used == 1


def test_staff_cannot_open_consultas(make_consultation, legal_advisor):
    with pytest.raises(NotAllowed):
        make_consultation(legal_advisor)


def _open(user):
    return lifecycle.open_consultation(
        user,
        area="legal",
        subject="Consulta en espera",
        description="Una descripción suficientemente larga.",
        now=NOW,
    )


def test_waitlisted_consulta_opens_when_promoted(make_window, make_user):
    make_window(area="legal", capacity=1)
    first = _open(make_user())
    waiting = _open(make_user())
    assert waiting.status == "en_espera"
    assert services.waitlist_position(waiting) == 1
    assert waiting.first_response_due_at is None
    enrollment.cancel(first.enrollment_id)
    db.session.expire_all()
    waiting = db.session.get(Consultation, waiting.id)
    assert waiting.status == "nueva"
    assert waiting.first_response_due_at is not None
    event = db.session.scalars(
        select(ConsultationEvent)
        .where(ConsultationEvent.consultation_id == waiting.id)
        .order_by(ConsultationEvent.id.desc())
    ).first()
    assert (event.action, event.from_status, event.to_status, event.actor_id) == (
        "open",
        "en_espera",
        "nueva",
        None,
    )


# --- lifecycle --------------------------------------------------------------------------


def test_the_whole_lifecycle_is_recorded(make_consultation, user, legal_advisor):
    c = make_consultation(user)
    lifecycle.take(c.id, legal_advisor, now=NOW)
    assert _status(c.id) == "asignada"
    chat.post_message(c.id, legal_advisor, "¿Tu marca ya está en uso?", "x1", now=NOW)
    assert _status(c.id) == "en_curso"
    lifecycle.ask(c.id, legal_advisor, now=NOW)
    assert _status(c.id) == "esperando_emprendedor"
    chat.post_message(c.id, user, "Sí, hace dos años.", "y1", now=NOW)
    assert _status(c.id) == "en_curso"
    lifecycle.resolve(c.id, legal_advisor, now=NOW)
    assert _status(c.id) == "resuelta"
    assert enrollment.get_enrollment(c.enrollment_id).status == "graduated"
    lifecycle.close(c.id, user, rating=5, comment="Muy clara", now=NOW)
    closed = db.session.get(Consultation, c.id)
    assert (closed.status, closed.rating, closed.rating_comment) == ("cerrada", 5, "Muy clara")
    steps = [(e.action, e.from_status, e.to_status) for e in services.events_for(closed)]
    assert steps == [
        ("create", None, "nueva"),
        ("take", "nueva", "asignada"),
        ("respond", "asignada", "en_curso"),
        ("ask", "en_curso", "esperando_emprendedor"),
        ("reply", "esperando_emprendedor", "en_curso"),
        ("resolve", "en_curso", "resuelta"),
        ("close", "resuelta", "cerrada"),
    ]
    # After egreso, the person may open a new consulta in the same area.
    assert make_consultation(user).status == "nueva"


ILLEGAL_STATES = [
    (action, state)
    for action, (sources, _to, _roles) in lifecycle.TRANSITIONS.items()
    for state in STATUSES
    if state not in sources
]


@pytest.mark.parametrize("action, state", ILLEGAL_STATES)
def test_every_transition_from_a_wrong_state_is_refused(app, action, state):
    consultation = Consultation(
        id=1, user_id=1, area="legal", subject="s", description="d", status=state, advisor_id=2
    )
    roles = lifecycle.TRANSITIONS[action][2]
    actor = _actor(roles[0])
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.check_transition(consultation, action, actor)


ROLES = ("entrepreneur", "advisor", "admin", "system")
WRONG_ROLES = [
    (action, role)
    for action, (_sources, _to, roles) in lifecycle.TRANSITIONS.items()
    for role in ROLES
    if role not in roles
]


@pytest.mark.parametrize("action, role", WRONG_ROLES)
def test_every_transition_by_a_wrong_role_is_refused(app, action, role):
    sources = lifecycle.TRANSITIONS[action][0]
    consultation = Consultation(
        id=1, user_id=1, area="legal", subject="s", description="d", status=sources[0], advisor_id=2
    )
    with pytest.raises(NotAllowed):
        lifecycle.check_transition(consultation, action, _actor(role))


class _Person:
    def __init__(self, id, role, specialty=None):
        self.id, self.role, self.specialty = id, role, specialty


def _actor(role):
    return {
        "entrepreneur": _Person(1, "entrepreneur"),
        "advisor": _Person(2, "advisor", "legal"),
        "admin": _Person(3, "admin"),
        "system": None,
    }[role]


def test_outsiders_and_other_advisors_cannot_act(in_progress, make_user, green_advisor):
    other_legal = make_user("advisor", specialty="legal")
    with pytest.raises(NotAllowed):
        lifecycle.resolve(in_progress.id, other_legal, now=NOW)
    with pytest.raises(NotAllowed):
        lifecycle.resolve(in_progress.id, green_advisor, now=NOW)
    with pytest.raises(NotAllowed):
        lifecycle.close(in_progress.id, make_user(), rating=5, now=NOW)
    assert _status(in_progress.id) == "en_curso"


def test_a_taken_consulta_cannot_be_taken_again(make_consultation, legal_advisor, make_user):
    c = make_consultation()
    lifecycle.take(c.id, legal_advisor, now=NOW)
    with pytest.raises(lifecycle.InvalidTransition, match="Otra persona ya tomó"):
        lifecycle.take(c.id, make_user("advisor", specialty="legal"), now=NOW)


@pytest.mark.parametrize("rating", [0, 6, "", None, "cinco"])
def test_closing_needs_a_rating_from_1_to_5(in_progress, legal_advisor, rating):
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    with pytest.raises(InvalidInput, match="Elige una calificación de 1 a 5."):
        lifecycle.close(in_progress.id, in_progress.user, rating=rating, now=NOW)
    assert _status(in_progress.id) == "resuelta"


def test_reopen_within_15_days_then_auto_close(in_progress, legal_advisor):
    owner = in_progress.user
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    lifecycle.reopen(in_progress.id, owner, now=NOW + timedelta(days=15))
    assert _status(in_progress.id) == "en_curso"
    later = NOW + timedelta(days=20)
    lifecycle.resolve(in_progress.id, legal_advisor, now=later)
    with pytest.raises(lifecycle.InvalidTransition, match="más de 15 días"):
        lifecycle.reopen(in_progress.id, owner, now=later + timedelta(days=16))
    assert lifecycle.auto_close_due(now=later + timedelta(days=14)) == 0
    assert lifecycle.auto_close_due(now=later + timedelta(days=16)) == 1
    assert _status(in_progress.id) == "cerrada"


def test_admin_reassigns_to_an_advisor_of_the_area(
    in_progress, admin_user, make_user, green_advisor
):
    other = make_user("advisor", specialty="legal")
    with pytest.raises(InvalidInput):
        lifecycle.assign(in_progress.id, green_advisor.id, actor=admin_user, now=NOW)
    lifecycle.assign(in_progress.id, other.id, actor=admin_user, now=NOW)
    db.session.expire_all()
    c = db.session.get(Consultation, in_progress.id)
    assert (c.advisor_id, c.status) == (other.id, "en_curso")
    assert services.events_for(c)[-1].action == "reassign"
    assert accounts.audit_log()[0].action == "assign_consultation"


# --- service levels ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "opened, days, due",
    [
        (date(2025, 9, 17), 1, date(2025, 9, 22)),  # Wed → holidays Thu/Fri, weekend → Mon
        (date(2025, 9, 17), 2, date(2025, 9, 23)),
        (date(2025, 9, 12), 1, date(2025, 9, 15)),  # Friday → Monday
        (date(2025, 9, 12), 5, date(2025, 9, 23)),  # 15,16,17 · 18–19 holidays · 22,23
        (date(2025, 9, 20), 1, date(2025, 9, 22)),  # opened on a Saturday
        (date(2026, 9, 17), 1, date(2026, 9, 21)),  # Thu → Fri 18 holiday, Sat 19, Sun → Mon
    ],
)
def test_due_dates_skip_weekends_and_chilean_holidays(opened, days, due):
    assert sla.add_business_days(opened, days) == due


def test_due_at_is_the_end_of_the_chilean_business_day():
    due = sla.due_at(datetime(2025, 9, 17, 13, 0, tzinfo=UTC), 2)
    assert due == datetime(2025, 9, 24, 2, 59, 59, tzinfo=UTC)  # 23:59:59 -03 on the 23rd


def test_sla_state_counts_time_left_and_overdue(make_consultation):
    c = make_consultation()
    assert sla.sla_state(c, now=NOW).label == "Primera respuesta: quedan 2 días hábiles"
    tuesday = datetime(2025, 9, 23, 15, 0, tzinfo=UTC)
    assert sla.sla_state(c, now=tuesday).label == "Primera respuesta: vence hoy"
    late = sla.sla_state(c, now=datetime(2025, 9, 25, 15, 0, tzinfo=UTC))
    assert late.overdue and late.label == "Primera respuesta: atrasada 2 días hábiles"


def test_admins_configure_levels_and_are_audited(admin_user, make_consultation, legal_advisor):
    sla.set_service_level("legal", 1, 4, actor=admin_user)
    assert sla.service_level("legal") == (1, 4)
    entry = accounts.audit_log()[0]
    assert (entry.action, entry.before, entry.after) == (
        "set_service_level",
        {"first_response_days": 2, "resolution_days": 10},
        {"first_response_days": 1, "resolution_days": 4},
    )
    c = make_consultation()
    assert sla.chile_date(c.first_response_due_at) == date(2025, 9, 22)
    with pytest.raises(NotAllowed):
        sla.set_service_level("legal", 1, 4, actor=legal_advisor)
    with pytest.raises(InvalidInput):
        sla.set_service_level("legal", 5, 2, actor=admin_user)


# --- messages ---------------------------------------------------------------------------


def test_retry_with_the_same_client_msg_id_stores_one_message(in_progress):
    owner = in_progress.user
    first = chat.post_message(in_progress.id, owner, "Gracias", "retry-1", now=NOW)
    again = chat.post_message(in_progress.id, owner, "Gracias", "retry-1", now=NOW)
    assert first.created and not again.created
    assert again.message.id == first.message.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(Message).where(Message.client_msg_id == "retry-1")
        )
        == 1
    )


def test_a_retry_leaves_the_consulta_as_it_was(in_progress, legal_advisor):
    owner = in_progress.user
    first = chat.post_message(in_progress.id, owner, "Hola", "again-1", now=NOW)
    accounts.mark_notifications_read(legal_advisor.id)  # a new message would notify again
    later = NOW + timedelta(hours=2)
    again = chat.post_message(in_progress.id, owner, "Hola", "again-1", now=later)
    assert (again.created, again.message.id) == (False, first.message.id)
    db.session.expire_all()
    consultation = db.session.get(Consultation, in_progress.id)
    assert as_utc(consultation.last_message_at) == NOW  # the retry's touch was rolled back
    assert accounts.unread_notifications(legal_advisor.id) == 0


def test_a_retry_after_the_consulta_was_resolved_gets_its_stored_message(
    in_progress, legal_advisor
):
    owner = in_progress.user
    first = chat.post_message(in_progress.id, owner, "¿Algo más?", "late-1", now=NOW)
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    again = chat.post_message(in_progress.id, owner, "¿Algo más?", "late-1", now=NOW)
    assert (again.created, again.message.id) == (False, first.message.id)
    with pytest.raises(chat.ConsultationClosed):  # a new message is refused
        chat.post_message(in_progress.id, owner, "Otra cosa", "late-2", now=NOW)


def test_a_stranger_is_refused_before_anything_is_written(in_progress, make_user):
    stranger = make_user()
    with pytest.raises(NotAllowed):
        chat.post_message(in_progress.id, stranger, "Hola", "intruso-1", now=NOW)
    db.session.expire_all()
    consultation = db.session.get(Consultation, in_progress.id)
    assert as_utc(consultation.last_message_at) == NOW
    assert not db.session.scalar(
        select(func.count()).select_from(Message).where(Message.author_id == stranger.id)
    )


@pytest.mark.parametrize(
    "body, client_msg_id, message",
    [
        ("   ", "ok-1", "Escribe un mensaje antes de enviarlo."),
        ("x" * 5001, "ok-1", "El mensaje puede tener hasta 5000 caracteres."),
        ("Hola", "tiene espacios", "El mensaje no trae un identificador válido."),
        ("Hola", None, "El mensaje no trae un identificador válido."),
    ],
)
def test_bad_messages_are_refused(in_progress, body, client_msg_id, message):
    with pytest.raises(InvalidInput) as error:
        chat.post_message(in_progress.id, in_progress.user, body, client_msg_id)
    assert error.value.message == message


def test_markdown_is_sanitized_and_script_is_inert(in_progress):
    body = (
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> '
        "[clic](javascript:alert(3)) **negrita**"
    )
    posted = chat.post_message(in_progress.id, in_progress.user, body, "xss-1")
    html = chat.message_payload(posted.message)["body_html"]
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "<strong>negrita</strong>" in html


def test_messages_after_returns_exactly_the_missed_ones(in_progress):
    owner = in_progress.user
    ids = [chat.post_message(in_progress.id, owner, f"m{i}", f"c{i}").message.id for i in range(4)]
    missed = chat.messages_after(in_progress.id, owner, ids[1])
    assert [m.id for m in missed] == ids[2:]


@pytest.mark.parametrize("after_id", [-1, "3", True, 1.5, 2**31])
def test_messages_after_refuses_a_bad_position(in_progress, after_id):
    with pytest.raises(InvalidInput, match="after_id debe ser un número entero."):
        chat.messages_after(in_progress.id, in_progress.user, after_id)
    with pytest.raises(InvalidInput, match="up_to_id debe ser un número entero."):
        chat.mark_read(in_progress.id, in_progress.user, after_id)


def test_payload_has_the_protocol_fields(in_progress):
    message = chat.messages_after(in_progress.id, in_progress.user)[0]
    payload = chat.message_payload(message)
    assert set(payload) == {
        "id",
        "consultation_id",
        "author_id",
        "author_name",
        "author_role",
        "body_html",
        "created_at",
        "created_label",
        "client_msg_id",
        "attachments",
    }
    assert payload["author_role"] == "advisor"
    # 13:00 UTC is 10:00 in Santiago: the same 24-hour text the page renders.
    assert payload["created_label"] == "17 sep, 10:00"
    assert payload["attachments"] == []
    assert datetime.fromisoformat(payload["created_at"]).utcoffset() == timedelta(0)


def test_closed_and_resolved_consultas_refuse_messages(in_progress, legal_advisor):
    owner = in_progress.user
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    with pytest.raises(chat.ConsultationClosed, match="reábrela"):
        chat.post_message(in_progress.id, owner, "Hola", "late-1")
    lifecycle.close(in_progress.id, owner, rating=4, now=NOW)
    with pytest.raises(chat.ConsultationClosed) as error:
        chat.post_message(in_progress.id, legal_advisor, "Hola", "late-2")
    assert error.value.code == "closed"


def test_answering_an_unassigned_consulta_takes_it_in_the_same_transaction(
    make_consultation, legal_advisor
):
    c = make_consultation()
    posted = chat.post_message(c.id, legal_advisor, "Hola, la tomo yo.", "early-1", now=NOW)
    db.session.expire_all()
    c = db.session.get(Consultation, c.id)
    assert posted.created and c.advisor_id == legal_advisor.id and c.status == "en_curso"
    assert c.assigned_at == NOW and c.first_response_at == NOW
    assert [(e.action, e.to_status) for e in services.events_for(c)] == [
        ("create", "nueva"),
        ("take", "asignada"),
        ("respond", "en_curso"),
    ]


def test_answering_by_another_area_or_after_someone_took_it_is_refused(
    make_consultation, legal_advisor, green_advisor, make_user
):
    c = make_consultation()
    with pytest.raises(NotAllowed):
        chat.post_message(c.id, green_advisor, "Hola", "green-1")
    chat.post_message(c.id, legal_advisor, "Hola", "first-1")
    colleague = make_user("advisor", specialty="legal")
    with pytest.raises(NotAllowed, match="asignada a otra persona"):
        chat.post_message(c.id, colleague, "Yo también", "second-1")
    db.session.expire_all()
    assert db.session.get(Consultation, c.id).advisor_id == legal_advisor.id
    assert [m.author_id for m in chat.messages_after(c.id, legal_advisor)] == [legal_advisor.id]


def test_an_admin_must_assign_before_answering(make_consultation, make_user, legal_advisor):
    c = make_consultation()
    with pytest.raises(lifecycle.InvalidTransition, match="Asigna la consulta"):
        chat.post_message(c.id, make_user("admin"), "Hola", "admin-1")
    db.session.expire_all()
    assert db.session.get(Consultation, c.id).status == "nueva"


def test_one_notice_while_away_cleared_when_read(in_progress, legal_advisor):
    owner = in_progress.user
    assert accounts.unread_notifications(owner.id) == 1  # the advisor's first message
    last = chat.post_message(in_progress.id, legal_advisor, "¿Sigues ahí?", "a-2").message
    assert accounts.unread_notifications(owner.id) == 1
    chat.mark_read(in_progress.id, owner, last.id)
    assert accounts.unread_notifications(owner.id) == 0
    chat.post_message(in_progress.id, legal_advisor, "Te escribo otra vez", "a-3")
    assert accounts.unread_notifications(owner.id) == 1
    chat.post_message(in_progress.id, owner, "Aquí estoy", "o-1")
    assert accounts.unread_notifications(legal_advisor.id) == 1


def test_rate_limit_per_user(limited_chat):
    _app, _http, c = limited_chat("3 per 10 seconds")
    owner = c.user
    for i in range(3):
        chat.post_message(c.id, owner, f"m{i}", f"r{i}")
    with pytest.raises(chat.RateLimited) as error:
        chat.post_message(c.id, owner, "uno más", "r9")
    assert error.value.code == "rate_limited"
    # A retry of an already stored message is not a new send.
    assert not chat.post_message(c.id, owner, "m0", "r0").created


# --- uploads ----------------------------------------------------------------------------


def test_attachments_are_checked_by_content_and_stored_with_random_names(app, make_consultation):
    c = make_consultation(files=[("contrato.pdf", PDF), ("foto.png", PNG)])
    items = attachments.attachments_for(c)
    assert [(a.original_name, a.content_type) for a in items] == [
        ("contrato.pdf", "application/pdf"),
        ("foto.png", "image/png"),
    ]
    for item in items:
        assert "contrato" not in item.stored_name
        _a, path = attachments.get_attachment(c.id, item.id, c.user)
        assert path.read_bytes() in (PDF, PNG)
        assert "static" not in path.parts


@pytest.mark.parametrize(
    "files, message",
    [
        (
            [("informe.pdf", b"<html><script>alert(1)</script></html>")],
            "El archivo «informe.pdf» no es un PDF, JPG ni PNG válido. Solo aceptamos esos "
            "formatos.",
        ),
        ([(f"a{i}.pdf", PDF) for i in range(4)], "Puedes adjuntar hasta 3 archivos."),
        ([("vacio.png", b"")], "El archivo «vacio.png» está vacío."),
    ],
)
def test_disguised_or_too_many_files_are_refused(make_consultation, files, message):
    with pytest.raises(InvalidInput) as error:
        make_consultation(files=files)
    assert error.value.message == message
    assert db.session.scalar(select(func.count()).select_from(Consultation)) == 0


# --- FAQ --------------------------------------------------------------------------------


def test_a_resolved_consulta_becomes_a_faq_entry(in_progress, legal_advisor):
    with pytest.raises(lifecycle.InvalidTransition):
        services.faq_draft(in_progress.id, legal_advisor)
    lifecycle.resolve(in_progress.id, legal_advisor, now=NOW)
    draft = services.faq_draft(in_progress.id, legal_advisor)
    assert draft["question"] == "¿Cómo registro mi marca?"
    assert "Te ayudo." in draft["answer"] and "Hola" not in draft["answer"]
    entry = services.publish_to_faq(
        in_progress.id,
        legal_advisor,
        question="¿Cómo registro la marca de mi pyme?",
        answer="Se solicita en INAPI, en línea.",
        tags=["marcas"],
    )
    assert (entry.source_consultation_id, entry.area, entry.published) == (
        in_progress.id,
        "legal",
        False,
    )
    with pytest.raises(NotAllowed):
        services.publish_to_faq(
            in_progress.id,
            in_progress.user,
            question="¿Pregunta?",
            answer="Respuesta larga",
            published=False,
        )


def test_export_and_anonymize(in_progress):
    owner = in_progress.user
    chat.post_message(in_progress.id, owner, "Mi RUT es 1-9", "p-1")
    data = services.export_user_data(owner.id)
    assert data["consultas"][0]["mensajes"][0]["texto"] == "Mi RUT es 1-9"
    services.anonymize_user(owner.id)
    db.session.expire_all()
    assert "1-9" not in str(services.export_user_data(owner.id))


def test_cancelling_the_enrolment_withdraws_the_consulta(in_progress, legal_advisor, app):
    from sv_platform.advisory.models import ConsultationEvent
    from sv_platform.enrollment import services as enrollment

    owner = in_progress.user
    enrollment.cancel(in_progress.enrollment_id, actor=owner)
    db.session.expire_all()
    assert in_progress.status == "cerrada"
    event = db.session.scalars(
        select(ConsultationEvent)
        .where(ConsultationEvent.consultation_id == in_progress.id)
        .order_by(ConsultationEvent.id.desc())
    ).first()
    assert (event.action, event.actor_id, event.to_status) == ("withdraw", None, "cerrada")
    with pytest.raises(DomainError):
        lifecycle.resolve(in_progress.id, legal_advisor)


def test_cancelling_a_waitlisted_consulta_withdraws_it(make_window, make_user, app):
    from sv_platform.enrollment import services as enrollment

    make_window(area="legal", capacity=0)
    person = make_user()
    consultation = lifecycle.open_consultation(
        person, area="legal", subject="Mi marca", description="¿Cómo registro mi marca?"
    )
    assert consultation.status == "en_espera"
    enrollment.cancel(consultation.enrollment_id, actor=person)
    db.session.expire_all()
    assert consultation.status == "cerrada"
