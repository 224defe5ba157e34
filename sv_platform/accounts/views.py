"""Registration, login/logout, profile, company, password, personal data, staff admin."""

import json

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from sv_platform.accounts import bp, limits, services
from sv_platform.accounts.forms import (
    CompanyForm,
    DeleteAccountForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegistrationForm,
    StaffForm,
)
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.paging import parse_cursor
from sv_platform.core.rut import format_rut
from sv_platform.core.security import public, role_required
from sv_platform.core.views import STAFF_HOMES
from sv_platform.core.web import acting_user, attempt, safe_next
from sv_platform.extensions import login_manager, own_pace, reads_without_lock


@login_manager.user_loader
def load_user(session_id: str):
    return services.load_session_user(session_id)


def home_for(user) -> str:
    """Where a person lands after logging in: the same place "/" takes them."""
    return url_for(STAFF_HOMES.get(user.role, "core.home"))


def _registration_fields(form: RegistrationForm) -> dict:
    return {
        "rut": form.rut.data,
        "name": form.name.data,
        "email": form.email.data,
        "phone": form.phone.data,
        "password": form.password.data,
        "region_code": form.region_code.data,
        "comuna_code": form.comuna_code.data,
        "sex": form.sex.data,
        "birth_date": form.birth_date.data,
        "education_level": form.education_level.data,
        "consent": form.consent.data,
        "channels": form.channels.data,
    }


def _show_problems(form, problems) -> None:
    """Each service problem next to its field, unless the form already marks that field."""
    for problem in problems:
        if problem.field in form and not form[problem.field].errors:
            form[problem.field].errors = [*form[problem.field].errors, problem.message]


@bp.route("/registro", methods=["GET", "POST"])
@public
@own_pace
@reads_without_lock
def register():
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    if request.method == "POST" and not limits.registration_allowed(request.remote_addr):
        abort(429)  # counted before the form is read: no password is hashed
    form = RegistrationForm()
    if form.is_submitted():
        form.validate()
        fields = _registration_fields(form)
        _show_problems(form, services.registration_problems(**fields))  # every one at once
        if not form.errors:
            outcome = attempt(services.register_entrepreneur, **fields, form=form)
            if outcome.ok:
                user = outcome.value
                session.clear()
                login_user(user)
                flash(f"¡Bienvenida/o, {user.first_name}! Tu cuenta fue creada.", "success")
                return redirect(url_for("core.home"))
    return render_template("accounts/register.html", form=form), 422 if form.errors else 200


@bp.route("/ingresar", methods=["GET", "POST"])
@public
@own_pace
@reads_without_lock
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        account_key = limits.begin_login(form.identifier.data, request.remote_addr)
        if account_key is None:
            abort(429)  # counted before the password is checked: nothing is evaluated
        outcome = attempt(services.authenticate, form.identifier.data, form.password.data)
        if outcome.ok:
            limits.login_succeeded(account_key, request.remote_addr)
            user = outcome.value
            next_url = safe_next(request.args.get("next"))
            session.clear()  # a fresh session at every login
            login_user(user, remember=form.remember.data)
            flash(f"Hola, {user.first_name}.", "success")
            return redirect(next_url or home_for(user))
    return render_template("accounts/login.html", form=form), 401 if form.errors or (
        request.method == "POST"
    ) else 200


@bp.route("/salir", methods=["GET", "POST"])
@public
def logout():
    form = ConfirmForm()
    if request.method == "POST" and form.validate_on_submit():
        if current_user.is_authenticated:
            services.end_sessions(acting_user())
        logout_user()
        session.clear()
        flash("Cerraste tu sesión.", "info")
        response = redirect(url_for("core.home"))
        # Pages kept for revalidation (core.conditional) leave this browser with the session.
        response.headers["Clear-Site-Data"] = '"cache"'
        return response
    if not current_user.is_authenticated:
        return redirect(url_for("core.home"))
    return render_template("accounts/logout.html", form=form)


# Company form field → Company attribute / service field name.
COMPANY_FIELDS = {
    "company_rut": "rut",
    "legal_name": "legal_name",
    "sector": "sector",
    "company_region": "region_code",
    "company_comuna": "comuna_code",
    "started_on": "started_on",
    "size": "size",
}


def _profile_forms() -> dict:
    """The three forms of the profile page, filled from the person and their company."""
    user = acting_user()
    company = user.company
    return {
        "form": ProfileForm(prefix="p", obj=user),
        "company_form": CompanyForm(
            prefix="c",
            data={
                field: getattr(company, attr, None) or (None if field == "started_on" else "")
                for field, attr in COMPANY_FIELDS.items()
            }
            | {"company_rut": format_rut(company.rut) if company and company.rut else ""},
        ),
        "password_form": PasswordChangeForm(prefix="w"),
    }


def _profile_page(forms: dict, status: int = 200):
    return render_template("accounts/profile.html", **forms), status


@bp.route("/perfil", methods=["GET", "POST"])
def profile():
    forms = _profile_forms()
    form = forms["form"]
    if request.method == "POST" and form.validate_on_submit():
        outcome = attempt(
            services.update_profile,
            acting_user(),
            name=form.name.data,
            email=form.email.data,
            phone=form.phone.data,
            region_code=form.region_code.data,
            comuna_code=form.comuna_code.data,
            sex=form.sex.data,
            birth_date=form.birth_date.data,
            education_level=form.education_level.data,
            form=form,
        )
        if outcome.ok:
            flash("Tus datos fueron actualizados.", "success")
            return redirect(url_for("accounts.profile"))
    elif request.method == "POST":
        flash("Revisa los campos marcados.", "danger")
    return _profile_page(forms, 422 if form.errors else 200)


@bp.post("/perfil/empresa")
def company():
    forms = _profile_forms()
    form = forms["company_form"]
    if form.validate_on_submit():
        outcome = attempt(
            services.update_company,
            acting_user(),
            **{attr: getattr(form, field).data for field, attr in COMPANY_FIELDS.items()},
            form=form,
            field_map={attr: field for field, attr in COMPANY_FIELDS.items()},
        )
        if outcome.ok:
            flash("Los datos de tu empresa fueron guardados.", "success")
            return redirect(url_for("accounts.profile"))
    else:
        flash("Revisa los datos de la empresa.", "danger")
    return _profile_page(forms, 422)


@bp.post("/perfil/contrasena")
@own_pace
@reads_without_lock
def change_password():
    forms = _profile_forms()
    form = forms["password_form"]
    user = acting_user()
    if form.validate_on_submit():
        outcome = attempt(
            services.change_password,
            user,
            form.current_password.data,
            form.new_password.data,
            form=form,
        )
        if outcome.ok:
            session.clear()
            login_user(user)  # this session continues; every other one ends
            flash("Tu contraseña fue cambiada. Otras sesiones abiertas se cerraron.", "success")
            return redirect(url_for("accounts.profile"))
    else:
        flash("Revisa los campos de contraseña.", "danger")
    return _profile_page(forms, 422)


def _my_data_page(form=None, status: int = 200):
    user = acting_user()
    return render_template(
        "accounts/my_data.html",
        form=form or DeleteAccountForm(),
        consent_form=ConfirmForm(prefix="consent"),
        consents=services.consent_history(user.id),
    ), status


@bp.get("/mis-datos")
def my_data():
    return _my_data_page()


@bp.post("/mis-datos/consentimiento")
def consent():
    if not ConfirmForm(prefix="consent").validate_on_submit():
        abort(400)
    withdraw = request.form.get("action") == "retirar"
    service = services.withdraw_consent if withdraw else services.give_consent
    if attempt(service, acting_user()).ok:
        flash(
            "Retiraste tu consentimiento." if withdraw else "Tu consentimiento quedó vigente.",
            "info",
        )
    return redirect(url_for("accounts.my_data"))


@bp.get("/mis-datos/descargar")
def download_data():
    data = services.export_user_data(acting_user())
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="mis-datos-servicios-virtuales.json"'
        },
    )


@bp.post("/mis-datos/eliminar")
@own_pace
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        outcome = attempt(
            services.delete_account,
            acting_user(),
            form.password.data,
            form=form,
        )
        if outcome.ok:
            logout_user()
            session.clear()
            flash("Tu cuenta fue eliminada y tus datos personales anonimizados.", "info")
            return redirect(url_for("core.home"))
    return _my_data_page(form, 422)


@bp.get("/notificaciones")
def notifications():
    page = services.notifications_page(
        current_user.id, cursor=parse_cursor(request.args.get("despues"))
    )
    return render_template(
        "accounts/notifications.html", items=page.items, page=page, form=ConfirmForm()
    )


@bp.post("/notificaciones/leidas")
def notifications_read():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.mark_notifications_read(current_user.id)
    return redirect(url_for("accounts.notifications"))


@bp.route("/admin/asesores", methods=["GET", "POST"])
@role_required("admin")
@own_pace
def admin_staff():
    form = StaffForm()
    if form.validate_on_submit():
        outcome = attempt(
            services.create_staff,
            role="advisor",
            rut=form.rut.data,
            email=form.email.data,
            name=form.name.data,
            password=form.password.data,
            specialty=form.specialty.data,
            actor=acting_user(),
            form=form,
        )
        if outcome.ok:
            user = outcome.value
            flash(f"Se creó la cuenta de {user.name}.", "success")
            return redirect(url_for("accounts.admin_staff"))
    return render_template(
        "accounts/admin_staff.html", form=form, staff=services.list_staff(), toggle=ConfirmForm()
    )


@bp.post("/admin/asesores/<int:user_id>/estado")
@role_required("admin")
def admin_staff_toggle(user_id: int):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    outcome = attempt(services.set_active, user_id, active, actor=acting_user())
    if not outcome.ok:
        return redirect(url_for("accounts.admin_staff"))
    user = outcome.value
    flash(f"La cuenta de {user.name} quedó {'activa' if active else 'desactivada'}.", "info")
    return redirect(url_for("accounts.admin_staff"))
