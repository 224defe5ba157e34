"""Consultas (entrepreneur), the consulta page with its no-JS chat, the advisor queue,
attachments, FAQ drafts and the admin page for service levels."""

import uuid

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import format_timedelta
from flask_login import current_user

from sv_platform.accounts.forms import ConfirmForm
from sv_platform.accounts.views import attach_error
from sv_platform.advisory import bp, services
from sv_platform.advisory.events import broadcast_message
from sv_platform.advisory.forms import (
    AssignForm,
    CloseForm,
    ConsultationForm,
    FaqForm,
    MessageForm,
    NoteForm,
    ServiceLevelForm,
)
from sv_platform.advisory.models import AREAS, STAFF_STATUSES, STATUSES
from sv_platform.core.domain import DomainError
from sv_platform.core.security import role_required
from sv_platform.core.text import render_markdown
from sv_platform.core.timeutil import as_utc, utcnow
from sv_platform.enrollment import services as enrollment


def _user():
    return current_user._get_current_object()


def _load(consultation_id: int):
    return services.get_consultation(consultation_id, _user())


def waiting_time(consultation, now) -> str:
    start = consultation.opened_at or consultation.created_at
    return format_timedelta(as_utc(start) - now, granularity="minute", add_direction=True)


@bp.get("/consultas")
def my_consultations():
    if current_user.role != "entrepreneur":
        return redirect(url_for("advisory.advisor_queue"))
    services.auto_close_due()
    items = [(c, services.waitlist_position(c)) for c in services.consultations_of(_user())]
    return render_template("advisory/my_consultations.html", items=items)


def _area_states():
    states = {}
    for area, slug in services.OFFERING_SLUGS.items():
        try:
            offering = enrollment.get_offering(slug)
        except DomainError:
            continue
        states[area] = enrollment.offering_state(_user(), offering)
    return states


@bp.route("/consultas/nueva", methods=["GET", "POST"])
@role_required("entrepreneur")
def new_consultation():
    form = ConsultationForm()
    if request.method == "GET" and request.args.get("area") in AREAS:
        form.area.data = request.args["area"]
    suggestions = None
    if request.method == "POST" and form.suggest.data:
        suggestions = services.faq_suggestions(form.subject.data, form.area.data)
    elif form.validate_on_submit():
        files = [
            (f.filename, f.stream)
            for f in request.files.getlist(form.attachments.name)
            if f and f.filename
        ]
        try:
            consultation = services.open_consultation(
                _user(),
                area=form.area.data,
                subject=form.subject.data,
                description=form.description.data,
                files=files,
            )
        except DomainError as error:
            attach_error(form, error)
        else:
            if consultation.status == "en_espera":
                flash(
                    "Los cupos de esta área están agotados por ahora: tu consulta quedó en "
                    f"lista de espera (posición {services.waitlist_position(consultation)}). "
                    "Te avisaremos en «Avisos» cuando se abra.",
                    "warning",
                )
            else:
                flash(
                    "Recibimos tu consulta. Una persona asesora del área la tomará pronto.",
                    "success",
                )
            return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    elif request.method == "POST":
        flash("Revisa los campos marcados.", "danger")
    status = 422 if request.method == "POST" and form.errors else 200
    return render_template(
        "advisory/new.html", form=form, suggestions=suggestions, states=_area_states(), areas=AREAS
    ), status


def _page(consultation, *, message_form=None, note_form=None, close_form=None, status=200):
    user = _user()
    now = utcnow()
    messages = services.messages_after(consultation.id, user)
    assign_form = None
    if user.role == "admin":
        assign_form = AssignForm()
        assign_form.advisor_id.choices = {
            a.id: a.name for a in services.advisors_for(consultation.area)
        }
        assign_form.advisor_id.data = consultation.advisor_id
    if message_form is None:
        message_form = MessageForm(formdata=None)
        message_form.client_msg_id.data = uuid.uuid4().hex
    return render_template(
        "advisory/consultation.html",
        c=consultation,
        messages=messages,
        payloads=[services.message_payload(m) for m in messages],
        attachments=services.attachments_for(consultation),
        notes=services.notes_for(consultation, user),
        events=services.events_for(consultation),
        message_form=message_form,
        note_form=note_form or NoteForm(formdata=None),
        close_form=close_form or CloseForm(formdata=None),
        assign_form=assign_form,
        action_form=ConfirmForm(),
        sla=services.sla_state(consultation, now=now),
        expected=services.expected_answer(consultation),
        position=services.waitlist_position(consultation),
        other_read=services.other_side_read(consultation, user),
        can_post=services.can_post(consultation, user),
        is_staff=services.is_staff(user),
        waiting=waiting_time(consultation, now),
        description_html=render_markdown(consultation.description, images=False),
        status_labels=STAFF_STATUSES if services.is_staff(user) else STATUSES,
    ), status


@bp.route("/consultas/<int:consultation_id>", methods=["GET", "POST"])
def consultation(consultation_id: int):
    consultation = _load(consultation_id)
    if request.method == "GET":
        services.auto_close_due()
        messages = services.messages_after(consultation.id, _user())
        if messages:
            services.mark_read(consultation.id, _user(), messages[-1].id)
        return _page(consultation)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            posted = services.post_message(
                consultation.id,
                _user(),
                form.body.data,
                form.client_msg_id.data or uuid.uuid4().hex,
            )
        except DomainError as error:
            attach_error(form, error)
            return _page(consultation, message_form=form, status=error.status)
        if posted.created:
            broadcast_message(services.message_payload(posted.message))
        return redirect(
            url_for(
                "advisory.consultation",
                consultation_id=consultation.id,
                _anchor=f"m{posted.message.id}",
            )
        )
    flash("Escribe un mensaje antes de enviarlo.", "danger")
    return _page(consultation, message_form=form, status=422)


ACTIONS = {
    "take": (services.take, "Tomaste la consulta. Ya puedes responder."),
    "ask": (services.ask, "La consulta quedó esperando la respuesta del emprendedor/a."),
    "resolve": (services.resolve, "Marcaste la consulta como resuelta."),
    "reopen": (services.reopen, "Reabriste la consulta. Tu asesor/a verá tus mensajes."),
}


@bp.post("/consultas/<int:consultation_id>/acciones/<action>")
def consultation_action(consultation_id: int, action: str):
    if action not in ACTIONS or not ConfirmForm().validate_on_submit():
        abort(400)
    _load(consultation_id)
    function, done = ACTIONS[action]
    try:
        function(consultation_id, _user())
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "danger")
    else:
        flash(done, "success")
    return redirect(url_for("advisory.consultation", consultation_id=consultation_id))


@bp.post("/consultas/<int:consultation_id>/cerrar")
def close_consultation(consultation_id: int):
    consultation = _load(consultation_id)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.close(
                consultation.id, _user(), rating=form.rating.data, comment=form.comment.data
            )
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_error(form, error)
        else:
            flash("¡Gracias por tu evaluación! La consulta quedó cerrada.", "success")
            return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    else:
        flash("Elige una calificación de 1 a 5 para cerrar la consulta.", "danger")
    return _page(consultation, close_form=form, status=422)


@bp.post("/consultas/<int:consultation_id>/notas")
@role_required("advisor", "admin")
def add_note(consultation_id: int):
    consultation = _load(consultation_id)
    form = NoteForm()
    if form.validate_on_submit():
        try:
            services.add_note(consultation.id, _user(), form.body.data)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_error(form, error)
        else:
            flash("Nota interna guardada.", "success")
            return redirect(
                url_for("advisory.consultation", consultation_id=consultation.id, _anchor="notas")
            )
    return _page(consultation, note_form=form, status=422)


@bp.post("/consultas/<int:consultation_id>/asignar")
@role_required("admin")
def assign(consultation_id: int):
    _load(consultation_id)
    form = AssignForm()
    form.advisor_id.choices = {}
    if not form.validate_on_submit():
        abort(400)
    try:
        consultation = services.assign(consultation_id, form.advisor_id.data, actor=_user())
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "danger")
    else:
        flash(f"Consulta asignada a {consultation.advisor.name}.", "success")
    return redirect(url_for("advisory.consultation", consultation_id=consultation_id))


@bp.get("/consultas/<int:consultation_id>/adjuntos/<int:attachment_id>")
def attachment(consultation_id: int, attachment_id: int):
    item, path = services.get_attachment(consultation_id, attachment_id, _user())
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=True,
        download_name=item.original_name,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/consultas/<int:consultation_id>/pregunta-frecuente", methods=["GET", "POST"])
@role_required("advisor", "admin")
def faq_draft(consultation_id: int):
    consultation = _load(consultation_id)
    try:
        draft = services.faq_draft(consultation.id, _user())
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "danger")
        return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    form = FaqForm(data={"question": draft["question"], "answer": draft["answer"]})
    if form.validate_on_submit():
        tags = [t.strip() for t in (form.tags.data or "").split(",") if t.strip()]
        try:
            entry = services.publish_to_faq(
                consultation.id,
                _user(),
                question=form.question.data,
                answer=form.answer.data,
                tags=tags,
                published=form.published.data,
            )
        except DomainError as error:
            attach_error(form, error)
        else:
            state = "publicada" if entry.published else "guardada como borrador"
            flash(f"La pregunta frecuente quedó {state}.", "success")
            return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    return render_template("advisory/faq_draft.html", c=consultation, form=form)


@bp.get("/asesor/consultas")
@role_required("advisor", "admin")
def advisor_queue():
    user = _user()
    services.auto_close_due()
    status = request.args.get("estado") or "abiertas"
    area = request.args.get("area") if user.role == "admin" else user.specialty
    if status not in services.QUEUE_FILTERS:
        status = "abiertas"
    now = utcnow()
    items = [
        (c, services.sla_state(c, now=now), waiting_time(c, now))
        for c in services.advisor_queue(user, status=status, area=area)
    ]
    return render_template(
        "advisory/queue.html",
        items=items,
        status=status,
        area=area,
        filters=services.QUEUE_FILTERS,
        areas=AREAS,
        take_form=ConfirmForm(),
    )


@bp.route("/admin/niveles-de-servicio", methods=["GET", "POST"])
@role_required("admin")
def admin_service_levels():
    levels = services.service_levels()
    forms = {}
    for area, (first, resolution) in levels.items():
        data = {"first_response_days": first, "resolution_days": resolution}
        posted = request.method == "POST" and request.form.get("area") == area
        forms[area] = ServiceLevelForm(
            prefix=area,
            formdata=None if not posted else request.form,
            data=None if posted else data,
        )
    area = request.form.get("area")
    if request.method == "POST":
        form = forms.get(area)
        if form is None:
            abort(400)
        if form.validate_on_submit():
            try:
                services.set_service_level(
                    area, form.first_response_days.data, form.resolution_days.data, actor=_user()
                )
            except DomainError as error:
                attach_error(form, error)
            else:
                flash(
                    f"Plazos de {AREAS[area].lower()} guardados. Rigen para las consultas "
                    "que se abran desde ahora.",
                    "success",
                )
                return redirect(url_for("advisory.admin_service_levels"))
        else:
            flash("Revisa los plazos marcados.", "danger")
    return render_template(
        "advisory/admin_service_levels.html", forms=forms, areas=AREAS
    ), 422 if request.method == "POST" else 200
