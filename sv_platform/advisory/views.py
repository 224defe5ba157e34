"""Consultas (entrepreneur), the consulta page with its no-JS chat, the advisor queue,
attachments, FAQ drafts and the admin page for service levels."""

import uuid

from flask import (
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from sv_platform.advisory import (
    attachments,
    availability,
    bp,
    chat,
    lifecycle,
    live,
    services,
    sla,
    workload,
)
from sv_platform.advisory.access import OFFERING_SLUGS, get_consultation
from sv_platform.advisory.events import broadcast_message
from sv_platform.advisory.forms import (
    AssignForm,
    AvailabilityForm,
    CloseForm,
    ConsultationForm,
    FaqForm,
    MessageForm,
    NoteForm,
    ServiceLevelForm,
)
from sv_platform.advisory.models import AREAS, STAFF_STATUSES
from sv_platform.core.domain import DomainError
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.security import role_required
from sv_platform.core.timeutil import utcnow
from sv_platform.core.web import acting_user, attempt, safe_next
from sv_platform.enrollment import services as enrollment


def _load(consultation_id: int):
    return get_consultation(consultation_id, acting_user())


@bp.get("/consultas")
def my_consultations():
    user = acting_user()
    if user.role != "entrepreneur":
        return redirect(url_for("advisory.advisor_queue"))
    items = [(c, services.waitlist_position(c)) for c in services.consultations_of(user)]
    return render_template("advisory/my_consultations.html", items=items)


def _area_states():
    states = {}
    for area, slug in OFFERING_SLUGS.items():
        try:
            offering = enrollment.get_offering(slug)
        except DomainError:
            continue
        states[area] = enrollment.offering_state(acting_user(), offering)
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
        outcome = attempt(
            lifecycle.open_consultation,
            acting_user(),
            area=form.area.data,
            subject=form.subject.data,
            description=form.description.data,
            files=files,
            form=form,
        )
        if outcome.ok:
            consultation = outcome.value
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
        "advisory/new.html",
        form=form,
        suggestions=suggestions,
        states=_area_states(),
        areas=AREAS,
        attending={area: availability.area_summary(area) for area in AREAS},
    ), status


def _note_form(**kwargs) -> NoteForm:
    return NoteForm(prefix="nota", **kwargs)


def _page(consultation, *, message_form=None, note_form=None, close_form=None, status=200):
    page = services.consultation_page(consultation.id, acting_user())
    assign_form = None
    if page.advisors:
        assign_form = AssignForm(formdata=None)
        assign_form.advisor_id.choices = {a.id: a.name for a in page.advisors}
        assign_form.advisor_id.data = consultation.advisor_id
    if message_form is None:
        message_form = MessageForm(formdata=None)
        message_form.client_msg_id.data = uuid.uuid4().hex
    action_form = ConfirmForm()
    close_form = close_form or CloseForm(formdata=None)
    regions = live.regions(page, action_form, close_form)
    return render_template(
        "advisory/consultation.html",
        page=page,
        c=page.consultation,
        message_form=message_form,
        note_form=note_form or _note_form(formdata=None),
        close_form=close_form,
        assign_form=assign_form,
        action_form=action_form,
        regions=regions,
        state_version=live.version(regions, page),
        max_files=attachments.MAX_FILES,
    ), status


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _uploads(form) -> list:
    return [
        (f.filename, f.stream)
        for f in request.files.getlist(form.attachments.name)
        if f and f.filename
    ]


@bp.route("/consultas/<int:consultation_id>", methods=["GET", "POST"])
def consultation(consultation_id: int):
    consultation = _load(consultation_id)
    if request.method == "GET":
        messages = chat.messages_after(consultation.id, acting_user())
        if messages:
            chat.mark_read(consultation.id, acting_user(), messages[-1].id)
        return _page(consultation)
    form = MessageForm()
    if not form.validate_on_submit():  # only the CSRF token can fail here
        if _wants_json():
            return jsonify(ok=False, error="forbidden", message="La página expiró: recárgala."), 400
        flash("La página expiró: vuelve a enviar tu mensaje.", "danger")
        return _page(consultation, message_form=form, status=400)
    args = (
        consultation.id,
        acting_user(),
        form.body.data,
        form.client_msg_id.data or uuid.uuid4().hex,
    )
    wants_json = _wants_json()  # the chat's upload of a message with files (chat.js)
    if wants_json:
        try:
            posted = chat.post_message(*args, files=_uploads(form))
        except DomainError as error:
            return jsonify(ok=False, error=error.code, message=error.message), error.status
    else:
        outcome = attempt(chat.post_message, *args, files=_uploads(form), form=form)
        if not outcome.ok:
            return _page(consultation, message_form=form, status=outcome.error.status)
        posted = outcome.value
    payload = chat.message_payload(posted.message)
    if posted.created:
        broadcast_message(payload)
    if wants_json:
        return jsonify(ok=True, message=payload)
    return redirect(
        url_for(
            "advisory.consultation",
            consultation_id=consultation.id,
            _anchor=f"m{posted.message.id}",
        )
    )


@bp.get("/consultas/<int:consultation_id>/estado")
def consultation_state(consultation_id: int):
    """The consulta's state as its viewer sees it: label, actions and the page's parts."""
    page = services.consultation_state(consultation_id, acting_user())
    regions = live.regions(page)
    response = jsonify(
        consultation_id=page.consultation.id,
        status=page.consultation.status,
        status_label=page.status_labels.get(page.consultation.status),
        actions=[{"name": a.name, "label": a.label} for a in page.actions],
        can_post=page.can_post,
        post_notice=page.post_notice,
        regions={name: str(html) for name, html in regions.items()},
        state_version=live.version(regions, page),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


ACTIONS = {
    "take": (lifecycle.take, "Tomaste la consulta. Ya puedes responder."),
    "ask": (lifecycle.ask, "La consulta quedó esperando la respuesta del emprendedor/a."),
    "resolve": (lifecycle.resolve, "Marcaste la consulta como resuelta."),
    "reopen": (lifecycle.reopen, "Reabriste la consulta. Tu asesor/a verá tus mensajes."),
}


@bp.post("/consultas/<int:consultation_id>/acciones/<action>")
def consultation_action(consultation_id: int, action: str):
    if action not in ACTIONS or not ConfirmForm().validate_on_submit():
        abort(400)
    _load(consultation_id)
    function, done = ACTIONS[action]
    if attempt(function, consultation_id, acting_user()).ok:
        flash(done, "success")
    return redirect(url_for("advisory.consultation", consultation_id=consultation_id))


@bp.post("/consultas/<int:consultation_id>/cerrar")
def close_consultation(consultation_id: int):
    consultation = _load(consultation_id)
    form = CloseForm()
    if form.validate_on_submit():
        outcome = attempt(
            lifecycle.close,
            consultation.id,
            acting_user(),
            rating=form.rating.data,
            comment=form.comment.data,
            form=form,
        )
        if outcome.ok:
            flash("¡Gracias por tu evaluación! La consulta quedó cerrada.", "success")
            return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    else:
        flash("Elige una calificación de 1 a 5 para cerrar la consulta.", "danger")
    return _page(consultation, close_form=form, status=422)


@bp.post("/consultas/<int:consultation_id>/notas")
@role_required("advisor", "admin")
def add_note(consultation_id: int):
    consultation = _load(consultation_id)
    form = _note_form()
    if form.validate_on_submit():
        if attempt(chat.add_note, consultation.id, acting_user(), form.body.data, form=form).ok:
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
    outcome = attempt(lifecycle.assign, consultation_id, form.advisor_id.data, actor=acting_user())
    if outcome.ok:
        flash(f"Consulta asignada a {outcome.value.advisor.name}.", "success")
    back = safe_next(request.form.get("next"))
    return redirect(back or url_for("advisory.consultation", consultation_id=consultation_id))


@bp.get("/admin/asesoria")
@role_required("admin")
def admin_workload():
    return render_template(
        "advisory/admin_workload.html",
        load=workload.workload(acting_user()),
        states=STAFF_STATUSES,
        staff_states=workload.STAFF_STATES,
        advisors={area: services.advisors_for(area) for area in AREAS},
        now=utcnow(),
        sla=sla,
        form=ConfirmForm(),
    )


@bp.get("/consultas/<int:consultation_id>/adjuntos/<int:attachment_id>")
def attachment(consultation_id: int, attachment_id: int):
    item, path = attachments.get_attachment(consultation_id, attachment_id, acting_user())
    response = send_file(
        path,
        mimetype=item.content_type,
        as_attachment=True,
        download_name=attachments.download_name(item.original_name, item.content_type),
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.route("/consultas/<int:consultation_id>/pregunta-frecuente", methods=["GET", "POST"])
@role_required("advisor", "admin")
def faq_draft(consultation_id: int):
    consultation = _load(consultation_id)
    outcome = attempt(services.faq_draft, consultation.id, acting_user())
    if not outcome.ok:
        return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    draft = outcome.value
    form = FaqForm(data={"question": draft["question"], "answer": draft["answer"]})
    if form.validate_on_submit():
        tags = [t.strip() for t in (form.tags.data or "").split(",") if t.strip()]
        outcome = attempt(
            services.publish_to_faq,
            consultation.id,
            acting_user(),
            question=form.question.data,
            answer=form.answer.data,
            tags=tags,
            form=form,
        )
        if outcome.ok:
            flash(
                "La pregunta frecuente quedó pendiente: se publicará cuando otro asesor/a "
                "del área o un administrador/a la apruebe.",
                "success",
            )
            return redirect(url_for("advisory.consultation", consultation_id=consultation.id))
    return render_template("advisory/faq_draft.html", c=consultation, form=form)


@bp.get("/asesor/consultas")
@role_required("advisor", "admin")
def advisor_queue():
    user = acting_user()
    status = request.args.get("estado") or "abiertas"
    area = request.args.get("area") if user.role == "admin" else user.specialty
    if status not in services.QUEUE_FILTERS:
        status = "abiertas"
    now = utcnow()
    q = (request.args.get("q") or "").strip()[:120]
    try:
        number = int(request.args.get("pagina") or 1)
    except ValueError:
        number = 1
    page = services.advisor_queue(user, status=status, area=area, q=q, page=number)
    items = [(c, sla.sla_state(c, now=now), services.waiting_time(c, now)) for c in page.items]
    return render_template(
        "advisory/queue.html",
        items=items,
        page=page,
        q=q,
        args={k: v for k, v in request.args.items() if k != "pagina"},
        status=status,
        area=area,
        filters=services.QUEUE_FILTERS,
        areas=AREAS,
        take_form=ConfirmForm(),
        availability_form=AvailabilityForm(formdata=None),
        available=availability.is_available(user.id) if user.role == "advisor" else None,
    )


@bp.post("/asesor/disponibilidad")
@role_required("advisor")
def set_availability():
    form = AvailabilityForm()
    if not form.validate_on_submit() or form.available.data not in ("1", "0"):
        abort(400)
    if attempt(availability.set_available, acting_user(), form.available.data == "1").ok:
        if form.available.data == "1":
            flash("Quedaste «Disponible»: las personas de tu área lo verán.", "success")
        else:
            flash("Quedaste «No disponible»: se avisará por correo a quien espere.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("advisory.advisor_queue"))


@bp.route("/admin/niveles-de-servicio", methods=["GET", "POST"])
@role_required("admin")
def admin_service_levels():
    levels = sla.service_levels()
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
            outcome = attempt(
                sla.set_service_level,
                area,
                form.first_response_days.data,
                form.resolution_days.data,
                actor=acting_user(),
                form=form,
            )
            if outcome.ok:
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
