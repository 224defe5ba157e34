"""Admin back office for people: the register, a person's file and its actions; the audit
log in Spanish."""

from flask import abort, flash, redirect, render_template, request, url_for

from sv_platform.accounts import audit, bp, people, services, territory
from sv_platform.accounts.models import SEXES
from sv_platform.advisory import services as advisory
from sv_platform.core.domain import DomainError
from sv_platform.core.forms import ConfirmForm, ReasonForm
from sv_platform.core.paging import parse_cursor
from sv_platform.core.security import role_required
from sv_platform.core.web import acting_user, attempt
from sv_platform.courses import services as courses
from sv_platform.enrollment import services as enrollment
from sv_platform.notifications import recovery
from sv_platform.reports import surveys

# Actions of the mail and password-recovery services, offered only once they exist.


def _filter_error(parse, args):
    """Parsed filters, or the defaults and the Spanish message of what was wrong."""
    try:
        return parse(args), None
    except DomainError as error:
        return parse({}), error.message


@bp.get("/admin/personas")
@role_required("admin")
def admin_people():
    filters, error = _filter_error(people.people_filters, request.args)
    cursor = parse_cursor(request.args.get("despues"))
    page = people.search_people(filters, cursor=cursor)
    return render_template(
        "accounts/admin_people.html",
        page=page,
        filters=filters,
        error=error,
        sexes=SEXES,
        roles=people.ROLE_LABELS,
        regions=territory.regions(),
        comuna_names=territory.comuna_names(),
        args={k: v for k, v in request.args.items() if k != "despues"},
    ), 422 if error else 200


@bp.get("/admin/personas/<int:user_id>")
@role_required("admin")
def admin_person(user_id: int):
    file = people.person_file(user_id, actor=acting_user())
    person = file.person
    return render_template(
        "accounts/admin_person.html",
        file=file,
        person=person,
        enrollments=enrollment.enrollments_for(person.id),
        courses=courses.my_courses(person),
        consultations=advisory.consultations_of(person),
        surveys=surveys.export_user_data(person.id),
        sexes=SEXES,
        roles=people.ROLE_LABELS,
        entries=audit.render_entries(file.audit),
        reason_form=ReasonForm(),
        confirm=ConfirmForm(),
        can_send_reset=person.email is not None and person.is_active,
        can_send_confirmation=person.email is not None and person.email_confirmed_at is None,
    )


def _back(user_id: int):
    return redirect(url_for("accounts.admin_person", user_id=user_id))


@bp.post("/admin/personas/<int:user_id>/estado")
@role_required("admin")
def admin_person_active(user_id: int):
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0], "danger")
        return _back(user_id)
    active = request.form.get("active") == "1"
    outcome = attempt(
        services.set_active, user_id, active, actor=acting_user(), reason=form.reason.data
    )
    if outcome.ok:
        state = "activa" if active else "desactivada"
        flash(f"La cuenta de {outcome.value.name} quedó {state}.", "success")
    return _back(user_id)


@bp.post("/admin/personas/<int:user_id>/restablecer")
@role_required("admin")
def admin_person_reset(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if attempt(recovery.send_reset_link, user_id, acting_user()).ok:
        flash("Enviamos un enlace para crear una nueva contraseña.", "success")
    return _back(user_id)


@bp.post("/admin/personas/<int:user_id>/confirmacion")
@role_required("admin")
def admin_person_confirmation(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if attempt(recovery.send_email_confirmation, user_id, acting_user()).ok:
        flash("Reenviamos el correo para confirmar la dirección.", "success")
    return _back(user_id)


@bp.get("/admin/auditoria")
@role_required("admin")
def admin_audit():
    filters, error = _filter_error(audit.audit_filters, request.args)
    page = audit.audit_page(filters, cursor=parse_cursor(request.args.get("despues")))
    return render_template(
        "accounts/admin_audit.html",
        page=page,
        filters=filters,
        error=error,
        actions=audit.action_choices(),
        target_types=audit.TARGET_TYPES,
        auditors=audit.auditors(),
        args={k: v for k, v in request.args.items() if k != "despues"},
    ), 422 if error else 200
