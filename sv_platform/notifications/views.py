"""Password recovery, email confirmation, unsubscribe, mail preferences and the admin outbox."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from sv_platform.core.domain import DomainError
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.rut import normalize_rut
from sv_platform.core.security import public, role_required
from sv_platform.core.web import acting_user, attempt
from sv_platform.extensions import csrf, limiter, own_pace, reads_without_lock
from sv_platform.notifications import bp, recovery, services
from sv_platform.notifications.forms import DigestForm, ForgotPasswordForm, ResetPasswordForm


def _reset_account_key() -> str:
    """Rate-limit key per account: the normalized identifier, whether or not it exists."""
    raw = (request.form.get("identifier") or "").strip().lower()
    if "@" not in raw:
        try:
            raw = normalize_rut(raw)
        except DomainError:
            pass
    return f"reset-account:{raw}"


@bp.route("/recuperar-contrasena", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_LIMIT_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["PASSWORD_RESET_LIMIT_PER_ACCOUNT"],
    methods=["POST"],
    key_func=_reset_account_key,
)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        flash(recovery.request_reset(form.identifier.data), "info")
        return redirect(url_for("notifications.forgot_password"))
    status = 422 if form.errors else 200
    return render_template("notifications/forgot.html", form=form), status


@bp.route("/recuperar-contrasena/<token>", methods=["GET", "POST"])
@public
@own_pace
@reads_without_lock
def reset_password(token: str):
    form = ResetPasswordForm()
    try:
        recovery.check_reset(token)
    except recovery.LinkInvalid as error:
        return render_template("notifications/link_invalid.html", message=error.message), 400
    if form.validate_on_submit():
        if form.new_password.data != form.confirm_password.data:
            form.confirm_password.errors = ["Las contraseñas no coinciden."]
        else:
            outcome = attempt(recovery.reset_password, token, form.new_password.data, form=form)
            if outcome.ok:
                flash(
                    "Tu contraseña fue cambiada y se cerraron todas tus sesiones. "
                    "Ingresa con la nueva.",
                    "success",
                )
                return redirect(url_for("accounts.login"))
            if isinstance(outcome.error, recovery.LinkInvalid):  # used up meanwhile
                return redirect(url_for("notifications.forgot_password"))
    status = 422 if form.errors else 200
    return render_template("notifications/reset.html", form=form, token=token), status


@bp.route("/correo/confirmar/<token>", methods=["GET", "POST"])
@public
def confirm_email(token: str):
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        outcome = attempt(recovery.confirm_email, token)
        if outcome.ok:
            flash("¡Listo! Tu correo quedó confirmado.", "success")
        return redirect(url_for("core.home"))
    return render_template("notifications/confirm.html", form=form)


@bp.post("/correo/confirmar/reenviar")
@limiter.limit("3 per hour", key_func=lambda: f"confirm-resend:{current_user.get_id()}")
def resend_confirmation():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    recovery.resend_confirmation(acting_user())
    flash(f"Te enviamos un nuevo enlace a {current_user.email}.", "info")
    return redirect(request.referrer if _local(request.referrer) else url_for("core.home"))


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


@bp.get("/correos/baja/<token>")
@public
def unsubscribe_page(token: str):
    user, kind = services.read_unsubscribe(token)
    return render_template(
        "notifications/unsubscribe.html",
        kind_label=services.KINDS[kind].label,
        token=token,
        done=False,
    )


@bp.post("/correos/baja/<token>")
@public
@csrf.exempt  # the signed link is the authorization; mail clients post it (RFC 8058)
def unsubscribe(token: str):
    _user, kind = services.unsubscribe(token)
    return render_template(
        "notifications/unsubscribe.html",
        kind_label=services.KINDS[kind].label,
        token=token,
        done=True,
    )


@bp.post("/perfil/correos")
def preferences():
    user = acting_user()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    digest = None
    if services.DIGEST_KIND in services.kinds_for(user):
        digest = request.form.get("digest", 0, type=int)
    outcome = attempt(services.save_preferences, user, set(request.form.getlist("kinds")), digest)
    if outcome.ok:
        flash("Tus preferencias de correo fueron guardadas.", "success")
    return redirect(url_for("accounts.profile") + "#correos")


@bp.get("/admin/correos")
@role_required("admin")
def admin_outbox():
    page = services.outbox_page(
        acting_user(),
        query=request.args.get("q", ""),
        status=request.args.get("estado", ""),
        page=request.args.get("pagina", 1, type=int) or 1,
    )
    return render_template(
        "notifications/admin_outbox.html",
        page=page,
        statuses=services.MAIL_STATUSES,
        form=ConfirmForm(),
        smtp=bool(current_app.config.get("SMTP_HOST")),
        mail_dir=current_app.config["MAIL_DIR"],
    )


@bp.post("/admin/correos/<int:mail_id>/reintentar")
@role_required("admin")
def admin_retry(mail_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = attempt(services.retry, mail_id, actor=acting_user())
    if outcome.ok:
        flash(f"El correo #{mail_id} volvió a la cola de envío.", "success")
    return redirect(url_for("notifications.admin_outbox", estado="failed"))


@bp.post("/admin/cuentas/<int:user_id>/enlace-contrasena")
@role_required("admin")
def admin_send_reset(user_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = attempt(recovery.send_reset_link, user_id, acting_user())
    if outcome.ok:
        flash(f"Enviamos un enlace para crear contraseña a {outcome.value.email}.", "success")
    back = request.referrer if _local(request.referrer) else None
    return redirect(back or url_for("accounts.admin_staff"))


@bp.app_context_processor
def mail_context():
    """What the shared templates need: the confirmation notice and the preferences form."""
    return {"mail_preferences": _preferences_view}


def _preferences_view():
    user = acting_user()
    if user is None:
        return None
    rows = services.preferences_for(user)
    digest = DigestForm(data={"digest": str(services.digest_minutes(user.id))})
    has_digest = services.DIGEST_KIND in services.kinds_for(user)
    return {"rows": rows, "digest": digest if has_digest else None}
