"""Surveys a person answers, the admin dashboard /admin/reportes, exports, annual survey."""

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from sv_platform.accounts import services as accounts
from sv_platform.accounts import territory
from sv_platform.accounts.models import EDUCATION_LEVELS, SEXES
from sv_platform.advisory.models import STATUSES
from sv_platform.core.domain import DomainError
from sv_platform.core.security import role_required
from sv_platform.reports import bp, charts, exports, services, surveys
from sv_platform.reports.forms import AnnualSurveyForm, ChannelsForm, FilterForm, SurveyForm
from sv_platform.reports.models import SERVICES


def _me():
    return current_user._get_current_object()


def _attach(form, error: DomainError) -> None:
    if error.field and error.field in form:
        form[error.field].errors = list(form[error.field].errors) + [error.message]
    flash(error.message, "danger")


def _answers(form: SurveyForm) -> dict:
    return {
        "channels": form.channels.data,
        "sold_last_3_months": form.sold_last_3_months.data,
        "sales_range": form.sales_range.data,
        "satisfaction": form.satisfaction.data,
        "helped_with": form.helped_with.data,
        "comment": form.comment.data,
    }


def _back_to(offer: surveys.ExitOffer) -> str:
    offering = offer.enrollment.offering
    if offering.kind == "course":
        return url_for("courses.certificate", slug=offering.reference)
    return url_for("advisory.my_consultations")


@bp.route("/encuestas/egreso/<int:enrollment_id>", methods=["GET", "POST"])
@role_required("entrepreneur")
def exit_survey(enrollment_id: int):
    offer = surveys.exit_offer(_me(), enrollment_id)
    form = SurveyForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                surveys.answer_exit_survey(_me(), enrollment_id, **_answers(form))
            except DomainError as error:
                _attach(form, error)
                status = error.status if error.status in (409,) else 422
            else:
                flash("¡Gracias! Tu respuesta quedó registrada.", "success")
                return redirect(_back_to(offer))
        else:
            flash("Revisa las preguntas marcadas.", "danger")
            status = 422
        offer = surveys.exit_offer(_me(), enrollment_id)
    return render_template(
        "reports/survey.html",
        form=form,
        answered=offer.answered,
        heading="Encuesta de egreso",
        intro=f"Terminaste «{offer.title}» ({offer.service_label}). Seis preguntas breves "
        "nos ayudan a medir el programa y mejorarlo.",
        action=url_for("reports.exit_survey", enrollment_id=enrollment_id),
        back=_back_to(offer),
    ), status


@bp.route("/encuestas/anual/<int:year>", methods=["GET", "POST"])
@role_required("entrepreneur")
def annual_survey(year: int):
    state = surveys.annual_state(_me(), year)
    form = SurveyForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                surveys.answer_annual_survey(_me(), year, **_answers(form))
            except DomainError as error:
                _attach(form, error)
                status = error.status if error.status in (409,) else 422
            else:
                flash("¡Gracias! Tu respuesta quedó registrada.", "success")
                return redirect(url_for("core.home"))
        else:
            status = 422
        state = surveys.annual_state(_me(), year)
    return render_template(
        "reports/survey.html",
        form=form,
        answered=state.answered,
        heading=state.survey.title,
        intro=f"Participaste del programa en {year}. Cuéntanos cómo está hoy tu negocio.",
        action=url_for("reports.annual_survey", year=year),
        back=url_for("core.home"),
    ), status


@bp.post("/perfil/canales")
@role_required("entrepreneur")
def profile_channels():
    form = ChannelsForm(prefix="canales")
    if not form.validate_on_submit():
        abort(400)
    try:
        row = surveys.update_channels(_me(), form.channels.data)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(
            "Tus canales digitales fueron actualizados."
            if row
            else "Tus canales digitales no cambiaron.",
            "success",
        )
    return redirect(url_for("accounts.profile") + "#canales")


# --- admin ------------------------------------------------------------------------------


def _filters() -> tuple[FilterForm, services.Filters, bool]:
    years = services.available_years()
    form = FilterForm(years, formdata=request.args)
    year = request.args.get("year", type=int) or years[0]
    if year not in years:
        abort(404)
    service = request.args.get("service") or None
    region = request.args.get("region") or None
    sex = request.args.get("sex") or None
    if (
        (service and service not in SERVICES)
        or (region and region not in territory.region_names())
        or (sex and sex not in SEXES)
    ):
        abort(400)
    form.year.data = year
    return form, services.Filters(year, service, region, sex), request.args.get("publish") == "1"


@bp.get("/admin/reportes")
@role_required("admin")
def dashboard():
    form, filters, publish = _filters()
    board = services.dashboard(filters)
    regions = territory.region_names()
    purpose = board.purpose
    return render_template(
        "reports/dashboard.html",
        form=form,
        board=board,
        f=filters,
        publish=publish,
        regions=regions,
        comuna_names=territory.comuna_names(),
        status_names=STATUSES,
        sexes=SEXES,
        education=EDUCATION_LEVELS,
        services_names=SERVICES,
        datasets=exports.DATASETS,
        query=request.args.to_dict(),
        charts={
            "purpose_region": charts.bar_chart(
                [(c.label, c.official_rate) for c in purpose.by_region],
                title="Indicador de propósito por región (tasa oficial)",
                percent=True,
                target=purpose.target,
            ),
            "purpose_sex": charts.bar_chart(
                [(c.label, c.official_rate) for c in purpose.by_sex],
                title="Indicador de propósito por sexo (tasa oficial)",
                percent=True,
                target=purpose.target,
            ),
            "region": charts.bar_chart(
                [(regions.get(code, code), n) for code, n in board.beneficiaries.by_region],
                title="Beneficiarios por región",
            ),
            "service": charts.bar_chart(
                [(SERVICES[code], n) for code, n in board.beneficiaries.by_service],
                title="Beneficiarios por servicio",
            ),
            "waitlist": charts.month_chart(
                board.waitlist.by_month, title="Lista de espera por mes: entradas y promociones"
            ),
        },
    )


@bp.post("/admin/reportes/exportar/<dataset>.<fmt>")
@role_required("admin")
def export(dataset: str, fmt: str):
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        abort(404)
    _form, filters, _publish = _filters()
    full = request.form.get("completo") == "1" and dataset != "indicadores"
    header, rows = exports.BUILDERS[dataset](filters, full)
    accounts.record_audit(
        _me(),
        "report_export",
        "report",
        dataset,
        None,
        {"formato": fmt, "completo": full, **filters.as_dict()},
    )
    name = f"{dataset}-{filters.year}{'-completo' if full else ''}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        return Response(
            stream_with_context(exports.csv_chunks(header, rows)),
            mimetype="text/csv; charset=utf-8",
            headers=disposition,
        )
    return Response(
        exports.xlsx_bytes(exports.DATASETS[dataset], header, rows),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=disposition,
    )


@bp.route("/admin/reportes/encuesta-anual", methods=["GET", "POST"])
@role_required("admin")
def admin_annual():
    years = services.available_years()
    form = AnnualSurveyForm(years)
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            survey = surveys.open_annual_survey(form.year.data, actor=_me())
        except DomainError as error:
            _attach(form, error)
            status = error.status if error.status == 409 else 422
        else:
            invited = survey.invited
            flash(
                f"Se abrió la {survey.title}: "
                + ("1 persona invitada." if invited == 1 else f"{invited} personas invitadas."),
                "success",
            )
            return redirect(url_for("reports.admin_annual"))
    return render_template(
        "reports/admin_annual.html", form=form, campaigns=surveys.annual_campaigns()
    ), status


@bp.app_template_global()
def exit_survey_url(enrollment_id):
    """The exit survey a page may offer to the current person (None when answered)."""
    return surveys.pending_exit_survey(current_user, enrollment_id)


@bp.app_template_global()
def channels_form():
    """The profile's channel question, filled with the person's current answer."""
    form = ChannelsForm(prefix="canales", formdata=None)
    form.channels.data = surveys.current_channels(current_user.id)
    return form


@bp.app_template_global()
def channel_history():
    return surveys.channel_history(current_user.id)


@bp.app_template_filter("percent_cl")
def percent_cl(value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f} %".replace(".", ",")


@bp.app_template_filter("decimal_cl")
def decimal_cl(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", ",")


@bp.app_template_filter("channel_label")
def channel_label(code: str) -> str:
    from sv_platform.reports.models import CHANNELS

    return CHANNELS.get(code, code)
