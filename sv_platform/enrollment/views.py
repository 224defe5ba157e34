"""Enrolling, "Mis inscripciones" and the admin pages for offerings and windows."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from sv_platform.core.domain import DomainError
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.paging import parse_cursor
from sv_platform.core.security import role_required
from sv_platform.core.timeutil import CHILE, utcnow
from sv_platform.core.web import acting_user, attempt, safe_next
from sv_platform.enrollment import bp, roster, services
from sv_platform.enrollment.forms import WindowForm
from sv_platform.extensions import reads_without_lock


def offering_url(offering) -> str:
    if offering.kind == "course":
        return url_for("courses.course", slug=offering.reference)
    return url_for("advisory.new_consultation", area=offering.reference)


@bp.post("/inscripciones/<slug>")
@reads_without_lock
def enroll(slug: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    offering = services.get_offering(slug)
    back = safe_next(request.form.get("next")) or offering_url(offering)
    outcome = attempt(services.enroll, acting_user(), offering)
    if not outcome.ok:
        if isinstance(outcome.error, services.ProfileIncomplete):
            return redirect(url_for("accounts.profile"))
        return redirect(back)
    enrollment = outcome.value
    if enrollment.status == "active":
        flash(f"¡Listo! Quedaste inscrito/a en «{offering.title}».", "success")
    else:
        position = enrollment.arrival_position
        flash(
            f"Los cupos están agotados: quedaste en lista de espera (posición {position}). "
            "Te avisaremos aquí cuando se libere un cupo.",
            "warning",
        )
    return redirect(back)


@bp.get("/mis-inscripciones")
def my_enrollments():
    positions = services.waitlist_positions(current_user.id)
    items = [(e, positions.get(e.id)) for e in services.enrollments_for(current_user.id)]
    return render_template("enrollment/my_enrollments.html", items=items)


@bp.get("/inscripciones/<int:enrollment_id>/cancelar")
def confirm_cancel(enrollment_id: int):
    outcome = attempt(services.cancel_preview, enrollment_id, actor=acting_user())
    if not outcome.ok:  # already cancelled or finished: said on "Mis inscripciones"
        return redirect(url_for("enrollment.my_enrollments"))
    return render_template(
        "enrollment/confirm_cancel.html", preview=outcome.value, form=ConfirmForm()
    )


@bp.post("/inscripciones/<int:enrollment_id>/cancelar")
def cancel(enrollment_id: int):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    outcome = attempt(services.cancel, enrollment_id, actor=acting_user())
    if outcome.ok:
        enrollment = outcome.value
        flash(f"Cancelaste la inscripción en «{enrollment.offering.title}».", "info")
    if current_user.role == "admin":
        return redirect(
            safe_next(request.form.get("next")) or url_for("enrollment.admin_offerings")
        )
    return redirect(url_for("enrollment.my_enrollments"))


@bp.get("/admin/servicios")
@role_required("admin")
def admin_offerings():
    offerings = services.list_offerings()
    windows = services.list_windows()
    counts = services.window_counts([w.id for w in windows])
    by_offering = {}
    for window in windows:
        by_offering.setdefault(window.offering_id, []).append(window)
    return render_template(
        "enrollment/admin_offerings.html",
        offerings=offerings,
        by_offering=by_offering,
        counts=counts,
        now=utcnow(),
    )


@bp.route("/admin/servicios/<slug>/ventanas/nueva", methods=["GET", "POST"])
@role_required("admin")
def admin_new_window(slug: str):
    offering = services.get_offering(slug)
    today = utcnow().astimezone(CHILE).date()
    form = WindowForm(
        data={
            "name": f"{offering.title} {today.year}",
            "opens_on": today,
            "closes_on": today.replace(month=12, day=31),
        }
    )
    if form.validate_on_submit():
        outcome = attempt(
            services.create_window,
            offering_slug=slug,
            capacity=form.capacity.data,
            region_code=form.region_code.data,
            opens_on=form.opens_on.data,
            closes_on=form.closes_on.data,
            name=form.name.data,
            actor=acting_user(),
            form=form,
        )
        if outcome.ok:
            flash("La ventana fue creada.", "success")
            return redirect(url_for("enrollment.admin_offerings"))
    return render_template(
        "enrollment/admin_window.html", form=form, offering=offering, window=None
    )


@bp.route("/admin/ventanas/<int:window_id>", methods=["GET", "POST"])
@role_required("admin")
def admin_window(window_id: int):
    window = services.get_window(window_id)
    form = WindowForm(
        data=None
        if request.method == "POST"
        else {
            "name": window.name,
            "capacity": window.capacity,
            "region_code": window.region_code or "",
            "opens_on": window.opens_at.astimezone(CHILE).date(),
            "closes_on": window.closes_at.astimezone(CHILE).date(),
        }
    )
    if form.validate_on_submit():
        outcome = attempt(
            services.update_window,
            window_id,
            name=form.name.data,
            capacity=form.capacity.data,
            region_code=form.region_code.data,
            opens_on=form.opens_on.data,
            closes_on=form.closes_on.data,
            actor=acting_user(),
            form=form,
        )
        if outcome.ok:
            flash("La ventana fue actualizada.", "success")
            return redirect(url_for("enrollment.admin_window", window_id=window_id))
    counts = services.window_counts([window.id])[window.id]
    filters, error = roster_filters_or_error(request.args)
    return render_template(
        "enrollment/admin_window.html",
        form=form,
        offering=window.offering,
        window=window,
        counts=counts,
        roster=roster.roster_page(
            window.id, filters, cursor=parse_cursor(request.args.get("despues"))
        ),
        filters=filters,
        filter_error=error,
        statuses=roster.STATUS_LABELS,
        waitlist=roster.waitlist(window.id),
        args={k: v for k, v in request.args.items() if k != "despues"},
        cancel_form=ConfirmForm(),
    )


def roster_filters_or_error(args):
    """The roster's filters, or none and the Spanish message of what was wrong."""
    try:
        return roster.roster_filters(args), None
    except DomainError as error:
        return roster.RosterFilters(), error.message


@bp.get("/admin/ventanas/<int:window_id>/inscripciones.<fmt>")
@role_required("admin")
def admin_window_export(window_id: int, fmt: str):
    filters, error = roster_filters_or_error(request.args)
    if error:
        flash(error, "danger")
        return redirect(url_for("enrollment.admin_window", window_id=window_id))
    download = roster.export_roster(window_id, filters, fmt, actor=acting_user())
    return Response(
        download.body,
        mimetype=download.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


WAITLIST_ACTIONS = {
    "promover": (services.promote_waitlisted, "{name} recibió un cupo."),
    "quitar": (services.remove_waitlisted, "{name} salió de la lista de espera."),
}


@bp.post("/admin/inscripciones/<int:enrollment_id>/<action>")
@role_required("admin")
def admin_waitlist_action(enrollment_id: int, action: str):
    if action not in WAITLIST_ACTIONS or not ConfirmForm().validate_on_submit():
        abort(404 if action not in WAITLIST_ACTIONS else 400)
    enrollment = services.get_enrollment(enrollment_id)
    function, done = WAITLIST_ACTIONS[action]
    outcome = attempt(
        function, enrollment_id, actor=acting_user(), reason=request.form.get("reason")
    )
    if outcome.ok:
        flash(done.format(name=enrollment.user.name), "success")
    return redirect(
        url_for("enrollment.admin_window", window_id=enrollment.window_id, _anchor="espera")
    )
