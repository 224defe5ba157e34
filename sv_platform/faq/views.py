"""Public FAQ (search, entries, votes, suggestions API) and the admin editor."""

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from sv_platform.core.conditional import revalidated
from sv_platform.core.forms import ConfirmForm
from sv_platform.core.paging import parse_cursor
from sv_platform.core.security import public, role_required
from sv_platform.core.text import render_markdown
from sv_platform.core.web import acting_user, attempt
from sv_platform.extensions import limiter
from sv_platform.faq import admin, bp, highlight, services
from sv_platform.faq.forms import EntryForm
from sv_platform.faq.models import AREAS

VOTER_KEY = "faq_voter"


def _area_arg() -> str | None:
    area = request.args.get("area") or None
    return area if area in AREAS else None


def _voter() -> dict:
    if current_user.is_authenticated:
        return {"user_id": current_user.id}
    return {"session_key": session.get(VOTER_KEY)}


def _not_a_search() -> bool:
    return not (request.args.get("q") or "").strip()


@bp.get("/preguntas-frecuentes")
@revalidated
@public
@limiter.limit(
    lambda: current_app.config.get("FAQ_SUGGEST_LIMIT", "60 per minute"),
    exempt_when=_not_a_search,
)
def index():
    query = (request.args.get("q") or "").strip()
    area = _area_arg()
    results = services.search(query, area=area) if query else None
    listing = services.published_entries(area) if not query else []
    return render_template(
        "faq/index.html",
        query=query,
        area=area,
        results=results,
        listing=listing,
        areas=AREAS,
        popular=services.most_viewed(5, area=area),
    )


@bp.get("/preguntas-frecuentes/<int:entry_id>-<slug>")
@revalidated
@public
def entry(entry_id: int, slug: str):
    item = services.get_entry(entry_id)
    query = (request.args.get("q") or "").strip()[:200]
    if slug != item.slug:
        return redirect(
            url_for(
                "faq.entry", entry_id=item.id, slug=item.slug, **({"q": query} if query else {})
            ),
            301,
        )
    services.record_view(item.id)
    answer_html = render_markdown(item.answer)
    if query:
        answer_html = highlight.highlight_html(answer_html, query)
    return render_template(
        "faq/entry.html",
        entry=item,
        query=query,
        answer_html=answer_html,
        question_html=highlight.highlight(item.question, highlight.search_groups(query)),
        vote_form=ConfirmForm(),
        current_vote=services.current_vote(item.id, **_voter()),
        related=services.related(item),
    )


@bp.post("/preguntas-frecuentes/<int:entry_id>/voto")
@public
def vote(entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    choice = request.form.get("helpful")
    if choice not in ("si", "no"):
        abort(400)
    if not current_user.is_authenticated and not session.get(VOTER_KEY):
        session[VOTER_KEY] = services.new_session_key()
    outcome = attempt(
        services.vote, entry_id, choice == "si", address=request.remote_addr, **_voter()
    )
    if outcome.ok:
        flash("¡Gracias! Tu respuesta nos ayuda a mejorar estas preguntas.", "success")
    item = services.get_entry(entry_id)
    return redirect(url_for("faq.entry", entry_id=item.id, slug=item.slug) + "#te-sirvio")


@bp.get("/api/faq/sugerencias")
@public
@limiter.limit(lambda: current_app.config.get("FAQ_SUGGEST_LIMIT", "60 per minute"))
def suggestions():
    query = request.args.get("q") or ""
    return jsonify({"results": services.suggest(query, area=_area_arg())})


# --- approval of entries drafted from consultas ---------------------------------------


@bp.get("/asesor/preguntas-frecuentes")
@role_required("advisor", "admin")
def pending():
    items = [(e, render_markdown(e.answer)) for e in services.pending_approval(acting_user())]
    return render_template("faq/pending.html", items=items, form=ConfirmForm())


@bp.post("/asesor/preguntas-frecuentes/<int:entry_id>/aprobar")
@role_required("advisor", "admin")
def approve(entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    outcome = attempt(services.approve_entry, entry_id, acting_user())
    if outcome.ok:
        flash(f"«{outcome.value.question}» quedó publicada.", "success")
    return redirect(url_for("faq.pending"))


# --- admin -----------------------------------------------------------------------------


@bp.get("/admin/preguntas-frecuentes")
@role_required("admin")
def admin_list():
    area = _area_arg()
    q = (request.args.get("q") or "").strip()[:200]
    state = request.args.get("estado") if request.args.get("estado") in admin.STATES else None
    page = admin.admin_page(
        area=area, q=q, state=state, cursor=parse_cursor(request.args.get("despues"))
    )
    return render_template(
        "faq/admin_list.html",
        page=page,
        q=q,
        state=state,
        states=admin.STATES,
        args={k: v for k, v in request.args.items() if k != "despues"},
        area=area,
        areas=AREAS,
        counts=services.counts(),
        form=ConfirmForm(),
    )


def _editor(form: EntryForm, item=None):
    """Preview or save the editor form; returns a response or None to re-render."""
    if form.preview.data:
        return None
    if not form.validate_on_submit():
        if request.method == "POST":
            flash("Revisa los campos marcados.", "danger")
        return None
    values = dict(
        question=form.question.data,
        answer=form.answer.data,
        area=form.area.data,
        tags=form.tag_list(),
        published=form.published.data,
        actor=acting_user(),
    )
    if item is None:
        outcome = attempt(services.create_entry, **values, form=form)
        done = "Pregunta creada."
    else:
        outcome = attempt(services.update_entry, item.id, **values, form=form)
        done = "Cambios guardados."
    if not outcome.ok:
        return None
    flash(done, "success")
    return redirect(url_for("faq.admin_edit", entry_id=outcome.value.id))


def _render_editor(form: EntryForm, item=None):
    preview = render_markdown(form.answer.data) if form.preview.data else None
    status = 422 if form.errors else 200
    return render_template(
        "faq/admin_edit.html", form=form, entry=item, preview=preview, confirm=ConfirmForm()
    ), status


@bp.route("/admin/preguntas-frecuentes/nueva", methods=["GET", "POST"])
@role_required("admin")
def admin_new():
    form = EntryForm()
    return _editor(form) or _render_editor(form)


@bp.route("/admin/preguntas-frecuentes/<int:entry_id>", methods=["GET", "POST"])
@role_required("admin")
def admin_edit(entry_id: int):
    item = services.get_entry(entry_id, include_unpublished=True)
    form = EntryForm()
    if request.method == "GET":
        form.question.data, form.answer.data, form.area.data = (
            item.question,
            item.answer,
            item.area,
        )
        form.tags.data = ", ".join(item.tags or [])
        form.published.data = item.published
    return _editor(form, item) or _render_editor(form, item)


@bp.post("/admin/preguntas-frecuentes/<int:entry_id>/publicacion")
@role_required("admin")
def admin_publish(entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    publish = request.form.get("published") == "1"
    services.set_published(entry_id, publish, actor=acting_user())
    flash(
        "Pregunta publicada." if publish else "Pregunta despublicada: ya no es visible.", "success"
    )
    return redirect(url_for("faq.admin_list"))


@bp.post("/admin/preguntas-frecuentes/<int:entry_id>/eliminar")
@role_required("admin")
def admin_delete(entry_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_entry(entry_id, actor=acting_user())
    flash("Pregunta eliminada.", "success")
    return redirect(url_for("faq.admin_list"))
